"""The assistant's audio on the WebRTC track: ``output_audio_buffer.started/stopped/cleared``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..playback import Playback

if TYPE_CHECKING:
    from .core import SessionEngine


class OutputAudio:
    """Which response is playing, and when its audio has drained or was cleared."""

    def __init__(self, engine: SessionEngine, playback: Playback | None) -> None:
        self._engine = engine
        self.playback = playback
        self.playing_response: str | None = None
        if playback is not None:
            playback.on_drained = self.drained

    @property
    def on_track(self) -> bool:
        """True when speech goes out as media (WebRTC), not as ``response.output_audio.delta``."""
        return self.playback is not None and self._engine.transport == "webrtc"

    def play(self, response_id: str, chunk: np.ndarray) -> None:
        """Queue a response's audio on the track (call only when :attr:`on_track`)."""
        if self.playback is None:
            return
        self.playback.enqueue(chunk)
        if self.playing_response != response_id:
            self.playing_response = response_id
            self._engine.emit("output_audio_buffer.started", response_id=response_id)

    def discard(self, response_id: str) -> None:
        """A cancelled response's unplayed audio was never "generated": drop it."""
        if self.on_track and self.playing_response == response_id and self.playback:
            self.playback.clear()

    def response_done(self, response_id: str) -> None:
        """``response.done`` was sent: if its audio has already played out, say so now."""
        if (
            self.playing_response == response_id
            and self.playback is not None
            and not self.playback.playing
        ):
            self.drained()

    def drained(self) -> None:
        response_id = self.playing_response
        if response_id is None or response_id == self._engine.active_response:
            return  # stopped follows response.done: wait for it
        self.playing_response = None
        self._engine.input.restart_idle()  # the idle timeout counts from the end of playback
        self._engine.emit("output_audio_buffer.stopped", response_id=response_id)

    def clear(self, *, emit: bool) -> None:
        response_id = self.playing_response
        if self.playback is not None:
            self.playback.clear()
        if response_id and emit:
            self.playing_response = None
            self._engine.emit("output_audio_buffer.cleared", response_id=response_id)
