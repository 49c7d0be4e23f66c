"""The local backend's front door: calls, ephemeral keys, hangups, WebSocket sessions."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import RealtimeError
from ..wire.session_config import SessionConfigError, apply_update, validate_session
from ..wire.signaling import CallAnswer, check_depth
from .engine import SessionEngine, SessionRecord, Transport, default_session, new_id
from .playback import Playback
from .responders import ResponderSpec, make_responder
from .transcribe import Transcriber, make_transcriber

if TYPE_CHECKING:
    from ..wire.sideband import Sideband


@dataclass
class LocalOptions:
    """How the local backend behaves, including the faults it acts out on demand."""

    scenario: ResponderSpec = None
    """Replies: ``None`` (the default responder), a list of scenario steps, or a callable."""
    transcriber: str | Transcriber | None = None
    """Input transcription: ``None``/"honest" (never invents words) or "pocketsphinx"."""
    model: str = "gpt-realtime"
    """The model a session reports when it asks for none."""
    answer_delay: float = 0.0
    """Fault: seconds to wait before answering an SDP offer."""
    http_error: dict[str, Any] | None = None
    """Fault: answer calls with ``{"status", "code", "message"}`` instead of an SDP."""
    drop_data_channel_after: int | None = None
    """Fault: close the data channel after this many server events."""
    keep_audio: bool = False
    """Keep every session's input audio in its record (for tests)."""
    realtime_factor: float = 1.0
    """Speed of simulated generation; WebSocket sessions may go faster than real time."""
    max_records: int = 100
    """Ended sessions whose records are kept for ``sessions`` (the oldest go first)."""
    max_secrets: int = 1000
    """Unexpired ephemeral keys kept; minting more forgets the oldest."""


@dataclass
class EndedSession:
    """What an ended session leaves: its record and config. Its engine and call are freed."""

    record: SessionRecord
    session: dict[str, Any]


@dataclass
class _Secret:
    session: dict[str, Any]
    expires_at: int


class LocalRealtime:
    """A protocol-faithful realtime server that needs no API key.

    A :class:`~rt_notebook.wire.signaling.RealtimeBackend`, like OpenAI's HTTP API.
    """

    name = "local"

    def __init__(self, options: LocalOptions | None = None, **kwargs: Any) -> None:
        self.options = options or LocalOptions(**kwargs)
        self.sessions: dict[str, SessionEngine | EndedSession] = {}
        """Live sessions and the last ``max_records`` ended ones, by call id (WebRTC
        ``rtc_…``, WebSocket ``ws_…``), oldest first."""
        self._calls: dict[str, Any] = {}
        self._secrets: dict[str, _Secret] = {}
        self._transcriber = (
            self.options.transcriber
            if not isinstance(self.options.transcriber, (str, type(None)))
            else make_transcriber(self.options.transcriber)
        )

    # ---- the backend interface (wire.signaling.RealtimeBackend) ----------------------

    async def create_call(
        self, sdp: str, session: dict[str, Any], *, scenario: ResponderSpec = None
    ) -> CallAnswer:
        """Answer a WebRTC offer for a session config (the multipart ``/calls`` form).

        ``scenario`` scripts this call's replies instead of the backend's own responder.
        """
        return await self.create_call_for_session(
            sdp, self.session_config(session), scenario=scenario
        )

    async def create_call_for_session(
        self, sdp: str, config: dict[str, Any], *, scenario: ResponderSpec = None
    ) -> CallAnswer:
        """Answer a WebRTC offer for an effective session (e.g. an ephemeral key's)."""
        from .rtc import RtcCall  # aiortc loads only when WebRTC is used

        faults = self.options
        if faults.answer_delay:
            await asyncio.sleep(faults.answer_delay)
        if faults.http_error:
            error = faults.http_error
            raise RealtimeError(
                int(error.get("status", 500)),
                str(error.get("code", "fault")),
                str(error.get("message", "Injected failure.")),
            )
        call_id = f"rtc_{secrets.token_hex(16)}"

        def make_engine(
            send: Callable[[dict[str, Any]], None],
            playback: Playback,
            on_fault: Callable[[str], None],
        ) -> SessionEngine:
            return self._engine(config, "webrtc", send, call_id, playback, on_fault, scenario)

        call = RtcCall(call_id, make_engine, self._ended)
        self._calls[call_id] = call
        self.sessions[call_id] = call.engine
        try:
            answer = await call.answer(sdp)
        except Exception as exc:
            await call.close()
            raise RealtimeError(
                400, "invalid_offer", f"The local backend could not use this SDP offer: {exc}"
            ) from None
        return CallAnswer(sdp=answer, call_id=call_id)

    async def create_client_secret(
        self, session: dict[str, Any], expires_after_seconds: int
    ) -> dict[str, Any]:
        """Mint an ``ek_…`` key bound to a session config."""
        config = self.session_config(session)
        value = f"ek_{secrets.token_hex(16)}"
        now = int(time.time())
        self._secrets = {k: v for k, v in self._secrets.items() if v.expires_at > now}
        while len(self._secrets) >= max(1, self.options.max_secrets):
            del self._secrets[next(iter(self._secrets))]
        expires_at = now + expires_after_seconds
        self._secrets[value] = _Secret(config, expires_at)
        return {"value": value, "expires_at": expires_at, "session": config}

    async def join_call(self, call_id: str, timeout: float = 0.0) -> Sideband:
        """A sideband to a call of this backend, in-process (no socket, so no wait)."""
        from ..wire.sideband import InProcessSideband

        engine = self.live(call_id)
        if engine is None:
            raise RealtimeError(404, "call_not_found", f"No call {call_id!r} on the local backend.")
        return InProcessSideband(call_id, engine)

    def live(self, call_id: str) -> SessionEngine | None:
        """The engine of a session still running, else ``None``."""
        engine = self.sessions.get(call_id)
        if isinstance(engine, SessionEngine) and not engine.record.closed:
            return engine
        return None

    async def hangup(self, call_id: str) -> None:
        """End a WebRTC call."""
        call = self._calls.get(call_id)
        if call is None:
            raise RealtimeError(404, "call_not_found", f"No active call {call_id!r}.")
        await call.close()

    async def end_session(self, call_id: str) -> None:
        """End a WebSocket session (its socket closed): free the engine, keep the record."""
        engine = self.sessions.get(call_id)
        if isinstance(engine, SessionEngine):
            await engine.close()
        self._ended(call_id)

    async def close(self) -> None:
        """Hang up every call and end every session."""
        for call in list(self._calls.values()):
            await call.close()
        for call_id in list(self.sessions):
            await self.end_session(call_id)

    # ---- pieces the HTTP and WebSocket front ends share -----------------------------

    def session_config(self, requested: object) -> dict[str, Any]:
        """The effective session for a request: our defaults updated with a valid config."""
        check_depth(requested, "session")
        try:
            update = validate_session({} if requested is None else requested)
        except SessionConfigError as exc:
            raise exc.as_http("invalid_value") from None  # OpenAI's code for it
        base = default_session(update.get("model") or self.options.model)
        return apply_update(base, update)

    def secret_session(self, key: str) -> dict[str, Any]:
        """The session bound to an ephemeral key; 401 when unknown or expired."""
        secret = self._secrets.get(key)
        if secret is None:
            raise RealtimeError(
                401, "invalid_api_key", "Incorrect API key provided: this ephemeral key is unknown."
            )
        if time.time() >= secret.expires_at:
            raise RealtimeError(401, "expired_api_key", "This ephemeral key has expired.")
        return secret.session

    def websocket_session(
        self, send: Callable[[dict[str, Any]], None], session: dict[str, Any] | None = None
    ) -> SessionEngine:
        """A WebSocket session (``/v1/realtime?model=…``); call ``start()`` once open."""
        config = session or self.session_config({})
        call_id = new_id("ws")
        engine = self._engine(config, "websocket", send, call_id, None, None)
        self.sessions[call_id] = engine
        return engine

    def _engine(
        self,
        config: dict[str, Any],
        transport: Transport,
        send: Callable[[dict[str, Any]], None],
        call_id: str,
        playback: Playback | None,
        on_fault: Callable[[str], None] | None,
        scenario: ResponderSpec = None,
    ) -> SessionEngine:
        return SessionEngine(
            session=config,
            transport=transport,
            send=send,
            call_id=call_id,
            responder=make_responder(scenario if scenario is not None else self.options.scenario),
            transcriber=self._transcriber,
            playback=playback,
            on_fault=on_fault,
            drop_after_events=self.options.drop_data_channel_after,
            keep_audio=self.options.keep_audio,
            realtime_factor=self.options.realtime_factor if transport == "websocket" else 1.0,
        )

    def _ended(self, call_id: str) -> None:
        """A call or session ended: drop its engine (and peer connection), keep its record."""
        self._calls.pop(call_id, None)
        engine = self.sessions.pop(call_id, None)
        if engine is not None:
            self.sessions[call_id] = EndedSession(engine.record, engine.session)  # now newest
        ended = [k for k, v in self.sessions.items() if isinstance(v, EndedSession)]
        for old in ended[: max(0, len(ended) - self.options.max_records)]:
            del self.sessions[old]
