"""The local backend's front door: calls, ephemeral keys, hangups, WebSocket sessions."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ..errors import RealtimeError
from ..wire.live_config import LiveTransport, validate_live_session
from ..wire.models import DEFAULT_MODEL
from ..wire.protocols import protocol_for_model
from ..wire.session_config import SessionConfigError, apply_update, validate_session
from ..wire.sideband import InProcessSideband, Sideband
from ..wire.signaling import CallAnswer, check_depth
from .engine import SessionEngine, SessionRecord, Transport, default_session, new_id
from .engine.live import LiveEngine
from .engine.options import LIVE_SESSION_SECONDS, EngineOptions
from .model_check import live_model_refusal, model_refusal
from .responders import ResponderSpec
from .transcribe import Transcriber, make_transcriber

Engine = SessionEngine | LiveEngine
"""A running session of either protocol."""


_RELEASE_AFTER_S = 1.0  # after a call ends (and at most once a second)
_libc: Any = None


def release_freed_memory() -> None:
    """Free what ended calls left and give it back to the OS.

    An ended call's peer connection sits in reference cycles, so its codecs, DTLS and SCTP
    buffers (memory in C) wait for Python's rare full collection; and glibc keeps what they
    free in per-thread arenas. Without this the process grows with every call it ever had.
    """
    global _libc
    gc.collect()
    if _libc is False:
        return
    try:
        _libc = _libc or ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _libc.malloc_trim(0)
    except (OSError, AttributeError):
        _libc = False  # not glibc


@dataclass
class LocalOptions:
    """How the local backend behaves, including the faults it acts out on demand."""

    scenario: ResponderSpec = None
    """Replies: ``None`` (the default responder), a list of scenario steps, or a callable."""
    transcriber: str | Transcriber | None = None
    """Input transcription: ``None``/"honest" (never invents words) or "pocketsphinx"."""
    model: str = DEFAULT_MODEL
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
    session_seconds: int = 3600
    """How long a Realtime session lasts: its ``expires_at``, after which it ends with a
    ``session_expired`` error (OpenAI's maximum is 60 minutes)."""
    live_session_seconds: int = LIVE_SESSION_SECONDS
    """How long a GPT-Live session lasts before ``session.closed`` (reason ``expired``)."""
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
        self.sessions: dict[str, Engine | EndedSession] = {}
        """Running sessions and the last ``max_records`` ended ones, by call id (Realtime
        WebRTC ``rtc_…``, WebSocket ``ws_…``; GPT-Live ``live_…``), oldest first."""
        self._calls: dict[str, Any] = {}
        self._secrets: dict[str, _Secret] = {}
        self._release: asyncio.TimerHandle | None = None
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
        call_id = f"rtc_{secrets.token_hex(16)}"
        return await self._answer(sdp, call_id, SessionEngine, config, scenario)

    async def create_live_call(
        self, sdp: str, session: object, *, scenario: ResponderSpec = None
    ) -> CallAnswer:
        """``POST /live/sessions``: answer a WebRTC offer for a GPT-Live session config.

        The session id (``live_…``) is the call id, for the sideband (``/attach``) and hangup.
        """
        config = self.live_session_config(session, "webrtc")
        return await self._answer(sdp, new_id("live"), LiveEngine, config, scenario)

    async def _answer(
        self,
        sdp: str,
        call_id: str,
        engine_class: type[SessionEngine] | type[LiveEngine],
        config: dict[str, Any],
        scenario: ResponderSpec,
    ) -> CallAnswer:
        """Start a WebRTC call running an ``engine_class`` session of ``config``."""
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
        options = self._engine_options("webrtc", scenario)
        call = RtcCall(
            call_id,
            lambda send, playback, fault: engine_class(
                session=config,
                options=options,
                transport="webrtc",
                send=send,
                call_id=call_id,
                playback=playback,
                on_fault=fault,
            ),
            self._ended,
        )
        self._calls[call_id] = call
        self.sessions[call_id] = cast(Engine, call.engine)
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
        live = self.live_session(call_id)
        if live is not None:
            return LiveSideband(call_id, live)
        engine = self.live(call_id)
        if engine is None:
            raise RealtimeError(404, "call_not_found", f"No call {call_id!r} on the local backend.")
        return InProcessSideband(call_id, engine)

    def live(self, call_id: str) -> SessionEngine | None:
        """The engine of a Realtime session still running, else ``None``."""
        engine = self.sessions.get(call_id)
        if isinstance(engine, SessionEngine) and not engine.record.closed:
            return engine
        return None

    def live_session(self, session_id: str) -> LiveEngine | None:
        """The engine of a GPT-Live session still running, else ``None``."""
        engine = self.sessions.get(session_id)
        if isinstance(engine, LiveEngine) and not engine.record.closed:
            return engine
        return None

    def as_live(self) -> LocalLive:
        """This backend as a GPT-Live :class:`~rt_notebook.wire.signaling.RealtimeBackend`."""
        return LocalLive(self)

    async def hangup(self, call_id: str) -> None:
        """End a WebRTC call."""
        call = self._calls.get(call_id)
        if call is None:
            raise RealtimeError(404, "call_not_found", f"No active call {call_id!r}.")
        await call.close()

    async def end_session(self, call_id: str) -> None:
        """End a WebSocket session (its socket closed): free the engine, keep the record."""
        engine = self.sessions.get(call_id)
        if isinstance(engine, (SessionEngine, LiveEngine)):
            await engine.close()
        self._ended(call_id)

    async def close(self) -> None:
        """Hang up every call and end every session."""
        for call in list(self._calls.values()):
            await call.close()
        for call_id in list(self.sessions):
            await self.end_session(call_id)
        if self._release is not None:
            self._release.cancel()
            self._release = None

    # ---- pieces the HTTP and WebSocket front ends share -----------------------------

    def session_config(self, requested: object) -> dict[str, Any]:
        """The effective session for a request: our defaults updated with a valid config."""
        check_depth(requested, "session")
        model = requested.get("model") if isinstance(requested, dict) else None
        if isinstance(model, str) and protocol_for_model(model) == "live":  # as OpenAI answers
            raise RealtimeError(
                400,
                "invalid_model",
                f"{model} is a GPT-Live model: it takes Live sessions (/v1/live/sessions), "
                "not Realtime ones.",
                param="session.model",
            )
        try:
            update = validate_session({} if requested is None else requested)
        except SessionConfigError as exc:
            raise exc.as_http("invalid_value") from None  # OpenAI's code for it
        base = default_session(update.get("model") or self.options.model)
        base["expires_at"] = int(time.time()) + self.options.session_seconds
        session = apply_update(base, update)
        refusal = model_refusal(session)
        if refusal is not None:
            code, message, param = refusal
            raise RealtimeError(400, code, message, param=param)
        return session

    def live_session_config(self, requested: object, transport: LiveTransport) -> dict[str, Any]:
        """A GPT-Live startup config, checked for ``transport``; a 400 when invalid."""
        check_depth(requested, "session")
        try:
            session = validate_live_session(requested, transport=transport)
        except SessionConfigError as exc:
            raise exc.as_http("invalid_value") from None
        refusal = live_model_refusal(session)
        if refusal is not None:
            code, message, param = refusal
            raise RealtimeError(400, code, message, param=param)
        return session

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
        engine = SessionEngine(
            session=config,
            options=self._engine_options("websocket"),
            transport="websocket",
            send=send,
            call_id=call_id,
        )
        self.sessions[call_id] = engine
        return engine

    def live_websocket_session(
        self, send: Callable[[dict[str, Any]], None], on_fault: Callable[[str], None]
    ) -> LiveEngine:
        """A GPT-Live WebSocket session (``/v1/live/sessions``); it starts at ``session.start``.

        ``on_fault`` ends the socket (after ``session.closed``, or as a simulated fault).
        """
        session_id = new_id("live")
        engine = LiveEngine(
            session=None,
            options=self._engine_options("websocket"),
            transport="websocket",
            send=send,
            call_id=session_id,
            on_fault=on_fault,
        )
        self.sessions[session_id] = engine
        return engine

    def _engine_options(
        self, transport: Transport, scenario: ResponderSpec = None
    ) -> EngineOptions:
        """What a new session of either protocol takes from the settings as they are now;
        ``scenario`` replaces the backend's for this session. Only WebSocket sessions go
        faster than real time (a WebRTC track plays at its own pace)."""
        options = self.options
        return EngineOptions(
            scenario=scenario if scenario is not None else options.scenario,
            transcriber=self._transcriber,
            drop_after_events=options.drop_data_channel_after,
            keep_audio=options.keep_audio,
            realtime_factor=options.realtime_factor if transport == "websocket" else 1.0,
            live_session_seconds=options.live_session_seconds,
        )

    def _release_memory(self) -> None:
        self._release = None
        release_freed_memory()

    def _ended(self, call_id: str) -> None:
        """A call or session ended: drop its engine (and peer connection), keep its record."""
        if self._calls.pop(call_id, None) is not None and self._release is None:
            self._release = asyncio.get_running_loop().call_later(
                _RELEASE_AFTER_S, self._release_memory
            )
        engine = self.sessions.pop(call_id, None)
        if engine is not None:
            self.sessions[call_id] = EndedSession(engine.record, engine.session or {})  # now newest
        ended = [k for k, v in self.sessions.items() if isinstance(v, EndedSession)]
        for old in ended[: max(0, len(ended) - self.options.max_records)]:
            del self.sessions[old]


class LiveSideband(Sideband):
    """A sideband on a GPT-Live session of the in-process local backend (no socket)."""

    def __init__(self, call_id: str, engine: LiveEngine) -> None:
        super().__init__(call_id)
        self._engine = engine
        engine.attach(self._deliver)

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        self._engine.handle_event(event, "sideband")

    async def close(self) -> None:
        self._engine.detach(self._deliver)


class LocalLive:
    """The local backend speaking GPT-Live, as a ``RealtimeBackend`` (the JSON exchange)."""

    name = "local"

    def __init__(self, backend: LocalRealtime) -> None:
        self.backend = backend

    async def create_call(
        self, sdp: str, session: dict[str, Any], *, scenario: ResponderSpec = None
    ) -> CallAnswer:
        return await self.backend.create_live_call(sdp, session, scenario=scenario)

    async def create_client_secret(
        self, session: dict[str, Any], expires_after_seconds: int
    ) -> dict[str, Any]:
        raise RealtimeError(
            400,
            "ephemeral_keys_unsupported",
            "GPT-Live has no ephemeral keys: the server relays the browser's offer "
            "(POST /v1/live/sessions) with its own key.",
        )

    async def join_call(self, call_id: str, timeout: float = 0.0) -> Sideband:
        if self.backend.live_session(call_id) is None:
            raise RealtimeError(
                404, "session_id_not_found", f"No Live session {call_id!r} on the local backend."
            )
        return await self.backend.join_call(call_id, timeout)
