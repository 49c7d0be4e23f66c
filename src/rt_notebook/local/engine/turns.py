"""The user's turns (Realtime): VAD events on the wire, commits into items, transcription."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

from ...wire.audio import SAMPLE_RATE, from_pcm16, rms
from ..vad import VadEvent
from .conversation import Item, message_item
from .errors import ClientError
from .ids import new_id

if TYPE_CHECKING:
    from .core import SessionEngine

log = logging.getLogger(__name__)


class UserTurns:
    """``input_audio_buffer.*`` from VAD or the client; each commit, a user item and transcript."""

    def __init__(self, engine: SessionEngine) -> None:
        self._engine = engine
        self._speech_item: str | None = None
        self.transcribing: asyncio.Task[None] | None = None
        """The latest commit's transcription: a response waits for it (the model hears it)."""

    def feed(self, pcm16: bytes) -> None:
        engine = self._engine
        for vad in engine.input.feed(pcm16):
            self._on_vad(vad)
        if self._speech_item is None and engine.turn_detection() is not None:
            engine.input.trim_idle()

    def commit(self) -> None:
        """``input_audio_buffer.commit``: the buffer becomes a user item (no response)."""
        engine = self._engine
        if not engine.input:
            raise ClientError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                "100ms of audio, but buffer only has 0.00ms of audio.",
            )
        item_id = self._speech_item or new_id("item")
        self._commit(item_id, engine.input.position_ms, create_response=False)

    def clear(self) -> None:
        """``input_audio_buffer.clear``."""
        self._engine.input.clear()
        self._speech_item = None
        self._engine.emit("input_audio_buffer.cleared")

    def _on_vad(self, vad: VadEvent) -> None:
        engine = self._engine
        config = engine.turn_detection() or {}
        if vad.kind == "speech_started":
            self._speech_item = new_id("item")
            engine.emit(
                "input_audio_buffer.speech_started",
                item_id=self._speech_item,
                audio_start_ms=vad.audio_start_ms,
            )
            # the buffered audio now starts where the speech (with its padding) starts
            engine.input.drop_before(vad.audio_start_ms)
            if config.get("interrupt_response", True):
                self._barge_in()
        elif vad.kind == "speech_stopped" and self._speech_item:
            item_id, self._speech_item = self._speech_item, None
            engine.emit(
                "input_audio_buffer.speech_stopped", item_id=item_id, audio_end_ms=vad.audio_end_ms
            )
            self._commit(
                item_id, vad.audio_end_ms, create_response=config.get("create_response", True)
            )
        elif vad.kind == "timeout_triggered":
            item_id = new_id("item")
            engine.emit(
                "input_audio_buffer.timeout_triggered",
                item_id=item_id,
                audio_start_ms=vad.audio_start_ms,
                audio_end_ms=vad.audio_end_ms,
            )
            # the idle audio is committed as that item, then the model responds
            engine.input.drop_before(vad.audio_start_ms)
            self._commit(
                item_id,
                vad.audio_end_ms,
                create_response=config.get("create_response", True)
                and engine.responses.run is None,
            )

    def _barge_in(self) -> None:
        engine = self._engine
        if engine.transport == "webrtc" and engine.output.playing_response:
            engine.output.clear(emit=True)
        engine.responses.interrupt()

    def _commit(self, item_id: str, end_ms: int, *, create_response: bool) -> None:
        engine = self._engine
        start_ms = engine.input.start_ms
        pcm = engine.input.take(end_ms)
        previous = engine.conversation.last_id()
        engine.emit("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        item = message_item(
            item_id, "user", "completed", [{"type": "input_audio", "transcript": None}]
        )
        item["_pcm"] = pcm
        engine.conversation.add(item, previous)
        level = rms(from_pcm16(pcm)) if pcm else 0.0
        turn = {
            "item_id": item_id,
            "audio_start_ms": start_ms,
            "audio_end_ms": end_ms,
            "rms": level,
            "transcript": None,
        }
        engine.record.turns.append(turn)
        hint = engine.responder.transcript_hint()
        self.transcribing = engine.spawn(self._transcribe(item, turn, pcm, hint))
        if create_response:
            engine.spawn(self._respond_after_turn())

    async def _transcribe(
        self, item: Item, turn: dict[str, Any], pcm: bytes, hint: str | None
    ) -> None:
        engine = self._engine
        transcript = (
            hint
            if hint is not None
            else await asyncio.to_thread(engine.transcriber.transcribe, pcm)
        )
        item["content"][0]["transcript"] = transcript
        turn["transcript"] = transcript
        if engine.session["audio"]["input"].get("transcription") is not None:
            self._emit_transcription(item["id"], transcript, len(pcm) / 2 / SAMPLE_RATE)

    async def _respond_after_turn(self) -> None:
        await self._engine.responses.wait_finished()
        try:
            self._engine.responses.start({})
        except ClientError:  # the client started one meanwhile
            log.debug("local backend: a response is already active after commit")

    def _emit_transcription(self, item_id: str, transcript: str, seconds: float) -> None:
        emit = self._engine.emit
        words = transcript.split(" ")
        step = max(1, math.ceil(len(words) / 3))
        for i in range(0, len(words), step):
            chunk = " ".join(words[i : i + step]) + (" " if i + step < len(words) else "")
            emit(
                "conversation.item.input_audio_transcription.delta",
                item_id=item_id,
                content_index=0,
                delta=chunk,
            )
        emit(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=transcript,
            usage={"type": "duration", "seconds": round(seconds, 3)},
        )
