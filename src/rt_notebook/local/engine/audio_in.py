"""The caller's audio: a buffer on the session's input timeline, with turn detection over it.

Protocol-neutral: it keeps PCM16 at 24 kHz and reports VAD events; what they mean on the wire
(``input_audio_buffer.*`` for Realtime) is up to the protocol's turn room.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...wire.audio import duration_ms
from ..vad import TurnDetector, VadEvent
from .audio_formats import bytes_for_ms

_KEEP_IDLE_MS = 2_000  # input audio kept before speech starts (prefix padding needs some)


class InputAudio:
    """Uncommitted input audio from ``start_ms`` on, and the turn detector that hears it."""

    def __init__(self, turn_detection: Mapping[str, Any] | None) -> None:
        self.detector = TurnDetector(turn_detection)
        self.start_ms = 0
        """Where the buffered audio starts on the input timeline."""
        self._buffer = bytearray()

    def __bool__(self) -> bool:
        return bool(self._buffer)

    @property
    def position_ms(self) -> int:
        """The end of all audio heard so far."""
        return self.detector.position_ms

    def configure(self, turn_detection: Mapping[str, Any] | None) -> None:
        """New turn-detection settings (``None``: no VAD)."""
        self.detector.update(turn_detection)

    def restart_idle(self) -> None:
        """The idle timeout counts from now."""
        self.detector.restart_idle()

    def feed(self, pcm16: bytes) -> list[VadEvent]:
        """Buffer audio; the turn-detection events it caused."""
        self._buffer += pcm16
        return self.detector.feed(pcm16)

    def take(self, end_ms: int) -> bytes:
        """Cut out the buffered audio up to ``end_ms``; the buffer then starts there."""
        cut = min(len(self._buffer), bytes_for_ms(end_ms - self.start_ms))
        pcm, self._buffer = bytes(self._buffer[:cut]), self._buffer[cut:]
        self.start_ms = end_ms
        return pcm

    def drop_before(self, ms: int) -> None:
        """Forget the audio before ``ms`` (speech, with its padding, starts there)."""
        drop = min(len(self._buffer), bytes_for_ms(max(0, ms - self.start_ms)))
        del self._buffer[:drop]
        self.start_ms = max(self.start_ms, ms)

    def trim_idle(self) -> None:
        """Keep only the last couple of seconds while nobody speaks."""
        excess = len(self._buffer) - bytes_for_ms(_KEEP_IDLE_MS)
        if excess > 0:
            excess -= excess % 2
            del self._buffer[:excess]
            self.start_ms += duration_ms(excess // 2)

    def clear(self) -> None:
        """Drop everything buffered and any turn in progress."""
        self._buffer.clear()
        self.start_ms = self.detector.position_ms
        self.detector.reset()
