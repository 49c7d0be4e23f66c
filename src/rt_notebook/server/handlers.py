"""REST handlers under ``{base_url}api/rt-notebook/``."""

from __future__ import annotations

import hashlib
import json
import math
from typing import TYPE_CHECKING, Any, cast

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .._version import __version__
from ..errors import RealtimeError
from ..wire import signaling
from ..wire.models import DEFAULT_MODEL, ModelKind, deprecation
from ..wire.session_config import check_models, transcription_model
from ..wire.widget_protocol import (
    BackendName,
    BackendSetting,
    CallAnswer,
    HubBudget,
    ModelNotice,
    ServerStatus,
)

if TYPE_CHECKING:
    from .app import RealtimeExtension

AUTH_RESOURCE = "rt_notebook"


class _RealtimeHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    def initialize(self, rt: RealtimeExtension) -> None:
        self.rt = rt

    def _fail(self, error: RealtimeError) -> None:
        self.set_status(error.status)
        if error.retry_after:
            self.set_header("Retry-After", error.retry_after)
        self.finish(json.dumps(error.to_json()))

    def _user_key(self) -> str:
        """Who a request is, for the rate limit and the logs: the authenticated Jupyter user.

        Jupyter invents a fresh anonymous user for each request made with the server's token
        alone (no login cookie); such requests are counted against the token (hashed), so
        neither do they escape the limit nor do distinct users share one bucket.
        """
        user = self.current_user
        if user.name.startswith("Anonymous ") and self.identity_provider.is_token_authenticated(
            self
        ):
            token = self.identity_provider.get_token(self) or ""
            if token and not self.get_cookie(self.identity_provider.get_cookie_name(self)):
                return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
        return f"user:{user.username}"

    def _check_rate(self) -> None:
        wait = self.rt.rate_limiter.check(self._user_key())
        if wait is not None:
            raise RealtimeError(
                429,
                "rate_limited",
                f"Too many realtime sessions: this server allows "
                f"{self.rt.rate_limit_per_minute} per minute per user "
                "(RealtimeExtension.rate_limit_per_minute). Try again shortly",
                retry_after=str(math.ceil(wait)),
            )


@web.stream_request_body
class _JsonBodyHandler(_RealtimeHandler):
    """A POST of a JSON object, refused by ``Content-Length`` before it is read and capped as
    it streams in (a chunked upload over the limit is discarded as it arrives, then refused)."""

    offer_room = False
    """Whether the body carries an SDP offer besides a session."""

    def _limit(self) -> int:
        offer = int(self.rt.max_offer_bytes) if self.offer_room else 0
        return offer + signaling.SESSION_BODY_ALLOWANCE

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        self._received, self._over = bytearray(), False
        if self._finished:
            return
        if not self.current_user:
            raise web.HTTPError(403)  # before reading a byte of the body
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._limit():
            self._over = True
            self.log.warning("rt_notebook: refused a %s-byte body unread", declared)
            self._fail(signaling.body_too_large(self._limit()))

    def data_received(self, chunk: bytes) -> None:
        if self._over or len(self._received) + len(chunk) > self._limit():
            self._over = True
            self._received.clear()
            return
        self._received += chunk

    def _body(self) -> dict[str, Any]:
        """The JSON object body; a 413 when it was over the limit, a 400 when it is not one."""
        if self._over:
            raise signaling.body_too_large(self._limit())
        return signaling.read_json_object(bytes(self._received), limit=self._limit())


class StatusHandler(_RealtimeHandler):
    """``GET api/rt-notebook/status``: what the widget needs to know before connecting."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        rt = self.rt
        status: ServerStatus = {
            "backend": rt.active_backend(),
            "backend_setting": cast(BackendSetting, rt.backend),  # an Enum of these
            "key_configured": rt.key_source() is not None,
            "allowed_models": list(rt.allowed_models),
            "session_defaults": rt.session_defaults,
            "overridden_fields": sorted(rt.session_overrides),
            "default_model": _default_model(rt),
            "model_notices": _model_notices(rt),
            "version": __version__,
        }
        if rt.hub is not None:  # the class service says where calls go and what is left
            try:
                me = await rt.hub.me()
                status["backend"] = cast(BackendName, str(me.get("backend")))
                status["budget"] = cast(HubBudget, me)
            except RealtimeError as error:
                status["budget"] = {"error": error.to_json()["error"]}
        self.finish(json.dumps(status))


def _default_model(rt: RealtimeExtension) -> str:
    """The model a session that names none gets."""
    for layer in (rt.session_overrides, rt.session_defaults):
        if isinstance(layer.get("model"), str):
            return str(layer["model"])
    return str(rt.allowed_models[0]) if rt.allowed_models else DEFAULT_MODEL


def _model_notices(rt: RealtimeExtension) -> list[ModelNotice]:
    """Deprecations of the models this server's configuration names."""
    named: list[tuple[str | None, ModelKind]] = [
        *((name, "realtime") for name in (_default_model(rt), *rt.allowed_models)),
        *(
            (transcription_model(layer), "transcription")
            for layer in (rt.session_defaults, rt.session_overrides)
        ),
    ]
    notices = (deprecation(name, kind) for name, kind in dict.fromkeys(named) if name)
    return [cast(ModelNotice, notice.to_json()) for notice in notices if notice is not None]


class CallsHandler(_JsonBodyHandler):
    """``POST api/rt-notebook/calls``: ``{sdp, session}`` in, ``{sdp, call_id, session}`` out."""

    offer_room = True

    @web.authenticated
    @authorized
    async def post(self) -> None:
        rt = self.rt
        try:
            body = self._body()
            request = signaling.read_call_request(
                body, policy=rt.session_policy(), max_offer_bytes=rt.max_offer_bytes
            )
            self._check_rate()
            answer = await signaling.create_call(rt.backend_for_request(request.protocol), request)
        except RealtimeError as error:
            self.log.warning("rt_notebook: call refused (%s): %s", error.status, error.message)
            self._fail(error)
            return
        rt.call_started(answer.call_id, request.protocol)
        self.log.info(
            "rt_notebook: call %s started for %s (model %s)",
            answer.call_id,
            self._user_key(),
            request.session.get("model", "default"),
        )
        reply: CallAnswer = {
            "sdp": answer.sdp,
            "call_id": answer.call_id,
            "session": request.session,
        }
        for notice in check_models(request.session):
            self.log.warning("rt_notebook: %s", notice.message())
        self.set_status(201)
        self.finish(json.dumps(reply))


class ClientSecretsHandler(_JsonBodyHandler):
    """``POST api/rt-notebook/client-secrets``: mint an ``ek_…`` key for a session."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        rt = self.rt
        try:
            body = self._body()
            seconds = self._ttl(body.get("expires_after_seconds"))
            session = rt.session_policy().prepare(body.get("session"))
            self._check_rate()
            secret = await rt.backend_for_request().create_client_secret(session, seconds)
        except RealtimeError as error:
            self.log.warning(
                "rt_notebook: client secret refused (%s): %s", error.status, error.message
            )
            self._fail(error)
            return
        self.finish(json.dumps(secret))

    def _ttl(self, asked: object) -> int:
        limit = self.rt.client_secret_ttl_seconds
        if asked is None:
            return int(limit)
        if isinstance(asked, bool) or not isinstance(asked, int) or not 10 <= asked <= limit:
            raise RealtimeError(
                400,
                "invalid_expiry",
                f"expires_after_seconds must be a whole number from 10 to {limit} "
                "(RealtimeExtension.client_secret_ttl_seconds)",
                param="expires_after_seconds",
            )
        return asked


class LocalSessionsHandler(_RealtimeHandler):
    """``GET api/rt-notebook/local/sessions``: what local-backend sessions received."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        from ..local.server import summary

        sessions = self.rt.local_backend().sessions.values()
        self.finish(json.dumps({"data": [summary(engine) for engine in sessions]}))


class CallInfoHandler(_RealtimeHandler):
    """``GET api/rt-notebook/calls/{id}``: with ``backend="hub"``, the class service's record
    of a call, including why it ended (a spent budget, the teacher)."""

    @web.authenticated
    @authorized
    async def get(self, call_id: str) -> None:
        try:
            if self.rt.hub is None:
                raise RealtimeError(404, "not_found", "Calls are recorded only with backend='hub'")
            self.finish(json.dumps(await self.rt.hub.call(call_id)))
        except RealtimeError as error:
            self._fail(error)


class HangupHandler(_RealtimeHandler):
    """``POST api/rt-notebook/calls/{id}/hangup``: with ``backend="hub"``, end the user's call
    at the class service (the widget's Disconnect), so it stops counting at once."""

    @web.authenticated
    @authorized
    async def post(self, call_id: str) -> None:
        try:
            if self.rt.hub is None:
                raise RealtimeError(404, "not_found", "Hangup is relayed only with backend='hub'")
            self.finish(json.dumps(await self.rt.hub.hangup(call_id)))
        except RealtimeError as error:
            self._fail(error)


default_handlers: list[tuple[str, type[_RealtimeHandler]]] = [
    (r"/api/rt-notebook/status", StatusHandler),
    (r"/api/rt-notebook/calls", CallsHandler),
    (r"/api/rt-notebook/calls/(rtc_[A-Za-z0-9_-]+)", CallInfoHandler),
    (r"/api/rt-notebook/calls/(rtc_[A-Za-z0-9_-]+)/hangup", HangupHandler),
    (r"/api/rt-notebook/client-secrets", ClientSecretsHandler),
    (r"/api/rt-notebook/local/sessions", LocalSessionsHandler),
]
