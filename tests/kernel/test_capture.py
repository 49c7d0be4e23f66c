"""Handler and tool output: buffered, and shown in the Output widget only when there is any."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pytest

import rt_notebook as rt
from rt_notebook.kernel.capture import captured_into
from rt_notebook.testing import ScriptedFrontend

from .test_session_api import server


class Shown:
    """A stand-in for the Output widget's context: counts entries, keeps what was written."""

    def __init__(self) -> None:
        self.entered = 0
        self.written: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.entered += 1
        out, err = sys.stdout, sys.stderr
        sys.stdout = _Into(self.written, "stdout")  # type: ignore[assignment]
        sys.stderr = _Into(self.written, "stderr")  # type: ignore[assignment]
        try:
            yield
        finally:
            sys.stdout, sys.stderr = out, err


class _Into:
    def __init__(self, written: list[tuple[str, str]], name: str) -> None:
        self.written, self.name = written, name

    def write(self, text: str) -> int:
        self.written.append((self.name, text))
        return len(text)

    def flush(self) -> None:
        pass


def test_silent_calls_never_enter_the_widget() -> None:
    shown = Shown()
    before = sys.stdout, sys.stderr
    for _ in range(3):
        with captured_into(shown):
            _ = 1 + 1
    assert shown.entered == 0
    assert (sys.stdout, sys.stderr) == before


def test_output_is_replayed_in_order_and_streams_restored() -> None:
    shown = Shown()
    before = sys.stdout, sys.stderr
    with captured_into(shown):
        print("one")
        print("two", file=sys.stderr)
        print("three")
    assert shown.entered == 1
    assert shown.written == [
        ("stdout", "one"),
        ("stdout", "\n"),
        ("stderr", "two"),
        ("stderr", "\n"),
        ("stdout", "three"),
        ("stdout", "\n"),
    ]
    assert (sys.stdout, sys.stderr) == before


def test_output_before_an_exception_is_still_shown() -> None:
    shown = Shown()

    def fails() -> None:
        with captured_into(shown):
            print("before")
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        fails()
    assert ("stdout", "before") in shown.written


def test_a_handlers_print_reaches_the_output_and_silent_ones_send_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    s.on("response.done", lambda e: print("handled", e.type))
    s.on("response.created", lambda e: None)
    frontend.emit(server("response.created", response={"id": "r1", "output": []}))
    frontend.emit(server("response.done", response={"id": "r1", "output": []}))
    assert "handled response.done" in capsys.readouterr().out


def test_off_the_main_thread_the_process_streams_are_left_alone() -> None:
    """ipykernel's subshells run widget messages on another thread while a cell runs on the
    main one: a swapped sys.stdout there caught the cell's output and broke IPython's next
    cell ("'_Stream' object attribute 'write' is read-only")."""
    import threading

    entered: list[str] = []

    @contextlib.contextmanager
    def shown() -> Iterator[None]:  # like the Output widget: routes by message, swaps nothing
        entered.append(threading.current_thread().name)
        yield

    seen: list[object] = []
    started, release = threading.Event(), threading.Event()
    main_stdout = sys.stdout

    def handler() -> None:
        with captured_into(shown):
            started.set()
            release.wait(5)
            print("from the handler")

    worker = threading.Thread(target=handler)
    worker.start()
    started.wait(5)
    seen.append(sys.stdout)  # what the main thread (a cell) sees meanwhile
    release.set()
    worker.join(5)
    assert seen == [main_stdout]
    assert entered == [worker.name]
