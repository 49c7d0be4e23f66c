"""The assistant's output streamed at a speaking or typing pace, cancellable at every step.

Protocol-neutral: callbacks receive each audio chunk and each word; the protocol decides which
events carry them (Realtime: ``response.output_audio.delta`` and transcript deltas).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import numpy as np

from ...wire.audio import SAMPLE_RATE
from ..speech import Speech

_TEXT_WORDS_PER_SECOND = 12.0
_AUDIO_LEAD_S = 0.25


class Cancellable:
    """An output in progress that the client or a barge-in can cancel, and that can stall."""

    def __init__(self) -> None:
        self.cancel_reason: str | None = None
        self.cancelled = asyncio.Event()
        self.stalled = False
        """A simulated hang: the stream stops halfway and waits to be cancelled."""

    def cancel(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self.cancelled.set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless cancelled first; True when still running."""
        if seconds > 0 and not self.cancelled.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.cancelled.wait(), seconds)
        return not self.cancelled.is_set()

    async def stall_at(self, index: int, count: int) -> bool:
        """When stalled and halfway through: wait until cancelled; True if it did."""
        if self.stalled and index >= max(1, count // 2):
            await self.cancelled.wait()  # the simulated model hangs until cancelled
            return True
        return False


async def stream_speech(
    stream: Cancellable,
    speech: Speech,
    *,
    speed: float,
    on_audio: Callable[[np.ndarray], None],
    on_word: Callable[[str], None],
) -> tuple[str, int]:
    """Send speech word by word in real time, ``speed`` times faster; what was said, samples sent.

    Audio goes out a little ahead of its word, as a real model's does.
    """
    started = time.monotonic()

    def until(offset_s: float) -> float:
        return offset_s / speed - (time.monotonic() - started)

    said: list[str] = []
    sent = 0
    for i, (word, start_s, end_s) in enumerate(speech.words):
        if not await stream.sleep(until(start_s - _AUDIO_LEAD_S)):
            break
        if await stream.stall_at(i, len(speech.words)):
            break
        end = len(speech.samples) if i == len(speech.words) - 1 else round(end_s * SAMPLE_RATE)
        chunk = speech.samples[sent:end]
        if len(chunk):
            on_audio(chunk)
        sent = end
        if not await stream.sleep(until(start_s)):
            break
        said.append(word if not said else " " + word)
        on_word(said[-1])
    return "".join(said), sent


async def stream_text(
    stream: Cancellable, text: str, *, speed: float, on_word: Callable[[str], None]
) -> str:
    """Send text word by word at a typing pace; what was written."""
    words = text.split(" ")
    written: list[str] = []
    for i, word in enumerate(words):
        if not await stream.sleep(1 / _TEXT_WORDS_PER_SECOND / speed):
            break
        if await stream.stall_at(i, len(words)):
            break
        written.append(word if i == 0 else " " + word)
        on_word(written[-1])
    return "".join(written)
