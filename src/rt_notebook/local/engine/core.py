"""One realtime session of the local backend: GA client events in, GA server events out.

Transport-agnostic: the WebRTC and WebSocket glue feed it client events and input audio and
deliver what it emits. Flows follow the order documented for OpenAI's GA Realtime API. The
coordinator owns the session config, the record and delivery; the work is done in rooms:

- :mod:`.dispatch`: the client events, a table of type → handler;
- :mod:`.audio_in` (buffer + VAD) and :mod:`.turns` (speech events, commits, transcription);
- :mod:`.responses` (response generation), streamed by :mod:`.speech_out`;
- :mod:`.audio_out` (WebRTC playback), :mod:`.conversation` (items), :mod:`.usage` (tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ...wire.audio import duration_ms, from_pcm16
from ..playback import Playback
from ..responders import make_responder
from .audio_formats import InputDecoder, encode
from .audio_in import InputAudio
from .audio_out import OutputAudio
from .conversation import Conversation
from .dispatch import REALTIME, Handler
from .errors import ClientError, read_event
from .ids import new_id
from .options import EngineOptions
from .responses import Responses
from .turns import UserTurns

log = logging.getLogger(__name__)

Transport = Literal["webrtc", "websocket"]


RECORD_EVENTS = 5000
"""How many of the latest client and server events a session record keeps, each."""

# Audio payloads, kept in the record only by their length (a call streams audio, silence
# included, for as long as it lasts): event type → the field with the base64 audio.
_AUDIO_FIELDS = {
    "input_audio_buffer.append": "audio",
    "session.input_audio.append": "audio",
    "response.output_audio.delta": "delta",
    "session.output_audio.delta": "delta",
}


def _recorded(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the record keeps it: base64 audio replaced by ``<field>_chars``."""
    name = _AUDIO_FIELDS.get(event.get("type"))  # type: ignore[arg-type]
    audio = event.get(name) if name else None
    if name is None or not isinstance(audio, str):
        return event
    return {**{k: v for k, v in event.items() if k != name}, f"{name}_chars": len(audio)}


@dataclass
class SessionRecord:
    """What a session received and sent, for tests and teaching: bounded (the latest
    ``RECORD_EVENTS`` each way, audio by its length) and counted in full."""

    call_id: str
    transport: Transport
    client_events: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=RECORD_EVENTS)
    )
    server_events: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=RECORD_EVENTS)
    )
    client_count: int = 0
    """Client events received in all (the deque keeps the latest)."""
    server_count: int = 0
    """Server events sent in all."""
    audio_in_samples: int = 0
    audio_in_sum_squares: float = 0.0
    turns: list[dict[str, Any]] = field(default_factory=list)
    """Committed user audio: ``{item_id, audio_start_ms, audio_end_ms, rms, transcript}``."""
    audio_in: list[np.ndarray] = field(default_factory=list)
    """All input audio (int16, 24 kHz), only when the backend keeps audio."""
    closed: bool = False

    def note_client(self, event: dict[str, Any]) -> None:
        self.client_count += 1
        self.client_events.append(_recorded(event))

    def note_server(self, event: dict[str, Any]) -> None:
        self.server_count += 1
        self.server_events.append(_recorded(event))

    def note_audio(self, samples: np.ndarray, *, keep: bool) -> None:
        """Count input audio (int16, 24 kHz); keep a copy when asked."""
        self.audio_in_samples += len(samples)
        self.audio_in_sum_squares += float(np.square(samples / 32768.0).sum())
        if keep:
            self.audio_in.append(samples.copy())

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


class SessionEngine:
    """The protocol state machine of one call or WebSocket connection."""

    handlers: Mapping[str, Handler] = REALTIME
    """Client event type → handler."""

    def __init__(
        self,
        *,
        session: dict[str, Any],
        options: EngineOptions,
        transport: Transport,
        send: Callable[[dict[str, Any]], None],
        call_id: str,
        playback: Playback | None = None,
        on_fault: Callable[[str], None] | None = None,
    ) -> None:
        self.session = session
        self.options = options
        self.transport = transport
        self.record = SessionRecord(call_id=call_id, transport=transport)
        self.conversation_id = new_id("conv")
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        """Extra receivers of every server event (sideband connections)."""
        self.responder = make_responder(options.scenario)
        self.transcriber = options.transcriber
        self.on_fault = on_fault or (lambda kind: None)
        """Simulate a transport fault (``drop_data_channel``, ``close_peer``)."""
        self.speed = options.speed
        """How much faster than real time replies are paced."""
        self.voice_locked = False
        """True once the assistant has produced audio: the voice can no longer change."""
        self._send = send
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._expiry: asyncio.TimerHandle | None = None
        self.conversation = Conversation(self.emit)
        self.input = InputAudio(self.turn_detection())
        self.decoder = InputDecoder()
        self.output = OutputAudio(self, playback)
        self.turns = UserTurns(self)
        self.responses = Responses(self)

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Send ``session.created``: call when the data channel or socket is open. The
        session ends at its ``expires_at``, as OpenAI's do."""
        self.emit("session.created", session=self.public_session())
        expires_at = self.session.get("expires_at")
        with contextlib.suppress(RuntimeError):  # no loop (a synchronous test): no expiry
            if isinstance(expires_at, (int, float)):
                self._expiry = asyncio.get_running_loop().call_later(
                    max(0.0, expires_at - time.time()), self._expire
                )

    def _expire(self) -> None:
        self._error("session_expired", "Your session hit the maximum duration.")
        self.on_fault("close")  # after the error has gone out

    async def close(self) -> None:
        """Stop everything in flight."""
        self._closed = True
        self.record.closed = True
        if self._expiry is not None:
            self._expiry.cancel()
        self.responses.cancel_all()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def active_response(self) -> str | None:
        """The id of the response writing to the conversation, if any."""
        run = self.responses.run
        return run.id if run else None

    # ---- inbound ---------------------------------------------------------------------

    def handle_message(self, text: str | bytes) -> None:
        """One client event as received on the wire (JSON text)."""
        try:
            event = read_event(text)
        except ClientError as exc:
            self._error(exc.code, exc.message)
            return
        self.handle_event(event)

    def handle_event(self, event: dict[str, Any]) -> None:
        """One client event, already parsed."""
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
            handler(self, event)
        except ClientError as exc:
            self._error(exc.code, exc.message, exc.param, event_id)

    def feed_audio(self, pcm16: bytes) -> None:
        """Input audio (PCM16, 24 kHz, mono) from the WebRTC track or WebSocket appends."""
        if self._closed or not pcm16:
            return
        self.record.note_audio(from_pcm16(pcm16), keep=self.options.keep_audio)
        self.turns.feed(pcm16)

    # ---- outbound --------------------------------------------------------------------

    def emit(self, kind: str, /, **fields_: Any) -> None:
        """Send a server event to the client and every listener."""
        if self._closed:
            return
        event = {"type": kind, "event_id": new_id("event"), **fields_}
        self.record.note_server(event)
        for deliver in (self._send, *self.listeners):
            try:
                deliver(event)
            except Exception:  # a receiver went away; the session goes on
                log.debug("local backend: could not deliver %s", kind, exc_info=True)
        if self.options.drops_at(self.record.server_count):
            self.on_fault("drop_data_channel")

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
        self.emit("error", error=error)

    # ---- the session config, as the rooms need it ---------------------------------------

    def public_session(self) -> dict[str, Any]:
        return copy.deepcopy(self.session)

    def turn_detection(self) -> dict[str, Any] | None:
        config = self.session["audio"]["input"].get("turn_detection")
        return dict(config) if config else None

    def voice(self) -> object:
        return self.session["audio"]["output"].get("voice")

    def encode(self, samples: np.ndarray, side: str) -> bytes:
        """Audio in the session's ``input`` or ``output`` format."""
        return encode(samples, self.session["audio"][side]["format"]["type"])

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a task that :meth:`close` cancels."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
