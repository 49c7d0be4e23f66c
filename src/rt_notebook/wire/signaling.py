"""The one signaling path: check a call request, pick a backend, exchange the SDP, join the call.

Both places that do an exchange are thin adapters over this module: the server extension
(``server/handlers.py``, the key held by the Jupyter server) and the kernel relay
(``kernel/relay.py``, the key from the kernel's environment, for hosts without the
extension). A backend is anything that implements :class:`RealtimeBackend`: OpenAI's HTTP API
(``wire/openai_http.py``) and the local backend (``local/backend.py``) do today; another
protocol (GPT-Live's JSON exchange) or a JupyterHub service that does the exchange for its users
plugs in as one more implementation, and nothing else changes.

The environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``) is read here and nowhere else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import RealtimeError, register_secret
from .protocols import WireProtocol, protocol_for_model
from .scenario import Scenario, scenario_from_request
from .sdp import check_answer, check_offer
from .session_config import SessionConfigError, prepare_session
from .widget_protocol import BackendName, BackendSetting, CallError

if TYPE_CHECKING:
    from .sideband import Sideband

OPENAI_BASE_URL = "https://api.openai.com/v1"
"""Where the Realtime API lives unless configured otherwise."""

MAX_OFFER_BYTES = 65536
"""The largest SDP offer accepted by default (a browser's is a few KB); answers too."""

MAX_JSON_DEPTH = 64
"""How deeply a request's JSON may nest (a realistic tool schema needs a dozen levels)."""

SESSION_BODY_ALLOWANCE = 1 << 20
"""Room in a request body for the session (instructions, tool schemas) beside the offer."""


# ---- credentials ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What reaching OpenAI (or an OpenAI-shaped server) takes: a key and a base URL."""

    api_key: str | None
    """The key, or ``None`` when none is configured."""
    base_url: str = OPENAI_BASE_URL
    """``https://api.openai.com/v1`` unless configured otherwise."""

    def __repr__(self) -> str:  # never print the key
        key = "set" if self.api_key else "None"
        return f"Credentials(api_key={key}, base_url={self.base_url!r})"


def env_credentials() -> Credentials:
    """``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` as the environment has them now."""
    register_secret(os.environ.get("OPENAI_API_KEY"))
    return Credentials(
        api_key=os.environ.get("OPENAI_API_KEY") or None,
        base_url=os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL,
    )


def choose_backend(setting: BackendSetting | str, key: str | None) -> BackendName:
    """Where a call goes: ``"auto"`` means OpenAI when a key is configured, else local."""
    if setting == "auto":
        return "openai" if key else "local"
    return "openai" if setting == "openai" else "local"


# ---- what every backend does ------------------------------------------------------------------


@dataclass(frozen=True)
class CallAnswer:
    """What a successful SDP exchange returns."""

    sdp: str
    """The answer SDP for ``setRemoteDescription``."""
    call_id: str | None
    """The call's id (``rtc_…`` for the Realtime API), for sideband control and hangup."""


class RealtimeBackend(Protocol):
    """Takes calls, mints ephemeral keys and lets a trusted party join a call.

    Errors are :class:`RealtimeError` with a status, a code and a message a user can act on
    (never the key). A backend without some ability (GPT-Live has no ephemeral keys) raises a
    ``RealtimeError`` that says so.
    """

    name: str
    """Short name reported to the widget: ``"openai"``, ``"local"``, …"""

    async def create_call(
        self, sdp: str, session: dict[str, Any], *, scenario: Scenario | None = None
    ) -> CallAnswer:
        """Exchange a checked offer for an answer, starting a call with ``session``.

        ``scenario`` scripts the replies of a simulating backend; a backend that talks to a
        real model does not play it.
        """
        ...

    async def create_client_secret(
        self, session: dict[str, Any], expires_after_seconds: int
    ) -> dict[str, Any]:
        """An ephemeral key bound to ``session``: ``{"value", "expires_at", "session"?}``."""
        ...

    async def join_call(self, call_id: str, timeout: float) -> Sideband:
        """A sideband connection to a live call of this backend (the call goes on without it)."""
        ...


# ---- reading a call request -------------------------------------------------------------------


def session_protocol(requested: object) -> WireProtocol:
    """The protocol a requested session speaks: its model's (``gpt-live-*`` is Live)."""
    model = requested.get("model") if isinstance(requested, Mapping) else None
    return protocol_for_model(model if isinstance(model, str) else None)


@dataclass(frozen=True)
class SessionPolicy:
    """What the party doing the exchange lays over the session a notebook asks for.

    Realtime and GPT-Live sessions have different fields, so each protocol has its own layers;
    ``allowed_models`` lists models of either (a Live session needs a Live model in it).
    """

    defaults: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    allowed_models: Sequence[str] = ()
    live_defaults: Mapping[str, Any] = field(default_factory=dict)
    live_overrides: Mapping[str, Any] = field(default_factory=dict)

    def prepare(self, requested: object) -> dict[str, Any]:
        """The session to send upstream; a 400 :class:`RealtimeError` when it is invalid."""
        check_depth(requested, "session")
        try:
            if session_protocol(requested) == "live":
                return self._prepare_live(requested)
            return prepare_session(
                requested,
                defaults=dict(self.defaults),
                overrides=dict(self.overrides),
                allowed_models=list(self.allowed_models),
            )
        except SessionConfigError as exc:
            raise exc.as_http() from None

    def _prepare_live(self, requested: object) -> dict[str, Any]:
        from .live_config import lock_overrides, prepare_live_session

        live = [m for m in self.allowed_models if protocol_for_model(m) == "live"]
        if self.allowed_models and not live:
            raise SessionConfigError(
                "GPT-Live models are not allowed on this server; use one of: "
                + ", ".join(self.allowed_models),
                "session.model",
            )
        session = prepare_live_session(
            requested,
            transport="webrtc",
            defaults=dict(self.live_defaults),
            overrides=dict(self.live_overrides),
            allowed_models=live,
        )
        return lock_overrides(session, self.live_overrides)


@dataclass(frozen=True)
class CallRequest:
    """A checked request for a call: what a backend's ``create_call`` takes."""

    sdp: str
    """The offer, CRLF line endings."""
    session: dict[str, Any]
    """The session after policy."""
    scenario: Scenario | None = None
    """Scripted replies, for a simulating backend."""
    protocol: WireProtocol = "realtime"
    """The session's protocol: which of a backend's two APIs takes the call."""


def read_json_object(
    body: bytes, *, limit: int | None = None, empty: object = None
) -> dict[str, Any]:
    """A request body that must be a JSON object (an empty one reads as ``empty``); a 413 over
    ``limit`` bytes, a 400 otherwise."""
    if limit is not None and len(body) > limit:
        raise body_too_large(limit)
    try:
        value = json.loads(body) if body else empty
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
        value = None
    if not isinstance(value, dict):
        raise RealtimeError(400, "invalid_json", "The body must be a JSON object")
    check_depth(value, "body")
    return value


def body_too_large(limit: int) -> RealtimeError:
    """The 413 for a request body over ``limit`` bytes."""
    return RealtimeError(413, "body_too_large", f"The request body is over {limit} bytes")


def read_call_request(
    body: Mapping[str, Any],
    *,
    policy: SessionPolicy | None = None,
    max_offer_bytes: int = MAX_OFFER_BYTES,
) -> CallRequest:
    """``{sdp, session, local?}`` (the widget's request) checked; a 4xx :class:`RealtimeError`
    names what is wrong. A session with a GPT-Live model is a Live call."""
    check_depth(body, "body")
    offer = check_offer(body.get("sdp"), max_bytes=max_offer_bytes)
    requested = body.get("session")
    session = (policy or SessionPolicy()).prepare(requested)
    return CallRequest(
        offer, session, scenario_from_request(body.get("local")), session_protocol(requested)
    )


def check_depth(value: object, param: str, limit: int = MAX_JSON_DEPTH) -> None:
    """A 400 when JSON nests deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: list[object] = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise RealtimeError(
                400,
                "too_deep",
                f"The {param} nests deeper than {limit} levels; flatten it",
                param=param,
            )
        stack.extend((child, depth + 1) for child in children)


async def create_call(backend: RealtimeBackend, request: CallRequest) -> CallAnswer:
    """Start the call a request asks for on ``backend``; only SDP that answers the offer (one
    section per offered one, same media, same order) comes back, whatever the backend sent."""
    answer = await backend.create_call(request.sdp, request.session, scenario=request.scenario)
    try:
        sdp = check_answer(answer.sdp, request.sdp, max_bytes=MAX_OFFER_BYTES)
    except ValueError as exc:
        raise RealtimeError(
            502,
            "upstream_bad_answer",
            f"The {backend.name} backend's answer is not a usable SDP answer: {exc}",
        ) from None
    return CallAnswer(sdp=sdp, call_id=answer.call_id)


def error_body(error: RealtimeError) -> CallError:
    """``{status, code, message, param?}``: an exchange failure as the widget receives it."""
    return {"status": error.status, **error.detail()}
