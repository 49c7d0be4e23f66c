"""What the Live model says: a reply to each turn or text, spoken with timed transcript deltas,
stopped when the caller talks over it."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import numpy as np

from ...responders import ResponseContext
from ...speech import synthesize
from ..conversation import message_item
from ..ids import new_id
from ..speech_out import Cancellable, stream_speech

if TYPE_CHECKING:
    from .core import LiveEngine

log = logging.getLogger(__name__)


class Turn(Cancellable):
    """One reply of the model, from thinking to the end of its speech."""

    def __init__(self) -> None:
        super().__init__()
        self.task: asyncio.Task[None] | None = None


class LiveReplies:
    """The model's current reply (one at most: a new one replaces it)."""

    def __init__(self, engine: LiveEngine) -> None:
        self._engine = engine
        self.current: Turn | None = None

    def respond(self, *, heard: str | None = None, delegation_id: str | None = None) -> None:
        """Answer what was just heard or told; ``delegation_id``: a backend's continuation."""
        self._start(lambda turn: self._reply(turn, heard, delegation_id))

    def say(self, text: str) -> None:
        """Speak ``text`` (a client delegation's commentary) without asking the responder."""
        self._start(lambda turn: self.speak(turn, text))

    def interrupt(self) -> None:
        """The caller talks (or a fixture plays): stop speaking now."""
        turn = self.current
        if turn is not None:
            turn.cancel("turn_detected")
        if not self._engine.output.fixture:
            self._engine.output.silence()

    def cancel_all(self) -> None:
        if self.current is not None:
            self.current.cancel("client_cancelled")

    def _start(self, run: Callable[[Turn], Awaitable[None]]) -> None:
        self.interrupt()
        turn = Turn()
        self.current = turn
        turn.task = self._engine.spawn(self._guarded(turn, run))

    async def _guarded(self, turn: Turn, run: Callable[[Turn], Awaitable[None]]) -> None:
        engine = self._engine
        try:
            await run(turn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a responder bug must not kill the session
            log.exception("local backend: Live responder failed")
            engine.server_error("responder_failed", f"The local responder failed: {exc}")
        finally:
            if self.current is turn:
                self.current = None

    async def _reply(self, turn: Turn, heard: str | None, delegation_id: str | None) -> None:
        engine = self._engine
        context = ResponseContext(
            session=engine.resource(),
            conversation=copy.deepcopy(engine.history),
            heard=heard,
        )
        reply = await engine.responder.respond(context)
        if reply.error:
            engine.server_error(
                str(reply.error.get("code") or "injected"),
                str(reply.error.get("message") or "Injected error."),
            )
        if reply.fault in ("drop_data_channel", "close_peer"):
            engine.on_fault(reply.fault)
            return
        if not await turn.sleep(reply.delay / engine.speed):
            return
        turn.stalled = reply.fault == "stop_mid_response"
        if reply.call:
            engine.delegations.call(reply, delegation_id)
            return
        if delegation_id is not None:
            engine.delegations.backend_message(delegation_id, reply.say or "")
        await self.speak(turn, reply.say or "")

    async def speak(self, turn: Turn, text: str) -> None:
        """Speak word by word; each word's transcript carries the span its audio plays in."""
        engine = self._engine
        voice = (engine.resource().get("audio") or {}).get("output", {}).get("voice")
        speech = await asyncio.to_thread(
            synthesize, text, voice=voice if isinstance(voice, str) else "marin"
        )
        span = [engine.clock_ms()] * 2

        def on_audio(chunk: np.ndarray) -> None:
            span[:] = engine.output.queue(chunk)

        def on_word(word: str) -> None:
            engine.emit(
                "session.output_transcript.delta", delta=word, start_ms=span[0], end_ms=span[1]
            )

        said, _ = await stream_speech(
            turn, speech, speed=engine.speed, on_audio=on_audio, on_word=on_word
        )
        engine.history.append(
            message_item(
                new_id("item"),
                "assistant",
                "incomplete" if turn.cancelled.is_set() else "completed",
                [{"type": "output_audio", "transcript": said}],
            )
        )
        engine.report_usage()
