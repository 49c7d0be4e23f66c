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
    # the streams are the same ones, behind the router put in front of them once
    assert (sys.stdout._target, sys.stderr._target) == before  # type: ignore[union-attr]


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
    assert (sys.stdout._target, sys.stderr._target) == before  # type: ignore[union-attr]


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


def test_a_handler_on_another_thread_captures_only_its_own_output() -> None:
    """ipykernel's subshells run widget messages on another thread while a cell runs on the
    main one: a swapped sys.stdout there caught the cell's output and broke IPython's next
    cell ("'_Stream' object attribute 'write' is read-only"). The router sends each thread's
    writes where they belong, and is put in place once, not per call."""
    import threading

    shown = Shown()
    started, release, cell_wrote = threading.Event(), threading.Event(), threading.Event()
    cell_output: list[tuple[str, str]] = []

    def handler() -> None:
        with captured_into(shown):
            started.set()
            release.wait(5)
            print("from the handler")
            cell_wrote.wait(5)

    worker = threading.Thread(target=handler)
    worker.start()
    assert started.wait(5)
    router = sys.stdout
    target = router._target  # type: ignore[attr-defined]
    router._target = _Into(cell_output, "cell")  # type: ignore[attr-defined]
    try:
        release.set()
        print("from the cell", flush=True)  # the cell, on the main thread, meanwhile
        cell_wrote.set()
        worker.join(5)
    finally:
        router._target = target  # type: ignore[attr-defined]
    assert cell_output == [("cell", "from the cell"), ("cell", "\n")]
    assert shown.written == [("stdout", "from the handler"), ("stdout", "\n")]
    assert shown.entered == 1
    with captured_into(shown):
        pass
    assert sys.stdout is router  # installed once, not swapped per call


async def test_an_async_task_captures_only_its_own_output() -> None:
    import asyncio

    shown = Shown()
    other: list[str] = []

    async def tool() -> None:
        with captured_into(shown):
            await asyncio.sleep(0.01)
            print("from the tool")

    async def bystander() -> None:
        await asyncio.sleep(0.005)
        other.append("bystander ran while the tool awaited")

    await asyncio.gather(tool(), bystander())
    assert shown.written == [("stdout", "from the tool"), ("stdout", "\n")]
    assert other
