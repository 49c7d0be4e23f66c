"""The assistant's audio waiting to go out on the WebRTC track, read in real time."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np


class Playback:
    """A FIFO of int16 samples at 24 kHz; the outbound track reads fixed-size frames."""

    def __init__(self) -> None:
        self._chunks: deque[np.ndarray] = deque()
        self._offset = 0
        self.queued = 0
        """Samples waiting to be played."""
        self.played = 0
        """Samples read so far, silence included: the output timeline."""
        self.on_drained: Callable[[], None] = lambda: None
        """Called once each time the queue runs empty after holding audio."""

    @property
    def playing(self) -> bool:
        """True while audio is queued."""
        return self.queued > 0

    def enqueue(self, samples: np.ndarray) -> None:
        """Queue int16 samples for playback."""
        if len(samples):
            self._chunks.append(np.asarray(samples, dtype=np.int16))
            self.queued += len(samples)

    def clear(self) -> None:
        """Drop everything not yet played (no drained callback)."""
        self._chunks.clear()
        self._offset = 0
        self.queued = 0

    def read(self, count: int) -> np.ndarray:
        """The next ``count`` samples, padded with silence when the queue runs short."""
        out = np.zeros(count, dtype=np.int16)
        had_audio = self.queued > 0
        filled = 0
        while filled < count and self._chunks:
            chunk = self._chunks[0]
            take = min(count - filled, len(chunk) - self._offset)
            out[filled : filled + take] = chunk[self._offset : self._offset + take]
            filled += take
            self._offset += take
            if self._offset == len(chunk):
                self._chunks.popleft()
                self._offset = 0
        self.queued -= filled
        self.played += count
        if had_audio and self.queued == 0:
            self.on_drained()
        return out
