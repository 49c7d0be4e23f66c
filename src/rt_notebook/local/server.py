"""The local backend over HTTP and WebSocket, shaped like ``https://api.openai.com/v1``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from tornado import httputil, web, websocket
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from ..errors import RealtimeError, redacting_logger
from ..wire.scenario import scenario_from_request
from ..wire.sdp import check_offer
from ..wire.signaling import MAX_OFFER_BYTES, SESSION_BODY_ALLOWANCE, read_json_object
from .access import Access, requested_headers
from .backend import EndedSession, Engine, LocalRealtime
from .engine import SessionEngine
from .engine.live import LiveEngine

log = redacting_logger(__name__)

_closing: set[asyncio.Future[None]] = set()  # sessions being closed after their socket went


MAX_BODY_BYTES = 4 << 20
"""Request bodies over this are cut off unread (an offer and a session take about 1 MB)."""


def make_app(backend: LocalRealtime, access: Access | None = None) -> web.Application:
    """A tornado app serving ``/v1/realtime/...`` from ``backend`` to whom ``access`` lets in."""
    kwargs = {"backend": backend, "access": access or Access()}
    return web.Application(
        [
            (r"/v1/realtime/calls", CallsHandler, kwargs),
            (r"/v1/realtime/calls/([^/]+)/hangup", HangupHandler, kwargs),
            (r"/v1/realtime/client_secrets", ClientSecretsHandler, kwargs),
            (r"/v1/realtime", RealtimeSocket, kwargs),
            (r"/v1/live/sessions", LiveSessionsEndpoint, kwargs),
            (r"/v1/live/sessions/([^/]+)/attach", LiveAttachSocket, kwargs),
            (r"/v1/live/sessions/([^/]+)/hangup", LiveHangupHandler, kwargs),
            (r"/v1/live/sessions/([^/]+)/(fork|accept|refer|reject|content)", LiveNotHere, kwargs),
            (r"/v1/local/sessions", SessionsHandler, kwargs),
            (r"/v1/local/sessions/([^/]+)", SessionsHandler, kwargs),
        ],
        websocket_ping_interval=20,
    )


def check_key(access: Access, backend: LocalRealtime, auth: str, *, ephemeral: bool) -> str:
    """The Bearer key of a request if ``access`` accepts it here, else a 401.

    ``ek_`` keys must be minted and unexpired; where OpenAI takes none (``ephemeral=False``)
    they pass only when the backend takes any key.
    """
    scheme, _, key = auth.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise RealtimeError(
            401,
            "missing_api_key",
            "You didn't provide an API key. Provide it in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            + (" The local backend accepts any key." if access.api_key is None else ""),
        )
    if key.startswith("ek_") and (ephemeral or access.api_key is None):
        if ephemeral:
            backend.secret_session(key)  # 401 when unknown or expired
        return key
    if not access.key_allowed(key):
        raise RealtimeError(401, "invalid_api_key", "Incorrect API key provided.")
    return key


def door_error(access: Access, request: httputil.HTTPServerRequest) -> RealtimeError | None:
    """A 403 for a request from a foreign page or addressed to a foreign host name."""
    if not access.host_allowed(request.host):
        return RealtimeError(
            403, "host_not_allowed", f"This server does not answer to {request.host_name!r}."
        )
    origin = request.headers.get("Origin")
    if not access.origin_allowed(origin):
        return RealtimeError(
            403,
            "origin_not_allowed",
            f"Pages from {origin!r} may not use this local backend. Start it with "
            f"--allow-origin {origin} to allow them.",
        )
    return None


class _Handler(web.RequestHandler):
    """OpenAI's error shape; CORS for allowed pages only; Bearer auth."""

    def initialize(self, backend: LocalRealtime, access: Access) -> None:
        self.backend = backend
        self.access = access

    def prepare(self) -> None:
        refused = door_error(self.access, self.request)
        if refused is not None:
            self.fail(refused)
            return
        if self.request.headers.get("Origin"):
            self.set_header("Access-Control-Allow-Origin", self.request.headers["Origin"])
            self.set_header("Access-Control-Expose-Headers", "Location")
        self.set_header("Vary", "Origin")

    def options(self, *args: str) -> None:
        """A CORS preflight from an allowed page: allow the headers it asks for."""
        asked = self.request.headers.get("Access-Control-Request-Headers")
        self.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.set_header(
            "Access-Control-Allow-Headers",
            requested_headers(asked) or "Authorization, Content-Type",
        )
        self.set_header("Access-Control-Max-Age", "600")
        if self.request.headers.get("Access-Control-Request-Private-Network") == "true":
            self.set_header("Access-Control-Allow-Private-Network", "true")
        self.add_header("Vary", "Access-Control-Request-Headers")
        self.set_status(204)
        self.finish()

    def fail(self, error: RealtimeError) -> None:
        self.set_status(error.status)
        self.set_header("Content-Type", "application/json")
        kind = "invalid_request_error" if error.status < 500 else "server_error"
        self.finish(
            json.dumps(
                {
                    "error": {
                        "message": error.message,
                        "type": kind,
                        "param": error.param,
                        "code": error.code,
                    }
                }
            )
        )

    def bearer(self, *, ephemeral: bool = False) -> str:
        """The request's key, checked (see :func:`check_key`)."""
        auth = self.request.headers.get("Authorization", "")
        return check_key(self.access, self.backend, auth, ephemeral=ephemeral)


class CallsHandler(_Handler):
    """``POST /v1/realtime/calls``: multipart ``sdp`` + ``session``, or raw SDP with an ``ek_``."""

    async def post(self) -> None:
        try:
            key = self.bearer(ephemeral=True)
            content_type = self.request.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                sdp, session = self._multipart(content_type)
                answer = await self.backend.create_call(
                    check_offer(sdp, max_bytes=MAX_OFFER_BYTES), session
                )
            elif content_type.startswith("application/sdp"):
                config = self.backend.secret_session(key)
                offer = check_offer(
                    self.request.body.decode(errors="replace"), max_bytes=MAX_OFFER_BYTES
                )
                answer = await self.backend.create_call_for_session(offer, config)
            else:
                raise RealtimeError(
                    400,
                    "unsupported_content_type",
                    "Send multipart/form-data with 'sdp' and 'session' parts, or the raw offer "
                    "as application/sdp with an ephemeral key.",
                )
        except RealtimeError as error:
            self.fail(error)
            return
        self.set_status(201)
        self.set_header("Content-Type", "application/sdp")
        self.set_header("Location", f"/v1/realtime/calls/{answer.call_id}")
        self.finish(answer.sdp)

    def _multipart(self, content_type: str) -> tuple[str, dict[str, Any]]:
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        httputil.parse_body_arguments(content_type, self.request.body, args, files)

        def part(name: str) -> str | None:
            if name in files:
                return files[name][0].body.decode()
            return args[name][0].decode() if name in args else None

        sdp, session_text = part("sdp"), part("session")
        if sdp is None:
            raise RealtimeError(
                400, "missing_required_parameter", "Missing required parameter: 'sdp'.", param="sdp"
            )
        try:
            session = json.loads(session_text) if session_text else {}
        except (ValueError, RecursionError):
            raise RealtimeError(
                400, "invalid_json", "The 'session' part must be JSON.", param="session"
            ) from None
        return sdp, session


class ClientSecretsHandler(_Handler):
    """``POST /v1/realtime/client_secrets``: mint an ephemeral key."""

    async def post(self) -> None:
        try:
            if self.bearer().startswith("ek_"):
                raise RealtimeError(
                    401, "invalid_api_key", "An ephemeral key cannot mint ephemeral keys."
                )
            body = read_json_object(self.request.body, empty={})
            expires = body.get("expires_after") or {}
            seconds = expires.get("seconds", 600)
            if expires.get("anchor", "created_at") != "created_at":
                raise RealtimeError(
                    400,
                    "invalid_value",
                    "expires_after.anchor must be 'created_at'.",
                    param="expires_after.anchor",
                )
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int)
                or not (10 <= seconds <= 7200)
            ):
                raise RealtimeError(
                    400,
                    "invalid_value",
                    "expires_after.seconds must be an integer from 10 to 7200.",
                    param="expires_after.seconds",
                )
            secret = await self.backend.create_client_secret(body.get("session") or {}, seconds)
        except RealtimeError as error:
            self.fail(error)
            return
        self.finish(secret)


class HangupHandler(_Handler):
    """``POST /v1/realtime/calls/{call_id}/hangup``."""

    async def post(self, call_id: str) -> None:
        try:
            self.bearer()
            await self.backend.hangup(call_id)
        except RealtimeError as error:
            self.fail(error)
            return
        self.finish({})


class SessionsHandler(_Handler):
    """``GET /v1/local/sessions[/{id}]``: what each session received (tests, teaching)."""

    def get(self, call_id: str | None = None) -> None:
        try:
            self.bearer()
        except RealtimeError as error:
            self.fail(error)
            return
        if call_id is None:
            self.finish({"data": [summary(e) for e in self.backend.sessions.values()]})
            return
        engine = self.backend.sessions.get(call_id)
        if engine is None:
            self.fail(RealtimeError(404, "session_not_found", f"No session {call_id!r}."))
            return
        record = engine.record
        self.finish(
            {
                **summary(engine),
                "client_events": list(record.client_events),
                "server_events": list(record.server_events),
            }
        )


def summary(engine: Engine | EndedSession) -> dict[str, Any]:
    """A session's record without its event lists."""
    record = engine.record
    return {
        "id": record.call_id,
        "transport": record.transport,
        "closed": record.closed,
        "client_events": record.client_count,
        "server_events": record.server_count,
        "audio_in_ms": record.audio_in_ms,
        "audio_in_rms": round(record.audio_in_rms, 5),
        "turns": record.turns,
        "session": engine.session,
    }


class RealtimeSocket(websocket.WebSocketHandler):
    """``/v1/realtime?model=…`` (a WebSocket session) or ``?call_id=rtc_…`` (sideband)."""

    def initialize(self, backend: LocalRealtime, access: Access) -> None:
        self.backend = backend
        self.access = access
        self.engine: SessionEngine | None = None
        self.sideband = False

    def check_origin(self, origin: str) -> bool:
        return self.access.origin_allowed(origin)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        call_id = self.get_argument("call_id", None)
        try:
            refused = door_error(self.access, self.request)
            if refused is not None:
                raise refused
            auth = self.request.headers.get("Authorization", "")
            key = check_key(self.access, self.backend, auth, ephemeral=not call_id)
            if call_id:
                engine = self.backend.live(call_id)
                if engine is None:
                    raise RealtimeError(404, "call_not_found", f"No active call {call_id!r}.")
                self.engine, self.sideband = engine, True
            else:
                session = (
                    self.backend.secret_session(key)
                    if key.startswith("ek_")
                    else self.backend.session_config(
                        {"model": self.get_argument("model", None) or self.backend.options.model}
                    )
                )
                self.engine = self.backend.websocket_session(self._send, session)
        except RealtimeError as error:
            self._refuse(error.status, error.code, error.message)
            return
        await super().get(*args, **kwargs)

    def _refuse(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "error": {
                        "message": message,
                        "type": "invalid_request_error",
                        "param": None,
                        "code": code,
                    }
                }
            )
        )

    def open(self, *args: str, **kwargs: str) -> None:
        if self.engine is None:
            return
        if self.sideband:
            self.engine.listeners.append(self._send)
        else:
            self.engine.start()

    def on_message(self, message: str | bytes) -> None:
        if self.engine is not None:
            self.engine.handle_message(message)

    def on_close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is None:
            return
        if self.sideband:
            if self._send in engine.listeners:
                engine.listeners.remove(self._send)
        else:
            task = asyncio.ensure_future(self.backend.end_session(engine.record.call_id))
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    def _send(self, event: dict[str, Any]) -> None:
        if self.ws_connection is not None and not self.ws_connection.is_closing():
            self.write_message(json.dumps(event))


LIVE_BODY_LIMIT = MAX_OFFER_BYTES + SESSION_BODY_ALLOWANCE
"""The largest ``POST /v1/live/sessions`` body: an offer and a session config."""


class LiveWriter:
    """Writes Live server events to a socket. Audio (continuous, without ``event_id``) is
    dropped while a client that does not read has ``max_pending`` frames waiting, so memory
    stays bounded; events are always written."""

    def __init__(self, socket: websocket.WebSocketHandler, max_pending: int = 50) -> None:
        self.socket = socket
        self.max_pending = max_pending
        self.pending = 0
        """Audio frames written but not yet flushed to the client."""
        self.dropped = 0

    def __call__(self, event: dict[str, Any]) -> None:
        connection = self.socket.ws_connection
        if connection is None or connection.is_closing():
            return
        audio = "event_id" not in event
        if audio and self.pending >= self.max_pending:
            self.dropped += 1
            return
        written = self.socket.write_message(json.dumps(event))
        if audio:
            self.pending += 1
            written.add_done_callback(self._flushed)

    def _flushed(self, _: object) -> None:
        self.pending -= 1


class _LiveSocket(_Handler, websocket.WebSocketHandler):
    """A GPT-Live WebSocket: its engine once attached, a bounded writer, the page origins the
    backend allows."""

    engine: LiveEngine | None = None

    def initialize(self, backend: LocalRealtime, access: Access) -> None:
        super().initialize(backend, access)
        self.writer = LiveWriter(self)

    def check_origin(self, origin: str) -> bool:
        return self.access.origin_allowed(origin)


class LiveSessionsEndpoint(_LiveSocket):
    """GPT-Live's ``/v1/live/sessions``: ``POST`` the JSON WebRTC exchange, or open a WebSocket
    session (its first frame is the client's ``session.start``).

    The local backend also takes ``"local": {"scenario": [...]}`` in the ``POST`` body.
    """

    async def post(self) -> None:
        try:
            self.bearer()
            body = read_json_object(self.request.body, limit=LIVE_BODY_LIMIT)
            unknown = sorted(set(body) - {"session", "transport", "local"})
            if unknown:
                raise RealtimeError(
                    400,
                    "unknown_parameter",
                    f"Unknown parameter: {unknown[0]!r}.",
                    param=unknown[0],
                )
            transport = body.get("transport")
            if not isinstance(transport, dict) or transport.get("type") != "webrtc":
                raise RealtimeError(
                    400,
                    "invalid_value",
                    'transport must be {"type": "webrtc", "sdp": "<offer>"}.',
                    param="transport",
                )
            offer = check_offer(transport.get("sdp"), max_bytes=MAX_OFFER_BYTES)
            answer = await self.backend.create_live_call(
                offer, body.get("session"), scenario=scenario_from_request(body.get("local"))
            )
        except RealtimeError as error:
            self.fail(error)
            return
        self.set_status(201)
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "session": {"id": answer.call_id},
                    "transport": {"type": "webrtc", "sdp": answer.sdp},
                }
            )
        )

    async def get(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.bearer()
        except RealtimeError as error:
            self.fail(error)
            return
        self.engine = self.backend.live_websocket_session(self._send, self._end)
        await super().get(*args, **kwargs)

    def on_message(self, message: str | bytes) -> None:
        if self.engine is not None:
            self.engine.handle_message(message)

    def on_close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            task = asyncio.ensure_future(self.backend.end_session(engine.record.call_id))
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    def _end(self, kind: str) -> None:
        """After ``session.closed``, a startup error or a simulated fault: close the socket."""
        self.close()

    def _send(self, event: dict[str, Any]) -> None:
        self.writer(event)


class LiveAttachSocket(_LiveSocket):
    """``/v1/live/sessions/{id}/attach``: a trusted sideband on a running Live session."""

    async def get(self, session_id: str, *args: Any, **kwargs: Any) -> None:
        try:
            self.bearer()
            self.engine = self.backend.live_session(session_id)
            if self.engine is None:
                raise RealtimeError(
                    404, "session_id_not_found", f"No running Live session {session_id!r}."
                )
        except RealtimeError as error:
            self.fail(error)
            return
        await super().get(session_id, *args, **kwargs)

    def open(self, *args: str, **kwargs: str) -> None:
        if self.engine is not None:
            self.engine.attach(self._send)

    def on_message(self, message: str | bytes) -> None:
        if self.engine is not None:
            self.engine.handle_message(message, "sideband")

    def on_close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.detach(self._send)

    def _send(self, event: dict[str, Any]) -> None:
        self.writer(event)


class LiveHangupHandler(_Handler):
    """``POST /v1/live/sessions/{id}/hangup``: end a Live WebRTC session."""

    async def post(self, session_id: str) -> None:
        try:
            self.bearer()
            if self.backend.live_session(session_id) is None:
                raise RealtimeError(
                    404, "session_id_not_found", f"No running Live session {session_id!r}."
                )
            await self.backend.hangup(session_id)
        except RealtimeError as error:
            self.fail(error)
            return
        self.finish({})


class LiveNotHere(_Handler):
    """Live endpoints the local backend does not simulate: a 501 that says so."""

    def get(self, session_id: str, action: str) -> None:
        self.post(session_id, action)

    def post(self, session_id: str, action: str) -> None:
        self.fail(
            RealtimeError(
                501,
                "not_supported_locally",
                f"The local backend does not simulate /live/sessions/{{id}}/{action} "
                "(forks, SIP and recordings need OpenAI).",
            )
        )


@contextlib.asynccontextmanager
async def serve(
    backend: LocalRealtime | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    access: Access | None = None,
) -> AsyncIterator[tuple[LocalRealtime, str]]:
    """Run the local backend on this event loop: ``(backend, "http://127.0.0.1:PORT/v1")``.

    ``port=0`` picks a free port. Everything stops when the block ends.
    """
    backend = backend or LocalRealtime()
    server = HTTPServer(
        make_app(backend, access or Access.create(host=host)), max_body_size=MAX_BODY_BYTES
    )
    sockets = bind_sockets(port, host)
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()[1]
    try:
        yield backend, f"http://{host}:{bound}/v1"
    finally:
        server.stop()
        await backend.close()


@contextlib.asynccontextmanager
async def serve_private(backend: LocalRealtime) -> AsyncIterator[tuple[str, str]]:
    """:func:`serve` on a loopback port for this process alone: ``(base_url, key)``, where
    only ``key`` (random) is accepted, so other local programs cannot join its sessions."""
    key = f"sk-local-{secrets.token_urlsafe(18)}"
    async with serve(backend, access=Access.create(api_key=key)) as (_, base):
        yield base, key
