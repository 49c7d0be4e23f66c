"""One GPT-Live session of the local backend: Live client events in, Live server events out.

The sibling of the Realtime coordinator (:mod:`..core`), transport-agnostic the same way: a
primary WebSocket (the session starts with the client's ``session.start``) or a WebRTC call
(started by ``POST /live/sessions``; its data channel is the primary), plus sideband listeners.
It reuses the protocol-neutral rooms (input audio and VAD, paced speech, playback, formats);
Live's own are :mod:`.dispatch` (the client events), :mod:`.turns`, :mod:`.replies`,
:mod:`.delegation` (tools), :mod:`.output` (the continuous voice) and :mod:`.usage` (seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Literal

from ....wire.audio import from_pcm16
from ...playback import Playback
from ...responders import make_responder
from ..audio_formats import bytes_for_ms
from ..audio_in import InputAudio
from ..conversation import message_item
from ..core import SessionRecord, Transport
from ..defaults import DEFAULT_INSTRUCTIONS
from ..errors import ClientError, read_event
from ..ids import new_id
from ..options import EngineOptions
from .audio import PCM24, LiveFormat, b64encode
from .delegation import Delegations
from .dispatch import LIVE, NEVER_ON, Handler
from .output import LiveOutput
from .replies import LiveReplies
from .turns import TURN_TAKING, LiveTurns
from .usage import LiveUsage

log = logging.getLogger(__name__)

Source = Literal["websocket", "data_channel", "sideband"]
"""Where a client event came from: a primary WebSocket, a WebRTC data channel, a sideband."""

_ALWAYS_DELIVERED = {"session.started", "error", "info"}
_REFLECT_MS = 100  # the sideband hears the caller in chunks of this length
_DRAIN_S = 10.0  # session.close waits at most this long for speech to finish


class LiveEngine:
    """The protocol state machine of one Live session."""

    handlers: Mapping[str, Handler] = LIVE

    def __init__(
        self,
        *,
        session: dict[str, Any] | None,
        options: EngineOptions,
        transport: Transport,
        send: Callable[[dict[str, Any]], None],
        call_id: str,
        playback: Playback | None = None,
        on_fault: Callable[[str], None] | None = None,
    ) -> None:
        self.session = session
        """The validated startup config (``None`` until a WebSocket's ``session.start``)."""
        self.options = options
        self.transport = transport
        self.primary: Source = "data_channel" if transport == "webrtc" else "websocket"
        self.record = SessionRecord(call_id=call_id, transport=transport)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        """Sideband connections: every server event, plus what only a sideband hears."""
        self.responder = make_responder(options.scenario)
        self.transcriber = options.transcriber
        self.on_fault = on_fault or (lambda kind: None)
        """Act out a transport fault (``drop_data_channel``, ``close_peer``); ``close`` ends
        the transport after ``session.closed``."""
        self.speed = options.speed
        self.started = False
        self.muted = False
        self.history: list[dict[str, Any]] = []
        """What was said and done, as GA items, for the responder."""
        self.expires_at = int(time.time()) + options.live_session_seconds
        self.format = LiveFormat(None)
        self._send = send
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._closing = False
        self._reflect = bytearray()
        self._active_at = time.monotonic()
        self.input = InputAudio(TURN_TAKING)
        self.output = LiveOutput(self, playback)
        self.turns = LiveTurns(self)
        self.replies = LiveReplies(self)
        self.delegations = Delegations(self)
        self.usage = LiveUsage(split=transport == "webrtc")

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """The data channel opened: a WebRTC session (its config known) starts now."""
        if self.session is not None and not self.started:
            self.begin(self.session, None)

    def begin(self, session: dict[str, Any], client_event_id: str | None) -> None:
        """Start with a validated config: ``session.started``, then the voice runs."""
        self.session = session
        self.format = LiveFormat((session.get("audio") or {}).get("format"))
        self.started = True
        self.history.extend(_history(session.get("input") or []))
        self.usage.start()
        self.output.start()
        self.emit("session.started", session=self.resource(), client_event_id=client_event_id)
        if self.primary == "data_channel" and "client" in session:
            self.emit("info", code="data_channel_permissions", message=self._permissions_message())
        self.spawn(self._expire())
        if session.get("idle_timeout_s") and self.transport == "webrtc":
            self.spawn(self._watch_idle(int(session["idle_timeout_s"])))

    async def close(self) -> None:
        """Stop everything in flight (the transport went away)."""
        self._closed = True
        self.record.closed = True
        self.replies.cancel_all()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close_session(
        self, client_event_id: str | None, reason: str = "close_requested"
    ) -> None:
        """``session.close`` (or expiry): let speech finish, report ``session.closed``, end the
        transport."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._drain(), _DRAIN_S / self.speed)
        self.replies.cancel_all()
        self.emit(
            "session.closed",
            reason=reason,
            session=self.resource(),
            usage=self.usage.report(),
            client_event_id=client_event_id,
        )
        self.on_fault("close")

    async def _expire(self) -> None:
        await asyncio.sleep(max(0.0, self.options.live_session_seconds))
        await self.close_session(None, reason="expired")

    async def _drain(self) -> None:
        turn = self.replies.current
        if turn is not None and turn.task is not None:
            await asyncio.wait({turn.task})
        await self.output.idle.wait()

    # ---- inbound ---------------------------------------------------------------------------

    def handle_message(self, text: str | bytes, source: Source | None = None) -> None:
        """One client event as received on the wire (JSON text)."""
        try:
            event = read_event(text)
        except ClientError as exc:
            self.error(exc.code, exc.message)
            return
        self.handle_event(event, source)

    def handle_event(self, event: dict[str, Any], source: Source | None = None) -> None:
        """One client event, already parsed, from ``source`` (default: the primary)."""
        source = source or self.primary
        self.record.note_client(event)
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        kind = event.get("type")
        try:
            handler = self.handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise ClientError(
                    "invalid_value",
                    f"Invalid value: {kind!r}. Supported values are: {', '.join(self.handlers)}.",
                    "type",
                )
            if kind in NEVER_ON[source]:
                raise ClientError(
                    "invalid_value", f"{kind} cannot be sent on {_where(source)}.", "type"
                )
            if source == "data_channel" and not self._client_allowed(str(kind)):
                raise ClientError(
                    "invalid_value",
                    f"{kind} is not in this session's client.data_channel.allowed_client_events.",
                    "type",
                )
            if not self.started and kind != "session.start":
                raise ClientError(
                    "invalid_value",
                    "Send session.start first and wait for session.started.",
                    "type",
                )
            if self._closing:
                raise ClientError("invalid_value", "The session is closing.", "type")
            handler(self, event)
        except ClientError as exc:
            self.error(exc.code, exc.message, exc.param, event_id)

    def attach(self, deliver: Callable[[dict[str, Any]], None]) -> None:
        """A sideband joins: it hears everything from now, starting with a replayed
        ``session.started`` (not a full snapshot of what happened before)."""
        self.listeners.append(deliver)
        if self.started:
            replay = {"type": "session.started", "event_id": new_id("event")}
            self._deliver(deliver, {**replay, "session": self.resource()})

    def detach(self, deliver: Callable[[dict[str, Any]], None]) -> None:
        if deliver in self.listeners:
            self.listeners.remove(deliver)

    def feed_audio(self, pcm16: bytes) -> None:
        """The caller's audio (PCM16 24 kHz): from the track or ``session.input_audio.append``."""
        if self._closed or not self.started or not pcm16:
            return
        self.record.note_audio(from_pcm16(pcm16), keep=self.options.keep_audio)
        self._reflect_input(pcm16)
        if self.muted or self.output.fixture:
            pcm16 = bytes(len(pcm16))  # the model hears silence
        self.turns.feed(pcm16)

    # ---- outbound --------------------------------------------------------------------------

    def emit(self, kind: str, /, *, client_event_id: str | None = None, **fields: Any) -> None:
        """A server event to the primary (as its allow-list says) and every sideband."""
        if self._closed:
            return
        event: dict[str, Any] = {"type": kind, "event_id": new_id("event")}
        if client_event_id is not None:
            event["client_event_id"] = client_event_id
        event.update(fields)
        self.record.note_server(event)
        if self.primary != "data_channel" or self._server_allowed(event):
            self._deliver(self._send, event)
        for listener in list(self.listeners):
            self._deliver(listener, event)
        if self.options.drops_at(self.record.server_count):
            self.on_fault("drop_data_channel")

    def emit_sideband(self, kind: str, /, **fields: Any) -> None:
        """Audio only a sideband gets (no ``event_id``, not recorded)."""
        if not self._closed:
            for listener in list(self.listeners):
                self._deliver(listener, {"type": kind, **fields})

    def emit_frame(self, delta: str) -> None:
        """One frame of the primary WebSocket's continuous output (not recorded)."""
        if not self._closed:
            self._deliver(self._send, {"type": "session.output_audio.delta", "delta": delta})

    def error(
        self,
        code: str,
        message: str,
        param: str | None = None,
        client_event_id: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        error: dict[str, Any] = {"type": kind, "code": code, "message": message}
        if param is not None:
            error["param"] = param
        if client_event_id is not None:
            error["client_event_id"] = client_event_id
        self.emit("error", error=error, client_event_id=client_event_id)

    def server_error(self, code: str, message: str) -> None:
        self.error(code, message, kind="server_error")

    def report_usage(self) -> None:
        """``session.usage.updated`` (after each reply): cumulative seconds, context used."""
        chars = sum(len(json.dumps(item)) for item in self.history)
        ratio = min(1.0, math.ceil(chars / 4) / 32_000)
        self.emit(
            "session.usage.updated",
            usage=self.usage.report(),
            context_window={"usage_ratio": round(ratio, 4)},
        )

    # ---- the session, as the rooms need it ----------------------------------------------------

    def session_config(self) -> dict[str, Any]:
        return self.session or {}

    def resource(self) -> dict[str, Any]:
        """The ``SessionResource`` of ``session.started``/``updated``/``closed``."""
        config = self.session_config()
        audio: dict[str, Any] = {
            "output": {
                "voice": (config.get("audio") or {}).get("output", {}).get("voice") or "marin"
            }
        }
        if self.transport == "websocket":
            audio["format"] = (config.get("audio") or {}).get("format") or dict(PCM24)
        resource: dict[str, Any] = {
            "id": self.record.call_id,
            "expires_at": self.expires_at,
            "model": config.get("model") or "gpt-live-1",
            "status": "active",
            "audio": audio,
            "instructions": config.get("instructions") or DEFAULT_LIVE_INSTRUCTIONS,
        }
        for key in ("client", "delegation", "input", "safety_identifier", "store", "triggers"):
            if key in config:
                resource[key] = config[key]
        return resource

    def clock_ms(self) -> int:
        """The session timeline: audio heard or played since the start, whichever is further."""
        return max(self.input.position_ms, self.output.position_ms)

    def heard_speech(self) -> None:
        self._active_at = time.monotonic()
        if self.usage.paused:
            self.usage.resume()
            self.emit("session.resumed")

    def quiet(self) -> None:
        """The output has drained: idleness counts from now."""
        self._active_at = time.monotonic()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a task that :meth:`close` cancels."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- helpers ---------------------------------------------------------------------------

    def _deliver(self, deliver: Callable[[dict[str, Any]], None], event: dict[str, Any]) -> None:
        try:
            deliver(event)
        except Exception:  # a receiver went away; the session goes on
            log.debug("local backend: could not deliver %s", event.get("type"), exc_info=True)

    def _data_channel(self) -> dict[str, Any]:
        return (self.session_config().get("client") or {}).get("data_channel") or {}

    def _client_allowed(self, kind: str) -> bool:
        allowed = self._data_channel().get("allowed_client_events", "all")
        return allowed in ("all", None) or kind in allowed

    def _server_allowed(self, event: dict[str, Any]) -> bool:
        allowed = self._data_channel().get("allowed_server_events", "all")
        if allowed in ("all", None) or event["type"] in _ALWAYS_DELIVERED:
            return True
        inner = (
            (event.get("event") or {}).get("type") if event["type"] == "response.event" else None
        )
        return any(
            rule.get("type") == event["type"] and rule.get("response_event") in (None, inner)
            for rule in allowed
        )

    def _permissions_message(self) -> str:
        channel = self._data_channel()
        client = channel.get("allowed_client_events", "all")
        server = channel.get("allowed_server_events", "all")
        names = [r.get("type") for r in server] if isinstance(server, list) else server
        return f"Data channel permissions: client events {client}; server events {names}."

    def _reflect_input(self, pcm16: bytes) -> None:
        """A sideband hears the caller as ``session.input_audio.append`` (before muting)."""
        if not self.listeners:
            self._reflect.clear()
            return
        self._reflect += pcm16
        chunk = bytes_for_ms(_REFLECT_MS)
        while len(self._reflect) >= chunk:
            self.emit_sideband(
                "session.input_audio.append", audio=b64encode(bytes(self._reflect[:chunk]))
            )
            del self._reflect[:chunk]

    async def _watch_idle(self, timeout_s: int) -> None:
        """``idle_timeout_s`` (WebRTC): nobody spoke for that long, so inference pauses."""
        while True:
            await asyncio.sleep(0.25)
            idle = time.monotonic() - self._active_at
            if not self.usage.paused and not self.output.speaking and idle >= timeout_s:
                self.usage.pause()
                self.emit("session.paused")


DEFAULT_LIVE_INSTRUCTIONS = DEFAULT_INSTRUCTIONS.replace("Realtime API", "GPT-Live API")
"""What ``session.started`` shows when the session gives no instructions."""


def _history(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Startup ``input`` (text only) as items the responder reads (developer as system)."""
    history = []
    for item in items:
        role = item["role"]
        kind = "output_text" if role == "assistant" else "input_text"
        text = item["content"][0]["text"]
        history.append(
            message_item(
                item.get("id") or new_id("item"),
                "system" if role == "developer" else role,
                "completed",
                [{"type": kind, "text": text}],
            )
        )
    return history


def _where(source: Source) -> str:
    return {
        "websocket": "a primary WebSocket",
        "data_channel": "the WebRTC data channel",
        "sideband": "a sideband connection",
    }[source]
