"""One realtime session of the local backend: GA client events in, GA server events out.

Transport-agnostic: the WebRTC and WebSocket glue feed it client events and input audio and
deliver what it emits. Flows follow the order documented for OpenAI's GA Realtime API.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import logging
import math
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..wire.audio import SAMPLE_RATE, Resampler, duration_ms, from_pcm16, resample, rms, to_pcm16
from ..wire.session_config import SessionConfigError, apply_update, validate_session
from .g711 import RATE as G711_RATE
from .g711 import decode as g711_decode
from .g711 import encode as g711_encode
from .playback import Playback
from .responders import Reply, Responder, ResponseContext
from .speech import synthesize
from .transcribe import Transcriber
from .vad import TurnDetector, VadEvent

log = logging.getLogger(__name__)

Transport = Literal["webrtc", "websocket"]

CLIENT_EVENTS = (
    "session.update",
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
    "response.create",
    "response.cancel",
)
DEFAULT_INSTRUCTIONS = (
    "You are the rt_notebook local backend, a simulator of the OpenAI Realtime API. "
    "You answer about what you heard or were told."
)
_PCM = {"type": "audio/pcm", "rate": SAMPLE_RATE}
_KEEP_IDLE_MS = 2_000  # input audio kept before speech starts (prefix padding needs some)
_TEXT_WORDS_PER_SECOND = 12.0
_AUDIO_LEAD_S = 0.25


def new_id(prefix: str) -> str:
    """An OpenAI-style id: ``item_…``, ``resp_…``, ``event_…``."""
    return f"{prefix}_{secrets.token_hex(10)}"


def default_session(model: str = "gpt-realtime") -> dict[str, Any]:
    """The effective session a new call starts from (what ``session.created`` shows)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": int(time.time()) + 3600,
        "audio": {
            "input": {
                "format": dict(_PCM),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": dict(_PCM), "voice": "marin", "speed": 1.0},
        },
    }


class ClientError(Exception):
    """A client event the server refuses; becomes an ``error`` event."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


@dataclass
class SessionRecord:
    """What a session received and sent, for tests and teaching."""

    call_id: str
    transport: Transport
    client_events: list[dict[str, Any]] = field(default_factory=list)
    server_events: list[dict[str, Any]] = field(default_factory=list)
    audio_in_samples: int = 0
    audio_in_sum_squares: float = 0.0
    turns: list[dict[str, Any]] = field(default_factory=list)
    """Committed user audio: ``{item_id, audio_start_ms, audio_end_ms, rms, transcript}``."""
    audio_in: list[np.ndarray] = field(default_factory=list)
    """All input audio (int16, 24 kHz), only when the backend keeps audio."""
    closed: bool = False

    @property
    def audio_in_ms(self) -> int:
        """Milliseconds of input audio received."""
        return duration_ms(self.audio_in_samples)

    @property
    def audio_in_rms(self) -> float:
        """RMS level of all input audio, on the [-1, 1] scale."""
        if not self.audio_in_samples:
            return 0.0
        return math.sqrt(self.audio_in_sum_squares / self.audio_in_samples)


@dataclass(eq=False)
class _Run:
    """One response in progress."""

    id: str
    response: dict[str, Any]
    out_of_band: bool
    cancel_reason: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    audio_samples: int = 0
    stalled: bool = False

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


class SessionEngine:
    """The protocol state machine of one call or WebSocket connection."""

    def __init__(
        self,
        *,
        session: dict[str, Any],
        transport: Transport,
        send: Callable[[dict[str, Any]], None],
        responder: Responder,
        transcriber: Transcriber,
        call_id: str,
        playback: Playback | None = None,
        on_fault: Callable[[str], None] | None = None,
        drop_after_events: int | None = None,
        keep_audio: bool = False,
        realtime_factor: float = 1.0,
    ) -> None:
        self.session = session
        self.transport = transport
        self.record = SessionRecord(call_id=call_id, transport=transport)
        self.conversation_id = new_id("conv")
        self._send = send
        self._responder = responder
        self._transcriber = transcriber
        self._playback = playback
        self._on_fault = on_fault or (lambda kind: None)
        self._drop_after = drop_after_events
        self._keep_audio = keep_audio
        self._speed = max(realtime_factor, 0.01)
        self._items: list[dict[str, Any]] = []
        self._detector = TurnDetector(self._turn_detection())
        self._input = bytearray()
        self._input_start_ms = 0
        self._speech_item: str | None = None
        self._g711_in: Resampler | None = None
        self._transcribing: asyncio.Task[None] | None = None
        self._run: _Run | None = None
        self._oob_runs: set[_Run] = set()
        self._playing_response: str | None = None
        self._voice_locked = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        """Extra receivers of every server event (sideband connections)."""
        if playback is not None:
            playback.on_drained = self._on_playback_drained

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Send ``session.created``: call when the data channel or socket is open."""
        self._emit("session.created", session=self._public_session())

    async def close(self) -> None:
        """Stop everything in flight."""
        self._closed = True
        self.record.closed = True
        for run in [self._run, *self._oob_runs]:
            if run is not None:
                run.cancel("client_cancelled")
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def active_response(self) -> str | None:
        """The id of the response writing to the conversation, if any."""
        return self._run.id if self._run else None

    # ---- inbound ---------------------------------------------------------------------

    def handle_message(self, text: str | bytes) -> None:
        """One client event as received on the wire (JSON text)."""
        try:
            event = json.loads(text)
        except ValueError:
            self._error("invalid_json", "The event is not valid JSON.")
            return
        if not isinstance(event, dict):
            self._error("invalid_json", "An event must be a JSON object with a 'type'.")
            return
        self.handle_event(event)

    def handle_event(self, event: dict[str, Any]) -> None:
        """One client event, already parsed."""
        self.record.client_events.append(event)
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        kind = event.get("type")
        try:
            if kind not in CLIENT_EVENTS:
                raise ClientError(
                    "invalid_value",
                    f"Invalid value: {kind!r}. Supported values are: {', '.join(CLIENT_EVENTS)}.",
                    "type",
                )
            getattr(self, "_on_" + kind.replace(".", "_"))(event)
        except ClientError as exc:
            self._error(exc.code, exc.message, exc.param, event_id)

    def feed_audio(self, pcm16: bytes) -> None:
        """Input audio (PCM16, 24 kHz, mono) from the WebRTC track or WebSocket appends."""
        if self._closed or not pcm16:
            return
        samples = from_pcm16(pcm16)
        self.record.audio_in_samples += len(samples)
        self.record.audio_in_sum_squares += float(np.square(samples / 32768.0).sum())
        if self._keep_audio:
            self.record.audio_in.append(samples.copy())
        self._input += pcm16
        for vad in self._detector.feed(pcm16):
            self._on_vad(vad)
        if self._speech_item is None and self._turn_detection() is not None:
            self._trim_idle_input()

    # ---- client events -----------------------------------------------------------------

    def _on_session_update(self, event: dict[str, Any]) -> None:
        update = _require(event, "session", dict)
        if "type" not in update:
            raise ClientError(
                "missing_required_parameter",
                "Missing required parameter: 'session.type'.",
                "session.type",
            )
        try:
            update = validate_session(update)
        except SessionConfigError as exc:
            raise ClientError("invalid_value", exc.message, exc.param) from None
        if "model" in update and update["model"] != self.session["model"]:
            raise ClientError(
                "invalid_value",
                "The model cannot be changed once the session has started.",
                "session.model",
            )
        new_voice = update.get("audio", {}).get("output", {}).get("voice")
        if self._voice_locked and new_voice not in (None, self._voice()):
            raise ClientError(
                "cannot_update_voice",
                "The voice cannot be changed after the assistant has produced audio.",
                "session.audio.output.voice",
            )
        self.session = apply_update(self.session, update)
        self._detector.update(self._turn_detection())
        self._emit("session.updated", session=self._public_session())

    def _on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = _check_item(_require(event, "item", dict), self._items)
        previous = event.get("previous_item_id")
        self._add_item(item, previous if "previous_item_id" in event else self._last_id())

    def _on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item_id = _require(event, "item_id", str)
        self._items.remove(self._find(item_id))
        self._emit("conversation.item.deleted", item_id=item_id)

    def _on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self._find(_require(event, "item_id", str))
        public = _public(item)
        if "_pcm" in item:  # retrieve includes the audio, in the session's format
            side = "output" if item.get("role") == "assistant" else "input"
            audio = self._encode(from_pcm16(item["_pcm"]), side)
            public["content"][0]["audio"] = base64.b64encode(audio).decode()
        self._emit("conversation.item.retrieved", item=public)

    def _on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item = self._find(_require(event, "item_id", str))
        content_index = _require(event, "content_index", int)
        end_ms = _require(event, "audio_end_ms", int)
        if item.get("role") != "assistant":
            raise ClientError(
                "invalid_value", "Only assistant messages can be truncated.", "item_id"
            )
        content = item.get("content") or []
        if not 0 <= content_index < len(content) or content[content_index]["type"] != (
            "output_audio"
        ):
            raise ClientError(
                "invalid_value", "content_index does not point at audio.", "content_index"
            )
        length = _audio_ms(item)
        if not 0 <= end_ms <= length:
            raise ClientError(
                "invalid_value",
                f"audio_end_ms {end_ms} is past the end of the audio ({length} ms).",
                "audio_end_ms",
            )
        if "_pcm" in item:
            item["_pcm"] = item["_pcm"][: _bytes_for_ms(end_ms)]
        self._emit(
            "conversation.item.truncated",
            item_id=item["id"],
            content_index=content_index,
            audio_end_ms=end_ms,
        )

    def _on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        data = _require(event, "audio", str)
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ClientError("invalid_value", "audio must be base64.", "audio") from None
        fmt = self.session["audio"]["input"]["format"]["type"]
        if fmt != "audio/pcm":  # G.711 is 8 kHz: decode, then up to the session's 24 kHz
            if self._g711_in is None:
                self._g711_in = Resampler(G711_RATE, SAMPLE_RATE)
            raw = to_pcm16(self._g711_in.process(g711_decode(raw, fmt)))
        elif len(raw) % 2:
            raise ClientError(
                "invalid_value", "PCM16 audio must have an even number of bytes.", "audio"
            )
        self.feed_audio(raw)

    def _on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        if not self._input:
            raise ClientError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                "100ms of audio, but buffer only has 0.00ms of audio.",
            )
        item_id = self._speech_item or new_id("item")
        end_ms = self._detector.position_ms
        self._commit(item_id, self._input_start_ms, end_ms, create_response=False)

    def _on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self._input.clear()
        self._input_start_ms = self._detector.position_ms
        self._speech_item = None
        self._detector.reset()
        self._emit("input_audio_buffer.cleared")

    def _on_output_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        if self.transport != "webrtc":
            raise ClientError(
                "invalid_value", "output_audio_buffer.clear is only for WebRTC and SIP.", "type"
            )
        self._clear_playback(emit=True)

    def _on_response_create(self, event: dict[str, Any]) -> None:
        params = event.get("response") or {}
        if not isinstance(params, dict):
            raise ClientError("invalid_value", "response must be an object.", "response")
        modalities = params.get("output_modalities")
        if modalities is not None and modalities not in (["audio"], ["text"]):
            raise ClientError(
                "invalid_value",
                'output_modalities must be ["audio"] or ["text"].',
                "response.output_modalities",
            )
        self._start_response(params)

    def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        runs = [r for r in [self._run, *self._oob_runs] if r is not None]
        run = next((r for r in runs if wanted in (None, r.id)), None)
        if run is None or run.cancel_reason is not None:
            raise ClientError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        run.cancel("client_cancelled")

    # ---- voice activity and commits --------------------------------------------------

    def _on_vad(self, vad: VadEvent) -> None:
        config = self._turn_detection() or {}
        if vad.kind == "speech_started":
            self._speech_item = new_id("item")
            self._emit(
                "input_audio_buffer.speech_started",
                item_id=self._speech_item,
                audio_start_ms=vad.audio_start_ms,
            )
            # the buffered audio now starts where the speech (with its padding) starts
            self._drop_input_before(vad.audio_start_ms)
            if config.get("interrupt_response", True):
                self._barge_in()
        elif vad.kind == "speech_stopped" and self._speech_item:
            item_id, self._speech_item = self._speech_item, None
            self._emit(
                "input_audio_buffer.speech_stopped", item_id=item_id, audio_end_ms=vad.audio_end_ms
            )
            self._commit(
                item_id,
                self._input_start_ms,
                vad.audio_end_ms,
                create_response=config.get("create_response", True),
            )
        elif vad.kind == "timeout_triggered":
            item_id = new_id("item")
            self._emit(
                "input_audio_buffer.timeout_triggered",
                item_id=item_id,
                audio_start_ms=vad.audio_start_ms,
                audio_end_ms=vad.audio_end_ms,
            )
            # the idle audio is committed as that item, then the model responds
            self._drop_input_before(vad.audio_start_ms)
            self._commit(
                item_id,
                self._input_start_ms,
                vad.audio_end_ms,
                create_response=config.get("create_response", True) and self._run is None,
            )

    def _barge_in(self) -> None:
        if self.transport == "webrtc" and self._playing_response:
            self._clear_playback(emit=True)
        if self._run is not None:
            self._run.cancel("turn_detected")

    def _commit(self, item_id: str, start_ms: int, end_ms: int, *, create_response: bool) -> None:
        cut = min(len(self._input), _bytes_for_ms(end_ms - start_ms))
        pcm, self._input = bytes(self._input[:cut]), self._input[cut:]
        self._input_start_ms = end_ms
        previous = self._last_id()
        self._emit("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
            "_pcm": pcm,
        }
        self._add_item(item, previous)
        level = rms(from_pcm16(pcm)) if pcm else 0.0
        turn = {
            "item_id": item_id,
            "audio_start_ms": start_ms,
            "audio_end_ms": end_ms,
            "rms": level,
            "transcript": None,
        }
        self.record.turns.append(turn)
        hint = self._responder.transcript_hint()
        self._transcribing = self._spawn(self._transcribe(item, turn, pcm, hint))
        if create_response:
            self._spawn(self._respond_after_turn())

    async def _transcribe(
        self, item: dict[str, Any], turn: dict[str, Any], pcm: bytes, hint: str | None
    ) -> None:
        transcript = (
            hint if hint is not None else await asyncio.to_thread(self._transcriber.transcribe, pcm)
        )
        item["content"][0]["transcript"] = transcript
        turn["transcript"] = transcript
        if self.session["audio"]["input"].get("transcription") is not None:
            self._emit_transcription(item["id"], transcript, len(pcm) / 2 / SAMPLE_RATE)

    async def _respond_after_turn(self) -> None:
        await self._wait_run_finished()
        try:
            self._start_response({})
        except ClientError:  # the client started one meanwhile
            log.debug("local backend: a response is already active after commit")

    def _emit_transcription(self, item_id: str, transcript: str, seconds: float) -> None:
        words = transcript.split(" ")
        step = max(1, math.ceil(len(words) / 3))
        for i in range(0, len(words), step):
            chunk = " ".join(words[i : i + step]) + (" " if i + step < len(words) else "")
            self._emit(
                "conversation.item.input_audio_transcription.delta",
                item_id=item_id,
                content_index=0,
                delta=chunk,
            )
        self._emit(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=transcript,
            usage={"type": "duration", "seconds": round(seconds, 3)},
        )

    # ---- responses ---------------------------------------------------------------------

    def _start_response(self, params: dict[str, Any]) -> None:
        out_of_band = params.get("conversation") == "none"
        if not out_of_band and self._run is not None:
            raise ClientError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._run.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        modalities = params.get("output_modalities") or self.session["output_modalities"]
        audio = self.session["audio"]["output"]
        run = _Run(
            id=new_id("resp"),
            out_of_band=out_of_band,
            response={
                "object": "realtime.response",
                "status": "in_progress",
                "status_details": None,
                "output": [],
                "conversation_id": None if out_of_band else self.conversation_id,
                "output_modalities": modalities,
                "max_output_tokens": params.get(
                    "max_output_tokens", self.session["max_output_tokens"]
                ),
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
            self._oob_runs.add(run)
        else:
            self._run = run
        self._emit("response.created", response=copy.deepcopy(run.response))
        self._emit_rate_limits()
        run.task = self._spawn(self._respond(run, params))

    async def _respond(self, run: _Run, params: dict[str, Any]) -> None:
        try:
            if self._transcribing is not None:  # the model hears what was just committed
                await asyncio.shield(self._transcribing)
            context = ResponseContext(
                session=self._public_session(),
                conversation=self._public_items(),
                response=params,
                heard=self._heard(),
            )
            reply = await self._responder.respond(context)
            if reply.error:
                self._emit(
                    "error",
                    error={"type": "server_error", "message": "Injected error.", **reply.error},
                )
            if reply.fault in ("drop_data_channel", "close_peer"):
                self._on_fault(reply.fault)
                return
            if await run.sleep(reply.delay / self._speed):
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
            self._emit(
                "error",
                error={
                    "type": "server_error",
                    "code": "responder_failed",
                    "message": f"The local responder failed: {exc}",
                },
            )
            run.cancel("client_cancelled")
            self._finish(run, failed=True)

    async def _message(self, run: _Run, text: str) -> None:
        audio = run.response["output_modalities"] == ["audio"]
        item_id = new_id("item")
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        where = {"response_id": run.id, "item_id": item_id, "output_index": 0, "content_index": 0}
        previous = self._open_output(run, item)
        self._emit(
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
            said = await self._write(run, text, where)
            part = {"type": "text", "text": said}
            item["content"] = [{"type": "output_text", "text": said}]
        self._emit("response.content_part.done", **where, part=part)
        self._close_output(run, item, previous)

    async def _speak(self, run: _Run, text: str, where: dict[str, Any]) -> tuple[str, bytes]:
        """Stream a reply's audio and its transcript, word by word, in step with playback."""
        voice = run.response["audio"]["output"]["voice"]
        speech = await asyncio.to_thread(
            synthesize,
            text,
            voice=voice if isinstance(voice, str) else "marin",
            speed=float(self.session["audio"]["output"].get("speed") or 1.0),
        )
        self._voice_locked = True
        playback = self._playback if self.transport == "webrtc" else None
        started = time.monotonic()
        said: list[str] = []
        sent = 0
        for i, (word, start_s, end_s) in enumerate(speech.words):
            # audio goes out a little ahead of its transcript, as a real model's does
            if not await run.sleep(self._until(started, start_s - _AUDIO_LEAD_S)):
                break
            if run.stalled and i >= max(1, len(speech.words) // 2):
                await run.cancelled.wait()  # the simulated model hangs until cancelled
                break
            end = len(speech.samples) if i == len(speech.words) - 1 else round(end_s * SAMPLE_RATE)
            self._audio_out(run, speech.samples[sent:end], where, playback)
            sent = end
            if not await run.sleep(self._until(started, start_s)):
                break
            said.append(word if not said else " " + word)
            self._emit("response.output_audio_transcript.delta", **where, delta=said[-1])
        if run.cancelled.is_set() and playback and self._playing_response == run.id:
            playback.clear()  # unplayed audio was never "generated"
        run.audio_samples = sent
        transcript = "".join(said)
        self._emit("response.output_audio.done", **where)
        self._emit("response.output_audio_transcript.done", **where, transcript=transcript)
        return transcript, to_pcm16(speech.samples[:sent])

    def _audio_out(
        self, run: _Run, chunk: np.ndarray, where: dict[str, Any], playback: Playback | None
    ) -> None:
        if not len(chunk):
            return
        if playback is not None:
            playback.enqueue(chunk)
            if self._playing_response != run.id:
                self._playing_response = run.id
                self._emit("output_audio_buffer.started", response_id=run.id)
        else:
            self._emit(
                "response.output_audio.delta",
                **where,
                delta=base64.b64encode(self._encode_out(chunk)).decode(),
            )

    def _until(self, started: float, offset_s: float) -> float:
        return offset_s / self._speed - (time.monotonic() - started)

    async def _write(self, run: _Run, text: str, where: dict[str, Any]) -> str:
        words = text.split(" ")
        written: list[str] = []
        for i, word in enumerate(words):
            if not await run.sleep(1 / _TEXT_WORDS_PER_SECOND / self._speed):
                break
            if run.stalled and i >= max(1, len(words) // 2):
                await run.cancelled.wait()
                break
            written.append(word if i == 0 else " " + word)
            self._emit("response.output_text.delta", **where, delta=written[-1])
        self._emit("response.output_text.done", **where, text="".join(written))
        return "".join(written)

    async def _function_call(self, run: _Run, reply: Reply) -> None:
        args = reply.arguments
        arguments = args if isinstance(args, str) else json.dumps(args or {})
        call_id = new_id("call")
        item: dict[str, Any] = {
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
            self._emit(
                "response.function_call_arguments.delta", **where, delta=arguments[i : i + step]
            )
            if run.stalled:
                await run.cancelled.wait()
                break
        self._emit(
            "response.function_call_arguments.done", **where, name=reply.call, arguments=arguments
        )
        item["arguments"] = arguments
        self._close_output(run, item, previous)

    def _open_output(self, run: _Run, item: dict[str, Any]) -> str | None:
        self._emit(
            "response.output_item.added",
            response_id=run.id,
            output_index=0,
            item=copy.deepcopy(item),
        )
        previous = self._last_id()
        if not run.out_of_band:
            self._items.append(item)
            self._emit("conversation.item.added", previous_item_id=previous, item=_public(item))
        return previous

    def _close_output(self, run: _Run, item: dict[str, Any], previous: str | None) -> None:
        item["status"] = "incomplete" if run.cancelled.is_set() else "completed"
        if not run.out_of_band:
            self._emit("conversation.item.done", previous_item_id=previous, item=_public(item))
        self._emit(
            "response.output_item.done", response_id=run.id, output_index=0, item=_public(item)
        )
        run.response["output"].append(_public(item))

    def _finish(self, run: _Run, *, failed: bool = False) -> None:
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
        response["usage"] = self._usage(response, run)
        self._emit("response.done", response=copy.deepcopy(response))
        if run is self._run:
            self._run = None
            if self._playback is None:
                self._detector.restart_idle()
        self._oob_runs.discard(run)
        if self._playing_response == run.id and self._playback and not self._playback.playing:
            self._on_playback_drained()

    async def _wait_run_finished(self) -> None:
        run = self._run
        if run is not None and run.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(run.task)

    # ---- playback (WebRTC) -----------------------------------------------------------

    def _on_playback_drained(self) -> None:
        response_id = self._playing_response
        if response_id is None or response_id == self.active_response:
            return  # stopped follows response.done: wait for it
        self._playing_response = None
        self._detector.restart_idle()  # the idle timeout counts from the end of playback
        self._emit("output_audio_buffer.stopped", response_id=response_id)

    def _clear_playback(self, *, emit: bool) -> None:
        response_id = self._playing_response
        if self._playback is not None:
            self._playback.clear()
        if response_id and emit:
            self._playing_response = None
            self._emit("output_audio_buffer.cleared", response_id=response_id)

    # ---- helpers ---------------------------------------------------------------------

    def _emit(self, kind: str, **fields_: Any) -> None:
        if self._closed:
            return
        event = {"type": kind, "event_id": new_id("event"), **fields_}
        self.record.server_events.append(event)
        for deliver in (self._send, *self.listeners):
            try:
                deliver(event)
            except Exception:  # a receiver went away; the session goes on
                log.debug("local backend: could not deliver %s", kind, exc_info=True)
        if self._drop_after is not None and len(self.record.server_events) == self._drop_after:
            self._on_fault("drop_data_channel")

    def _error(
        self, code: str, message: str, param: str | None = None, event_id: str | None = None
    ) -> None:
        error: dict[str, Any] = {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        }
        self._emit("error", error=error)

    def _emit_rate_limits(self) -> None:
        self._emit(
            "rate_limits.updated",
            rate_limits=[
                {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                {"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5},
            ],
        )

    def _usage(self, response: dict[str, Any], run: _Run) -> dict[str, Any]:
        """Simulated token counts, shaped like OpenAI's (documented as simulated)."""
        text_in = len(str(self.session.get("instructions") or "")) // 4
        audio_in = image_in = 0
        for item in self._items:
            for part in item.get("content") or []:
                kind = part.get("type")
                if kind in ("input_text", "output_text"):
                    text_in += len(part.get("text") or "") // 4 + 1
                elif kind == "input_audio":
                    audio_in += 10 * max(1, len(part.get("transcript") or "") // 12)
                elif kind == "output_audio":
                    audio_in += _audio_ms(item) // 50
                elif kind == "input_image":
                    image_in += 85
            if item.get("type") in ("function_call", "function_call_output"):
                text_in += len(str(item.get("arguments") or item.get("output") or "")) // 4 + 1
        text_out = 0
        for item in response["output"]:
            for part in item.get("content") or []:
                text_out += len(part.get("transcript") or part.get("text") or "") // 4 + 1
            if item.get("type") == "function_call":
                text_out += len(item.get("arguments") or "") // 4 + 1
        audio_out = run.audio_samples * 1000 // SAMPLE_RATE // 50  # in-band or out-of-band
        input_tokens = text_in + audio_in + image_in
        output_tokens = text_out + audio_out
        return {
            "total_tokens": input_tokens + output_tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "image_tokens": image_in,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    def _add_item(self, item: dict[str, Any], previous: str | None) -> None:
        if previous == "root":
            self._items.insert(0, item)
            previous = None
        elif previous is None:
            self._items.append(item)
        else:
            index = self._items.index(self._find(previous, param="previous_item_id"))
            self._items.insert(index + 1, item)
        self._emit("conversation.item.added", previous_item_id=previous, item=_public(item))
        self._emit("conversation.item.done", previous_item_id=previous, item=_public(item))

    def _find(self, item_id: str, param: str = "item_id") -> dict[str, Any]:
        for item in self._items:
            if item["id"] == item_id:
                return item
        raise ClientError("item_not_found", f"Item with item_id not found: {item_id}.", param)

    def _last_id(self) -> str | None:
        return self._items[-1]["id"] if self._items else None

    def _heard(self) -> str | None:
        for item in reversed(self._items):
            if item.get("role") == "user":
                texts = [p.get("text") or p.get("transcript") for p in item.get("content", [])]
                return " ".join(t for t in texts if t) or None
        return None

    def _public_items(self) -> list[dict[str, Any]]:
        return [_public(item) for item in self._items]

    def _public_session(self) -> dict[str, Any]:
        return copy.deepcopy(self.session)

    def _turn_detection(self) -> dict[str, Any] | None:
        config = self.session["audio"]["input"].get("turn_detection")
        return dict(config) if config else None

    def _voice(self) -> object:
        return self.session["audio"]["output"].get("voice")

    def _encode_out(self, samples: np.ndarray) -> bytes:
        return self._encode(samples, "output")

    def _encode(self, samples: np.ndarray, side: str) -> bytes:
        fmt = self.session["audio"][side]["format"]["type"]
        if fmt == "audio/pcm":
            return to_pcm16(samples)
        return g711_encode(resample(samples, SAMPLE_RATE, G711_RATE), fmt)

    def _drop_input_before(self, ms: int) -> None:
        drop = min(len(self._input), _bytes_for_ms(max(0, ms - self._input_start_ms)))
        del self._input[:drop]
        self._input_start_ms = max(self._input_start_ms, ms)

    def _trim_idle_input(self) -> None:
        excess = len(self._input) - _bytes_for_ms(_KEEP_IDLE_MS)
        if excess > 0:
            excess -= excess % 2
            del self._input[:excess]
            self._input_start_ms += duration_ms(excess // 2)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _require(event: dict[str, Any], name: str, kind: type) -> Any:
    value = event.get(name)
    if value is None:
        raise ClientError(
            "missing_required_parameter", f"Missing required parameter: '{name}'.", name
        )
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ClientError("invalid_type", f"'{name}' must be of type {kind.__name__}.", name)
    return value


def _audio_ms(item: dict[str, Any]) -> int:
    """Milliseconds of audio an item holds (its PCM16 at 24 kHz)."""
    return duration_ms(len(item.get("_pcm", b"")) // 2)


def _bytes_for_ms(ms: int) -> int:
    return max(0, round(ms * SAMPLE_RATE / 1000)) * 2


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An item as sent on the wire: no private bookkeeping keys, no audio bytes."""
    return {k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("_")}


_USER_PARTS = {"input_text", "input_audio", "input_image"}
_ASSISTANT_PARTS = {"output_text", "output_audio"}
_BETA_PARTS = {"text": "output_text", "audio": "output_audio"}


def _check_item(item: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """Validate a client-created item and give it an id."""
    item = copy.deepcopy(item)
    kind = item.get("type")
    if kind == "message":
        role = item.get("role")
        allowed = {
            "user": _USER_PARTS,
            "system": {"input_text"},
            "assistant": _ASSISTANT_PARTS,
        }.get(str(role))
        if allowed is None:
            raise ClientError(
                "invalid_value", "item.role must be user, system or assistant.", "item.role"
            )
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise ClientError(
                "missing_required_parameter", "item.content must be a list.", "item.content"
            )
        for i, part in enumerate(content):
            part_type = part.get("type") if isinstance(part, dict) else None
            if part_type not in allowed:
                hint = (
                    f" (GA uses {_BETA_PARTS[part_type]!r})"
                    if role == "assistant" and part_type in _BETA_PARTS
                    else ""
                )
                raise ClientError(
                    "invalid_value",
                    f"item.content[{i}].type {part_type!r} is not valid for a "
                    f"{role} message{hint}.",
                    f"item.content[{i}].type",
                )
            if part_type == "input_image":
                _check_image(part.get("image_url"), f"item.content[{i}].image_url")
            if part_type in ("input_text", "output_text") and not isinstance(part.get("text"), str):
                raise ClientError(
                    "missing_required_parameter",
                    f"item.content[{i}].text must be a string.",
                    f"item.content[{i}].text",
                )
    elif kind == "function_call_output":
        call_id = item.get("call_id")
        if not isinstance(item.get("output"), str):
            raise ClientError(
                "invalid_type", "item.output must be a string (e.g. JSON text).", "item.output"
            )
        if not any(i.get("type") == "function_call" and i.get("call_id") == call_id for i in items):
            raise ClientError(
                "invalid_value",
                f"No function call with call_id {call_id!r} in the conversation.",
                "item.call_id",
            )
    elif kind == "function_call":
        if not isinstance(item.get("name"), str) or not isinstance(item.get("arguments"), str):
            raise ClientError(
                "missing_required_parameter",
                "A function_call item needs 'name' and 'arguments' strings.",
                "item",
            )
    else:
        raise ClientError(
            "invalid_value", f"item.type {kind!r} is not supported here.", "item.type"
        )
    item.setdefault("id", new_id("item"))
    if any(i["id"] == item["id"] for i in items):
        raise ClientError(
            "invalid_value", f"An item with id {item['id']!r} already exists.", "item.id"
        )
    item["object"] = "realtime.item"
    item.setdefault("status", "completed")
    return item


def _check_image(url: object, param: str) -> None:
    if not isinstance(url, str) or not url.startswith(
        ("data:image/png;base64,", "data:image/jpeg;base64,")
    ):
        raise ClientError(
            "invalid_value",
            "image_url must be a data URL: data:image/png;base64,… or data:image/jpeg;base64,…",
            param,
        )
