"""Cheap capture of what a handler or tool prints or displays, shown only when there is any.

Entering ``with output_widget:`` for every call costs the kernel two widget messages (the
Output widget's ``msg_id`` set and reset) and about a millisecond, whether the call prints
or not. Here the call writes into a buffer; afterwards, only if something came out, it is
replayed into the Output widget in the order it was produced.

Handlers may run on another thread than the user's cell (ipykernel's subshells, where
JupyterLab 4.6 sends widget messages while a cell runs) and async tools across awaits, so the
process-wide ``sys.stdout`` is never swapped per call (that caught a running cell's output and
broke IPython's next cell). Instead, the first capture puts a router in front of
``sys.stdout``, ``sys.stderr`` and the display publisher, once: what the capturing thread or task
(a context variable) writes goes to its buffer, everything else to the stream it replaced.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["captured_into"]

Replay = tuple[str, Any]  # ("stdout" | "stderr", text) or ("display", publish kwargs)

_buffer: contextvars.ContextVar[list[Replay] | None] = contextvars.ContextVar(
    "rt_notebook_capture", default=None
)
_install_lock = threading.Lock()


class _Routed:
    """Stands in for ``sys.stdout``/``sys.stderr``: a capturing context's writes go to its
    buffer, all others (and every other attribute) to the stream it replaced."""

    def __init__(self, kind: str, target: Any) -> None:
        self._kind, self._target = kind, target

    def write(self, text: str) -> int:
        parts = _buffer.get()
        if parts is None:
            return int(self._target.write(text) or 0)
        if text:
            parts.append((self._kind, text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _buffer.get() is None and _has_pending(self._target):
            self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _has_pending(stream: Any) -> bool:
    """Whether ``stream`` may hold unsent output. ipykernel flushes both streams after every
    message it handles, and an ipykernel stream's flush from a thread other than its I/O thread
    waits for that thread twice, written or not: a tenth of a millisecond or more per message
    of a call's events. Its ``_flush_pending`` is set by every write until the flush starts."""
    flags = ("_flush_pending", "_subprocess_flush_pending")
    return any(getattr(stream, flag, True) for flag in flags)


def _display_publisher() -> Any:
    """IPython's display publisher when running in IPython, else ``None``."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "display_pub", None)


def _route_publisher(publisher: Any) -> None:
    """Route ``publisher.publish`` like the streams (once per publisher)."""
    current = publisher.publish
    if getattr(current, "_rt_notebook_routed", False):
        return

    def publish(**kwargs: Any) -> Any:
        parts = _buffer.get()
        if parts is None:
            return current(**kwargs)
        parts.append(("display", kwargs))
        return None

    publish._rt_notebook_routed = True  # type: ignore[attr-defined]
    publisher.publish = publish


def _install() -> None:
    """Put the routers in place (again, if someone replaced them since)."""
    if isinstance(sys.stdout, _Routed) and isinstance(sys.stderr, _Routed):
        return
    with _install_lock:
        if not isinstance(sys.stdout, _Routed):
            sys.stdout = _Routed("stdout", sys.stdout)
        if not isinstance(sys.stderr, _Routed):
            sys.stderr = _Routed("stderr", sys.stderr)
        publisher = _display_publisher()
        if publisher is not None:
            _route_publisher(publisher)


@contextlib.contextmanager
def captured_into(show: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[None]:
    """Run the block with its output buffered; if there was any, replay it inside ``show()``
    (e.g. ``lambda: output_widget``). Output before an exception is shown too. Works on any
    thread and across awaits (each thread and task captures only its own output)."""
    _install()
    parts: list[Replay] = []
    token = _buffer.set(parts)
    try:
        yield
    finally:
        _buffer.reset(token)
        if parts:
            _replay(parts, show)


def _replay(
    parts: list[Replay], show: Callable[[], contextlib.AbstractContextManager[Any]]
) -> None:
    publisher = _display_publisher()
    with show():
        for kind, payload in parts:
            if kind == "display":
                if publisher is not None:
                    publisher.publish(**payload)
            else:
                stream = sys.stdout if kind == "stdout" else sys.stderr
                stream.write(payload)
        sys.stdout.flush()
        sys.stderr.flush()
