"""Response generation (Realtime): ``response.*`` events around what the responder replies."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ...wire.audio import to_pcm16
from ..responders import Reply, ResponseContext
from ..speech import synthesize
from .conversation import Item, message_item, public
from .errors import ClientError
from .ids import new_id
from .speech_out import Cancellable, stream_speech, stream_text
from .usage import rate_limits, simulated_usage

if TYPE_CHECKING:
    from .core import SessionEngine

log = logging.getLogger(__name__)


class Run(Cancellable):
    """One response in progress."""

    def __init__(self, id: str, response: dict[str, Any], out_of_band: bool) -> None:
        super().__init__()
        self.id = id
        self.response = response
        self.out_of_band = out_of_band
        self.task: asyncio.Task[None] | None = None
        self.audio_samples = 0


class Responses:
    """The response writing to the conversation (one at most) and out-of-band ones."""

    def __init__(self, engine: SessionEngine) -> None:
        self._engine = engine
        self.run: Run | None = None
        """The response writing to the conversation, if any."""
        self._out_of_band: set[Run] = set()

    def start(self, params: dict[str, Any]) -> None:
        """Begin a response (``response.create``, or after a committed turn)."""
        engine = self._engine
        session = engine.session
        out_of_band = params.get("conversation") == "none"
        if not out_of_band and self.run is not None:
            raise ClientError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.run.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        modalities = params.get("output_modalities") or session["output_modalities"]
        audio = session["audio"]["output"]
        run = Run(
            id=new_id("resp"),
            out_of_band=out_of_band,
            response={
                "object": "realtime.response",
                "status": "in_progress",
                "status_details": None,
                "output": [],
                "conversation_id": None if out_of_band else engine.conversation_id,
                "output_modalities": modalities,
                "max_output_tokens": params.get("max_output_tokens", session["max_output_tokens"]),
                "audio": {
                    "output": {
                        "format": audio["format"],
                        "voice": params.get("audio", {})
                        .get("output", {})
                        .get("voice", audio["voice"]),
                    }
                },
                "metadata": params.get("metadata"),
                "usage": None,
            },
        )
        run.response["id"] = run.id
        if out_of_band:
            self._out_of_band.add(run)
        else:
            self.run = run
        engine.emit("response.created", response=copy.deepcopy(run.response))
        engine.emit("rate_limits.updated", rate_limits=rate_limits())
        run.task = engine.spawn(self._respond(run, params))

    def cancel(self, response_id: object) -> None:
        """``response.cancel``: the given response, or the first one active."""
        runs = [r for r in [self.run, *self._out_of_band] if r is not None]
        run = next((r for r in runs if response_id in (None, r.id)), None)
        if run is None or run.cancel_reason is not None:
            raise ClientError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        run.cancel("client_cancelled")

    def interrupt(self) -> None:
        """The user started speaking: the in-band response stops."""
        if self.run is not None:
            self.run.cancel("turn_detected")

    def cancel_all(self) -> None:
        for run in [self.run, *self._out_of_band]:
            if run is not None:
                run.cancel("client_cancelled")

    async def wait_finished(self) -> None:
        """Until the in-band response (if any) has finished."""
        run = self.run
        if run is not None and run.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(run.task)

    async def _respond(self, run: Run, params: dict[str, Any]) -> None:
        engine = self._engine
        try:
            transcribing = engine.turns.transcribing
            if transcribing is not None:  # the model hears what was just committed
                await asyncio.shield(transcribing)
            context = ResponseContext(
                session=engine.public_session(),
                conversation=engine.conversation.public_items(),
                response=params,
                heard=engine.conversation.heard(),
            )
            reply = await engine.responder.respond(context)
            if reply.error:
                engine.emit(
                    "error",
                    error={"type": "server_error", "message": "Injected error.", **reply.error},
                )
            if reply.fault in ("drop_data_channel", "close_peer"):
                engine.on_fault(reply.fault)
                return
            if await run.sleep(reply.delay / engine.speed):
                run.stalled = reply.fault == "stop_mid_response"
                if reply.call:
                    await self._function_call(run, reply)
                else:
                    await self._message(run, reply.say or "")
            self._finish(run)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a responder bug must not kill the session
            log.exception("local backend: responder failed")
            engine.emit(
                "error",
                error={
                    "type": "server_error",
                    "code": "responder_failed",
                    "message": f"The local responder failed: {exc}",
                },
            )
            run.cancel("client_cancelled")
            self._finish(run, failed=True)

    async def _message(self, run: Run, text: str) -> None:
        emit = self._engine.emit
        audio = run.response["output_modalities"] == ["audio"]
        item_id = new_id("item")
        item = message_item(item_id, "assistant", "in_progress", [])
        where = {"response_id": run.id, "item_id": item_id, "output_index": 0, "content_index": 0}
        previous = self._open_output(run, item)
        emit(
            "response.content_part.added",
            **where,
            part={"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""},
        )
        if audio:
            said, pcm = await self._speak(run, text, where)
            part = {"type": "audio", "transcript": said}
            item["content"] = [{"type": "output_audio", "transcript": said}]
            item["_pcm"] = pcm
        else:
            said = await stream_text(
                run,
                text,
                speed=self._engine.speed,
                on_word=lambda word: emit("response.output_text.delta", **where, delta=word),
            )
            emit("response.output_text.done", **where, text=said)
            part = {"type": "text", "text": said}
            item["content"] = [{"type": "output_text", "text": said}]
        emit("response.content_part.done", **where, part=part)
        self._close_output(run, item, previous)

    async def _speak(self, run: Run, text: str, where: dict[str, Any]) -> tuple[str, bytes]:
        """Stream a reply's audio and its transcript, word by word, in step with playback."""
        engine = self._engine
        voice = run.response["audio"]["output"]["voice"]
        speech = await asyncio.to_thread(
            synthesize,
            text,
            voice=voice if isinstance(voice, str) else "marin",
            speed=float(engine.session["audio"]["output"].get("speed") or 1.0),
        )
        engine.voice_locked = True
        output = engine.output

        def audio_out(chunk: np.ndarray) -> None:
            if output.on_track:
                output.play(run.id, chunk)
            else:
                delta = base64.b64encode(engine.encode(chunk, "output")).decode()
                engine.emit("response.output_audio.delta", **where, delta=delta)

        transcript, sent = await stream_speech(
            run,
            speech,
            speed=engine.speed,
            on_audio=audio_out,
            on_word=lambda word: engine.emit(
                "response.output_audio_transcript.delta", **where, delta=word
            ),
        )
        if run.cancelled.is_set():
            output.discard(run.id)
        run.audio_samples = sent
        engine.emit("response.output_audio.done", **where)
        engine.emit("response.output_audio_transcript.done", **where, transcript=transcript)
        return transcript, to_pcm16(speech.samples[:sent])

    async def _function_call(self, run: Run, reply: Reply) -> None:
        emit = self._engine.emit
        args = reply.arguments
        arguments = args if isinstance(args, str) else json.dumps(args or {})
        call_id = new_id("call")
        item: Item = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": reply.call,
            "call_id": call_id,
            "arguments": "",
        }
        previous = self._open_output(run, item)
        where = {
            "response_id": run.id,
            "item_id": item["id"],
            "output_index": 0,
            "call_id": call_id,
        }
        step = max(1, math.ceil(len(arguments) / 3))
        for i in range(0, len(arguments), step):
            emit("response.function_call_arguments.delta", **where, delta=arguments[i : i + step])
            if run.stalled:
                await run.cancelled.wait()
                break
        emit("response.function_call_arguments.done", **where, name=reply.call, arguments=arguments)
        item["arguments"] = arguments
        self._close_output(run, item, previous)

    def _open_output(self, run: Run, item: Item) -> str | None:
        engine = self._engine
        engine.emit(
            "response.output_item.added",
            response_id=run.id,
            output_index=0,
            item=copy.deepcopy(item),
        )
        previous = engine.conversation.last_id()
        if not run.out_of_band:
            engine.conversation.items.append(item)
            engine.emit("conversation.item.added", previous_item_id=previous, item=public(item))
        return previous

    def _close_output(self, run: Run, item: Item, previous: str | None) -> None:
        emit = self._engine.emit
        item["status"] = "incomplete" if run.cancelled.is_set() else "completed"
        if not run.out_of_band:
            emit("conversation.item.done", previous_item_id=previous, item=public(item))
        emit("response.output_item.done", response_id=run.id, output_index=0, item=public(item))
        run.response["output"].append(public(item))

    def _finish(self, run: Run, *, failed: bool = False) -> None:
        engine = self._engine
        response = run.response
        if failed:
            response["status"] = "failed"
            response["status_details"] = {
                "type": "failed",
                "error": {"type": "server_error", "code": "responder_failed"},
            }
        elif run.cancel_reason:
            response["status"] = "cancelled"
            response["status_details"] = {"type": "cancelled", "reason": run.cancel_reason}
        else:
            response["status"] = "completed"
        response["usage"] = simulated_usage(
            engine.session.get("instructions"),
            engine.conversation.items,
            response["output"],
            run.audio_samples,
        )
        engine.emit("response.done", response=copy.deepcopy(response))
        if run is self.run:
            self.run = None
            if engine.output.playback is None:
                engine.input.restart_idle()
        self._out_of_band.discard(run)
        engine.output.response_done(run.id)
