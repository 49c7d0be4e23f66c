"""Browser tests: one Chromium for the package, pytest-jupyter's loop fixtures kept off
Playwright's loop, and on a failure screenshots, console and server logs saved and printed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import harness

SPOKEN = "Hello there. Please plot x squared for me."
"""What the fake microphone says, over and over (with a pause after it)."""


@pytest.fixture(scope="package")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("e2e")
    harness.ARTIFACTS = base / "failures"
    yield base
    harness.ARTIFACTS = None


@pytest.fixture(scope="package")
def mic_wav(e2e_dir: Path) -> Path:
    return harness.speech_wav(SPOKEN, e2e_dir / "mic.wav")


@pytest.fixture(scope="package")
def loop_seconds(mic_wav: Path) -> float:
    """How often the fake microphone repeats the sentence."""
    return harness.wav_seconds(mic_wav)


@pytest.fixture(scope="package")
def browser(e2e_dir: Path, mic_wav: Path) -> Iterator[harness.Browser]:
    """Debian's headless Chromium; every server gets its own context (cookies) in it."""
    b = harness.Browser(mic_wav, e2e_dir / "chromium-home")
    yield b
    b.close()


@pytest.fixture
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """Replaces pytest-jupyter's autouse loop fixture for these (synchronous) tests.

    Between calls, Playwright's sync API leaves its own loop marked as running on this thread;
    the original fixture would adopt that loop and then fail closing it. A private loop keeps
    both apart.
    """
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def jp_server_cleanup() -> None:
    """No in-process jupyter server here (the tests start real ones): nothing to clean."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed or item.get_closest_marker("browser") is None:
        return
    if harness.ARTIFACTS is None:
        return
    saved = harness.save_diagnostics(harness.ARTIFACTS / f"{item.name}-{report.when}")
    lines = [f"  {path}" for path in saved] or ["  (no server or page was running)"]
    text = "e2e diagnostics saved:\n" + "\n".join(lines)
    report.sections.append(("e2e diagnostics", text))
    print(f"\n{text}")
