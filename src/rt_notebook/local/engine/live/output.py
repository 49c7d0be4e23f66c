"""The Live model's voice: one continuous output stream, speech and fixtures queued on it.

WebRTC plays the queue on the media track (:class:`~rt_notebook.local.rtc.PlaybackTrack`); a
primary WebSocket gets it as ``session.output_audio.delta`` frames of 100 ms, silence included,
as Live sends them. A sideband gets each queued chunk once, as a timed delta.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import numpy as np

from ....wire.audio import SAMPLE_RATE, duration_ms, to_pcm16
from ...playback import Playback
from .audio import b64encode

if TYPE_CHECKING:
    from .core import LiveEngine

FRAME_MS = 100
_FRAME = SAMPLE_RATE * FRAME_MS // 1000
_RESYNC_S = 0.25  # this far behind schedule, carry on from now instead of bursting


class LiveOutput:
    """The output queue, its timeline, and the fixture playing on it (one at most)."""

    def __init__(self, engine: LiveEngine, playback: Playback | None) -> None:
        self._engine = engine
        self.on_track = playback is not None
        """True when the queue plays on a WebRTC track (else the WebSocket frames carry it)."""
        self.playback = playback or Playback()
        self.playback.on_drained = self._drained
        self.fixture = False
        """A fixture is playing: input is dropped and appends are refused meanwhile."""
        self.idle = asyncio.Event()
        """Set while nothing is queued."""
        self.idle.set()
        self._rng = np.random.default_rng()
        self._skew_ms = 0

    @property
    def position_ms(self) -> int:
        """The output timeline: audio (and silence) played since the session started, moved
        up to the input's when a client streams faster than real time."""
        return duration_ms(self.playback.played) + self._skew_ms

    @property
    def speaking(self) -> bool:
        return self.playback.playing

    def start(self) -> None:
        """Begin the WebSocket frames (WebRTC's track runs by itself)."""
        if not self.on_track:
            self._engine.spawn(self._frames())

    def queue(self, samples: np.ndarray) -> tuple[int, int]:
        """Queue speech; the span it will play in on the session timeline, in ms."""
        if not self.playback.playing:  # speech starts now: not before what was heard
            self._skew_ms = max(self._skew_ms, self._engine.input.position_ms - self.position_ms)
        start = self.position_ms + duration_ms(self.playback.queued)
        end = start + duration_ms(len(samples))
        self.playback.enqueue(samples)
        if len(samples):
            self.idle.clear()
            self._engine.emit_sideband(
                "session.output_audio.delta",
                delta=b64encode(to_pcm16(samples)),
                start_ms=start,
                end_ms=end,
            )
        return start, end

    def silence(self) -> None:
        """Stop speaking now (barge-in, a fixture, the close): the queue is dropped."""
        self.playback.clear()
        self.idle.set()
        if self.fixture:
            self.fixture = False  # a cancelled fixture never reports played

    def play_fixture(self, samples: np.ndarray) -> None:
        self.silence()
        self.fixture = True
        self.queue(samples)
        if not len(samples):
            self._drained()

    def _drained(self) -> None:
        self.idle.set()
        if self.fixture:
            self.fixture = False
            self._engine.emit("session.output_audio.fixture.played")
        self._engine.quiet()

    async def _frames(self) -> None:
        """Frames of 100 ms at real-time pace (speech at the session's speed)."""
        engine = self._engine
        due = time.monotonic()
        while True:
            had_audio = self.playback.playing
            frame = self.playback.read(_FRAME)
            if not had_audio:  # Live's idle stream is not exact zeros
                frame = self._rng.integers(-1, 2, _FRAME, dtype=np.int16)
            engine.emit_frame(b64encode(engine.format.encode(frame)))
            due += FRAME_MS / 1000 / (engine.speed if had_audio else 1.0)
            wait = due - time.monotonic()
            if wait < -_RESYNC_S:
                due = time.monotonic()
            await asyncio.sleep(max(0.0, wait))
