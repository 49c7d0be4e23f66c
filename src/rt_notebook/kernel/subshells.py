"""Which kernel thread handles the widget's messages, the kernel status they show, and running a
call on the main thread.

JupyterLab (``commsOverSubshells``) sends every widget message with the ``subshell_id`` of a
subshell it opened for the widgets' comm target, and an ipykernel with subshells (7 or later)
runs such a message on that subshell's thread, so it need not wait for a busy cell. But
ipykernel 7.4 hands a comm's incoming messages to the subshell that last *sent* on that comm
(``BaseComm._reply_subshell_for``, fed by ``publish_msg``), so that a reply reaches the loop
that asked: once a cell has sent on the session's comm (``s.send_text``, a trait change), the
browser's events queue behind the running cell. Nothing in Python awaits a reply from the
session's widget, so its comm can honour the subshell the browser chose
(:func:`route_to_frontend_subshell`).

ipykernel also publishes the kernel's ``busy`` and ``idle`` status around every message it
handles. A call's events arrive as hundreds of comm messages a minute, and each ``busy`` makes
JupyterLab redraw its kernel status and swap the page's favicon: the largest cost of the page
during a call (about 15 % of its main thread at 200 events/s), and a kernel indicator that
flickers while no cell runs. So a session's messages leave the status idle
(:func:`keep_status_idle`): only ``idle`` follows each one, which is what frontends settle a
message on (and the widget's ack). While a cell runs on the main shell, a subshell's messages
say ``busy`` as before.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "frontend_subshell",
    "keep_status_idle",
    "restore_routing",
    "route_to_frontend_subshell",
    "run_on_main_thread",
]

_ROUTE_PARAMETERS = ["data", "default"]  # ipykernel 7.4's BaseComm._reply_subshell_for
_STATUS_PARAMETERS = ["status", "channel", "parent"]  # ipykernel's Kernel._publish_status


def _kernel() -> Any | None:
    """The running ipykernel, if this process is one (never imports ipykernel itself)."""
    kernelbase = sys.modules.get("ipykernel.kernelbase")
    if kernelbase is None or not kernelbase.Kernel.initialized():
        return None
    return kernelbase.Kernel.instance()


class _FrontendSubshell:
    """A comm's ``_reply_subshell_for`` that honours the subshell the frontend sent on."""

    def __init__(self, original: Callable[[Any, str | None], str | None]) -> None:
        self.original = original

    def __call__(self, data: Any, default: str | None) -> str | None:
        routed = self.original(data, default)  # keeps ipykernel's own bookkeeping of replies
        return routed if default is None else default


def route_to_frontend_subshell(comm: object) -> str | None:
    """Make ``comm`` hand each message the frontend sends on a subshell to that subshell's
    thread, whoever last sent on the comm. Returns why it cannot (``None``: done)."""
    kernel = _kernel()
    if kernel is None:
        return "no IPython kernel runs this session"
    if not getattr(kernel, "_supports_kernel_subshells", False):
        return "this kernel has no subshells (ipykernel 7 or later has them)"
    original = getattr(comm, "_reply_subshell_for", None)
    if original is None or isinstance(original, _FrontendSubshell):
        return None  # an ipykernel that routes by the message's own subshell_id; or done
    try:
        parameters = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        parameters = []
    if parameters != _ROUTE_PARAMETERS:
        return "this ipykernel routes comm messages in a way rt_notebook does not know"
    comm._reply_subshell_for = _FrontendSubshell(original)  # type: ignore[attr-defined]
    return None


def restore_routing(comm: object) -> None:
    """Undo :func:`route_to_frontend_subshell`: ipykernel's own routing again."""
    if isinstance(getattr(comm, "__dict__", {}).get("_reply_subshell_for"), _FrontendSubshell):
        del comm._reply_subshell_for  # type: ignore[attr-defined]


class _IdleForComms:
    """A kernel's ``_publish_status`` that leaves out ``busy`` for the messages of the comms
    in ``comm_ids``, unless a cell runs on the main shell meanwhile."""

    def __init__(self, kernel: Any, original: Callable[..., Any]) -> None:
        self.kernel, self.original = kernel, original
        self.comm_ids: set[str] = set()

    def __call__(self, status: str, channel: str, parent: Any = None) -> Any:
        if status == "busy" and parent is None and self.comm_ids and self._quiet(channel):
            return None
        return self.original(status, channel, parent)

    def _quiet(self, channel: str) -> bool:
        try:
            message = self.kernel.get_parent(channel)
            ours = (
                message["header"]["msg_type"] == "comm_msg"
                and message["content"]["comm_id"] in self.comm_ids
            )
        except Exception:  # not a message as ipykernel makes them: say busy
            return False
        if not ours or threading.current_thread() is threading.main_thread():
            return ours
        main_shell = getattr(self.kernel, "_main_asyncio_lock", None)  # held while a cell runs
        return main_shell is not None and not main_shell.locked()


def keep_status_idle(comm_id: str, keep: bool = True) -> None:
    """While ``keep``, the messages of comm ``comm_id`` publish no ``busy`` status (their
    ``idle`` still follows each one) unless a cell runs meanwhile; ``keep=False`` undoes it.
    Does nothing in a kernel whose status publishing rt_notebook does not know."""
    kernel = _kernel()
    if kernel is None:
        return
    publish = getattr(kernel, "_publish_status", None)
    if not isinstance(publish, _IdleForComms):
        if not keep or publish is None:
            return
        try:
            parameters = list(inspect.signature(publish).parameters)
        except (TypeError, ValueError):
            return
        if parameters != _STATUS_PARAMETERS:
            return
        publish = kernel._publish_status = _IdleForComms(kernel, publish)
    if keep:
        publish.comm_ids.add(comm_id)
    else:
        publish.comm_ids.discard(comm_id)


def frontend_subshell() -> str | None:
    """The ``subshell_id`` the message being handled on this thread was sent with."""
    kernel = _kernel()
    try:
        header = kernel.get_parent()["header"] if kernel is not None else {}
    except Exception:  # no parent message on this thread
        return None
    subshell = header.get("subshell_id") if isinstance(header, dict) else None
    return subshell if isinstance(subshell, str) else None


def run_on_main_thread(call: Callable[[], None]) -> None:
    """Run ``call`` on the kernel's main thread: at once on it, else on the main shell's event
    loop, once the cell running there (if any) ends. Outside a kernel, on this thread."""
    loop = getattr(_kernel(), "io_loop", None)
    if threading.current_thread() is threading.main_thread() or loop is None:
        call()
        return
    loop.add_callback(call)
