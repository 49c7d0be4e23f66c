"""Cheap capture of what a handler or tool prints or displays, shown only when there is any.

Entering ``with output_widget:`` for every call costs the kernel two widget messages (the
Output widget's ``msg_id`` set and reset) and about a millisecond, whether the call prints
or not. Here the call writes into buffers (``sys.stdout``, ``sys.stderr`` and IPython's display
publisher swapped for the duration); afterwards, only if something came out, it is replayed
into the Output widget in the order it was produced.

``sys.stdout`` is process-wide, so it is swapped only on the main thread, which runs no cell
while a handler runs on it. On any other thread (ipykernel's subshells, where JupyterLab 4.6
sends widget messages while a cell runs), a swap would catch the cell's own output and break
IPython's next cell: there the call enters ``show()`` directly, as before.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["captured_into"]

Replay = tuple[str, Any]  # ("stdout" | "stderr", text) or ("display", publish kwargs)


class _Stream:
    """A text stream that records writes (file-like enough for print and tracebacks)."""

    def __init__(self, kind: str, parts: list[Replay]) -> None:
        self.kind, self.parts = kind, parts

    def write(self, text: str) -> int:
        if text:
            self.parts.append((self.kind, text))
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


def _display_publisher() -> Any:
    """IPython's display publisher when running in IPython, else ``None``."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "display_pub", None)


@contextlib.contextmanager
def captured_into(show: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[None]:
    """Run the block with its output buffered; if there was any, replay it inside ``show()``
    (e.g. ``lambda: output_widget``). Output before an exception is shown too."""
    if threading.current_thread() is not threading.main_thread():
        with show():
            yield
        return
    parts: list[Replay] = []
    publisher = _display_publisher()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Stream("stdout", parts), _Stream("stderr", parts)
    own = vars(publisher).get("publish") if publisher is not None else None
    if publisher is not None:

        def publish(**kwargs: Any) -> None:
            parts.append(("display", kwargs))

        publisher.publish = publish
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        if publisher is not None:
            if own is not None:
                publisher.publish = own
            else:
                vars(publisher).pop("publish", None)  # back to the class's method
        if parts:
            _replay(parts, show, publisher)


def _replay(
    parts: list[Replay], show: Callable[[], contextlib.AbstractContextManager[Any]], pub: Any
) -> None:
    with show():
        for kind, payload in parts:
            if kind == "display":
                pub.publish(**payload)
            else:
                stream = sys.stdout if kind == "stdout" else sys.stderr
                stream.write(payload)
        sys.stdout.flush()
        sys.stderr.flush()
