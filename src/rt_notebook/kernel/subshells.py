"""Which kernel thread handles the widget's messages, and running a call on the main thread.

JupyterLab (``commsOverSubshells``) sends every widget message with the ``subshell_id`` of a
subshell it opened for the widgets' comm target, and an ipykernel with subshells (7 or later)
runs such a message on that subshell's thread, so it need not wait for a busy cell. But
ipykernel 7.4 hands a comm's incoming messages to the subshell that last *sent* on that comm
(``BaseComm._reply_subshell_for``, fed by ``publish_msg``), so that a reply reaches the loop
that asked: once a cell has sent on the session's comm (``s.send_text``, a trait change), the
browser's events queue behind the running cell. Nothing in Python awaits a reply from the
session's widget, so its comm can honour the subshell the browser chose
(:func:`route_to_frontend_subshell`).
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "frontend_subshell",
    "restore_routing",
    "route_to_frontend_subshell",
    "run_on_main_thread",
]

_ROUTE_PARAMETERS = ["data", "default"]  # ipykernel 7.4's BaseComm._reply_subshell_for


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
