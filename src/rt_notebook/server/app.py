"""The jupyter-server extension: SDP exchange and ephemeral keys with the key held here."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

import httpx
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Enum, Float, Int, List, TraitError, Unicode, default, validate

from .._version import __version__
from ..errors import REDACTING, RealtimeError
from ..wire.live_config import validate_live_session
from ..wire.live_http import OpenAILiveHTTP
from ..wire.openai_http import OpenAIRealtimeHTTP
from ..wire.protocols import WireProtocol
from ..wire.session_config import SessionConfigError, validate_session
from ..wire.signaling import (
    MAX_OFFER_BYTES,
    RealtimeBackend,
    SessionPolicy,
    choose_backend,
    env_credentials,
)
from ..wire.widget_protocol import BackendName
from .handlers import default_handlers
from .nodelay import no_delay_kernel_websockets
from .policy import ApiKeySource, RateLimiter

if TYPE_CHECKING:
    from ..hub.client import HubServiceClient
    from ..local.backend import LocalRealtime
    from ..wire.sideband import Sideband


class RealtimeExtension(ExtensionApp):
    """Serves ``{base_url}api/rt-notebook/*`` for the rt_notebook widget."""

    name = "rt_notebook"
    description = "Realtime voice sessions (OpenAI Realtime API) for notebooks"

    api_key = Unicode(
        None,
        allow_none=True,
        help="""OpenAI API key used for the upstream calls. Defaults to OPENAI_API_KEY from the
        server's environment. It is never sent to the browser, the kernel or a log.""",
    ).tag(config=True)

    api_key_file = Unicode(
        None,
        allow_none=True,
        help="""Path of a file holding the OpenAI API key. Re-read whenever it changes, so a new
        key needs no server restart. When it holds a key, it wins over api_key.""",
    ).tag(config=True)

    api_base_url = Unicode(
        help="""Base URL of the Realtime API. Defaults to OPENAI_BASE_URL from the server's
        environment, else https://api.openai.com/v1. Point it at a gateway, Azure, or a
        standalone local backend (http://127.0.0.1:8765/v1).""",
    ).tag(config=True)

    backend = Enum(
        ["auto", "openai", "local", "hub"],
        default_value="auto",
        help="""Where sessions go: "openai" (needs a key), "local" (the built-in local backend,
        no key needed), "hub" (a JupyterHub class service holds the key and the policy: see
        hub_service_url), or "auto" (default): OpenAI when a key is configured, else local.""",
    ).tag(config=True)

    hub_service_url = Unicode(
        help="""With backend="hub": URL of the rt_notebook Hub service, e.g.
        http://127.0.0.1:10101/services/rt-notebook/. Defaults to RT_NOTEBOOK_HUB_SERVICE_URL
        from the environment. Requests carry this server's JupyterHub token.""",
    ).tag(config=True)

    session_defaults = Dict(
        help="""Session fields merged under what the notebook asks for (a flat GA session,
        e.g. {"model": "gpt-realtime-2.1", "audio": {"output": {"voice": "marin"}}}).""",
    ).tag(config=True)

    session_overrides = Dict(
        help="""Session fields forced on top of what the notebook asks for, e.g. a teacher's
        pinned instructions or model. Nested objects merge key by key.""",
    ).tag(config=True)

    live_session_defaults = Dict(
        help="""GPT-Live session fields merged under what a notebook asks for in a Live session
        (e.g. {"instructions": "Be brief.", "audio": {"output": {"voice": "marin"}}}).""",
    ).tag(config=True)

    live_session_overrides = Dict(
        help="""GPT-Live session fields forced on top of what a notebook asks for in a Live
        session. Live fixes most fields at the start; the browser's data channel is then
        kept from changing or adding to what is forced (see docs).""",
    ).tag(config=True)

    allowed_models = List(
        Unicode(),
        help="""Models notebooks may use, Realtime and GPT-Live ones. Empty (default) allows
        any. A session without a model gets the first one listed (of its protocol).""",
    ).tag(config=True)

    max_offer_bytes = Int(
        MAX_OFFER_BYTES,
        help=f"""Largest SDP offer accepted, in bytes (default {MAX_OFFER_BYTES}); larger ones
        get 413.""",
    ).tag(config=True)

    request_timeout = Float(
        30.0,
        help="""Seconds the whole exchange with the Realtime API may take (connecting, sending,
        reading the answer) before answering 504 (default 30).""",
    ).tag(config=True)

    rate_limit_per_minute = Int(
        30,
        help="""Calls and client secrets each user may create per minute (default 30);
        0 disables the limit. Over it, requests get 429.""",
    ).tag(config=True)

    client_secret_ttl_seconds = Int(
        600,
        help="""Lifetime of ephemeral keys in seconds (10-7200, default 600). A request may ask
        for a shorter lifetime, never a longer one.""",
    ).tag(config=True)

    enforce_overrides = Bool(
        False,
        help="""Join every call through a sideband connection and restore session_overrides
        whenever the browser changes them mid-call (e.g. a teacher's pinned instructions or
        tools). Default False: overrides apply when the call is created.""",
    ).tag(config=True)

    local_scenario = Unicode(
        None,
        allow_none=True,
        help="""A JSON scenario file for the local backend (a list of steps such as
        {"say": "Hello"} or {"call": "plot_function", "arguments": {...}}), played one step per
        response. Without it the local backend answers about what it heard.""",
    ).tag(config=True)

    local_max_records = Int(
        100,
        help="""How many ended sessions of the in-process local backend keep their records
        for api/rt-notebook/local/sessions (the oldest are forgotten first).""",
    ).tag(config=True)

    local_transcriber = Enum(
        ["honest", "pocketsphinx"],
        default_value="honest",
        help="""Input transcription on the local backend: "honest" (default) describes the
        speech without inventing words; "pocketsphinx" recognises English if installed.""",
    ).tag(config=True)

    @default("api_key")
    def _api_key_from_env(self) -> str | None:
        return env_credentials().api_key

    @default("hub_service_url")
    def _hub_url_from_env(self) -> str:
        from ..hub.client import service_url_from_env

        return service_url_from_env()

    @default("api_base_url")
    def _base_url_from_env(self) -> str:
        return env_credentials().base_url

    @validate("client_secret_ttl_seconds")
    def _check_ttl(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if not 10 <= value <= 7200:
            raise TraitError(f"client_secret_ttl_seconds must be 10-7200, got {value}")
        return value

    @validate("max_offer_bytes", "request_timeout", "rate_limit_per_minute")
    def _check_non_negative(self, proposal: dict[str, Any]) -> Any:
        value = proposal["value"]
        if value < 0 or (value == 0 and proposal["trait"].name != "rate_limit_per_minute"):
            raise TraitError(f"{proposal['trait'].name} must be positive, got {value}")
        return value

    @validate("session_defaults", "session_overrides")
    def _check_session_layer(self, proposal: dict[str, Any]) -> dict[str, Any]:
        layer = dict(proposal["value"])
        try:
            validate_session(layer, prefix=f"RealtimeExtension.{proposal['trait'].name}")
        except SessionConfigError as exc:
            raise TraitError(exc.message) from None
        return layer

    @validate("live_session_defaults", "live_session_overrides")
    def _check_live_layer(self, proposal: dict[str, Any]) -> dict[str, Any]:
        layer = dict(proposal["value"])
        try:
            validate_live_session(
                layer,
                transport="webrtc",
                prefix=f"RealtimeExtension.{proposal['trait'].name}",
                require_model=False,
            )
        except SessionConfigError as exc:
            raise TraitError(exc.message) from None
        return layer

    def initialize_settings(self) -> None:
        """Build the long-lived objects the handlers share."""
        serverapp_log = self.serverapp.log if self.serverapp else self.log
        for logger in (self.log, serverapp_log, logging.getLogger("tornado.application")):
            if REDACTING not in logger.filters:
                logger.addFilter(REDACTING)  # the handlers' log lines, redacted
        no_delay_kernel_websockets(self.settings)  # merged into the server's settings after this
        self.key_source = ApiKeySource(self.api_key, self.api_key_file)
        self.http_client = httpx.AsyncClient(follow_redirects=False)
        self.openai = OpenAIRealtimeHTTP(
            self.http_client,
            base_url=self.api_base_url,
            api_key=self.key_source,
            timeout=self.request_timeout,
        )
        self.openai_live = OpenAILiveHTTP(
            self.http_client,
            base_url=self.api_base_url,
            api_key=self.key_source,
            timeout=self.request_timeout,
        )
        self.rate_limiter = RateLimiter(self.rate_limit_per_minute)
        self.hub: HubServiceClient | None = None
        """The class service doing the exchange (``backend="hub"``)."""
        if self.backend == "hub":
            from ..hub.client import HubServiceClient

            self.hub = HubServiceClient(
                self.http_client, self.hub_service_url, timeout=self.request_timeout
            )
        self._local: LocalRealtime | None = None
        self.sidebands: dict[str, Sideband] = {}
        """Sideband connections to live calls, by call id (with ``enforce_overrides``)."""
        self._background: set[asyncio.Task[None]] = set()
        self.log.info(
            "rt_notebook %s: backend=%s, key configured: %s",
            __version__,
            self.backend,
            self.key_source() is not None,
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Once the server's loop runs: load now what the first upstream request would load
        (anyio's asyncio backend, under httpx: 15-45 ms here), not during a user's first call."""
        import anyio.lowlevel

        await anyio.lowlevel.checkpoint()

    def initialize_handlers(self) -> None:
        """Register the REST routes (ExtensionApp prefixes the server's base_url)."""
        self.handlers.extend((route, handler, {"rt": self}) for route, handler in default_handlers)

    def active_backend(self) -> BackendName | Literal["hub"]:
        """The backend a request made now would use."""
        if self.hub is not None:
            return "hub"
        return choose_backend(self.backend, self.key_source())

    def backend_for_request(self, protocol: WireProtocol = "realtime") -> RealtimeBackend:
        """The object that performs calls, mints keys and joins calls for the active backend,
        speaking ``protocol``."""
        if self.hub is not None:
            if protocol == "live":
                raise RealtimeError(
                    400,
                    "live_unsupported",
                    "The class service (backend='hub') takes Realtime sessions only; "
                    "use a Realtime model such as gpt-realtime-2.1",
                )
            return self.hub
        if self.active_backend() == "openai":
            return self.openai_live if protocol == "live" else self.openai
        local = self.local_backend()
        return local.as_live() if protocol == "live" else local

    def session_policy(self) -> SessionPolicy:
        """What this server lays over the session a notebook asks for."""
        return SessionPolicy(
            self.session_defaults,
            self.session_overrides,
            self.allowed_models,
            self.live_session_defaults,
            self.live_session_overrides,
        )

    def local_backend(self) -> LocalRealtime:
        """The in-process local backend, started on first use (no extra process, no port)."""
        if self._local is None:
            from ..local.backend import LocalOptions, LocalRealtime
            from ..wire.scenario import load_scenario

            scenario = load_scenario(self.local_scenario) if self.local_scenario else None
            self._local = LocalRealtime(
                LocalOptions(
                    scenario=scenario,
                    transcriber=self.local_transcriber,
                    max_records=max(0, self.local_max_records),
                )
            )
            self.log.info("rt_notebook: local backend started in-process")
        return self._local

    def call_started(self, call_id: str | None, protocol: WireProtocol = "realtime") -> None:
        """Join a new call through a sideband when policy says so (a Live call is held to
        policy by its data channel's allow-lists instead: see ``SessionPolicy``)."""
        if (
            protocol == "live"
            or self.hub is not None
            or not (self.enforce_overrides and self.session_overrides and call_id)
        ):
            return  # the Hub service holds its calls to the class's policy itself
        task = asyncio.ensure_future(self._join(call_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _join(self, call_id: str) -> None:
        from ..wire.sideband import describe_failure, enforce

        try:
            sideband = await self.backend_for_request().join_call(call_id, self.request_timeout)
        except Exception as exc:
            self.log.error(
                "rt_notebook: could not join call %s by sideband: %s",
                call_id,
                describe_failure(exc, self.key_source()),
            )
            return
        enforce(sideband, self.session_overrides)
        self.sidebands[call_id] = sideband
        self.log.info("rt_notebook: enforcing session_overrides on call %s", call_id)

    async def stop_extension(self) -> None:
        """Close the shared HTTP client, sidebands and local sessions."""
        for sideband in self.sidebands.values():
            await sideband.close()
        await self.http_client.aclose()
        if self._local is not None:
            await self._local.close()
