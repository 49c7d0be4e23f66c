"""The caller's speech as Live reports it: timed ``session.input_transcript.delta`` frames, and
the model's own turn-taking (it answers after a pause, and stops when interrupted)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ....wire.audio import SAMPLE_RATE
from ...vad import VadEvent
from ..conversation import message_item
from ..defaults import SERVER_VAD
from ..ids import new_id

if TYPE_CHECKING:
    from .core import LiveEngine

TURN_TAKING = SERVER_VAD
"""How the simulated model hears turns (Live has no setting for it: the model owns turns)."""

_DELTA_MS = 200  # Live sends input transcript frames of about 200 ms


class LiveTurns:
    """VAD over the input; each utterance transcribed, reported and answered."""

    def __init__(self, engine: LiveEngine) -> None:
        self._engine = engine
        self._speaking = False

    def feed(self, pcm16: bytes) -> None:
        engine = self._engine
        for vad in engine.input.feed(pcm16):
            self._on_vad(vad)
        if not self._speaking:
            engine.input.trim_idle()

    def _on_vad(self, vad: VadEvent) -> None:
        engine = self._engine
        if vad.kind == "speech_started":
            self._speaking = True
            engine.input.drop_before(vad.audio_start_ms)
            engine.heard_speech()
            engine.replies.interrupt()  # barge-in: the model stops talking by itself
        elif vad.kind == "speech_stopped" and self._speaking:
            self._speaking = False
            start = engine.input.start_ms
            pcm = engine.input.take(vad.audio_end_ms)
            hint = engine.responder.transcript_hint()
            engine.spawn(self._heard(pcm, start, vad.audio_end_ms, hint))

    async def _heard(self, pcm: bytes, start_ms: int, end_ms: int, hint: str | None) -> None:
        engine = self._engine
        transcript = (
            hint
            if hint is not None
            else await asyncio.to_thread(engine.transcriber.transcribe, pcm)
        )
        self._report(transcript, start_ms, end_ms)
        item = message_item(
            new_id("item"), "user", "completed", [{"type": "input_audio", "transcript": transcript}]
        )
        engine.history.append(item)
        engine.record.turns.append(
            {
                "item_id": item["id"],
                "audio_start_ms": start_ms,
                "audio_end_ms": end_ms,
                "seconds": round(len(pcm) / 2 / SAMPLE_RATE, 3),
                "transcript": transcript,
            }
        )
        engine.replies.respond(heard=transcript)

    def _report(self, transcript: str, start_ms: int, end_ms: int) -> None:
        """The transcript in frames of about 200 ms, spread over the utterance."""
        words = transcript.split(" ")
        frames = max(1, min(len(words), (end_ms - start_ms) // _DELTA_MS))
        step = -(-len(words) // frames)
        chunks = [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
        span = (end_ms - start_ms) / len(chunks)
        for i, chunk in enumerate(chunks):
            self._engine.emit(
                "session.input_transcript.delta",
                delta=chunk if i == 0 else " " + chunk,
                start_ms=round(start_ms + i * span),
                end_ms=round(start_ms + (i + 1) * span),
            )
