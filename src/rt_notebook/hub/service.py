"""The Hub service: holds the OpenAI key, checks each user with JupyterHub's own auth, applies
the class's policy, meters every call and answers the teacher.

JupyterHub runs it as a managed service (``python -m rt_notebook.hub``); users' servers send it
the SDP exchange with their server's Hub token (``RealtimeExtension.backend = "hub"``).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import signal
import time
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from jupyterhub.services.auth import HubOAuth
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Bool, Dict, Enum, Float, Int, List, TraitError, Unicode, default, validate
from traitlets.config import Application

from .._version import __version__
from ..errors import RealtimeError
from ..server.policy import ApiKeySource
from ..wire.signaling import env_credentials
from .meter import Meter
from .policy import Rules, Standing, check_policy, day_start, rules_for
from .store import CallRow, Store
from .upstream import LocalUpstream, OpenAIUpstream, Upstream

log = logging.getLogger("rt_notebook.hub")


class Identity:
    """A Hub user as the service sees them: name, groups, whether a Hub admin."""

    def __init__(self, name: str, groups: list[str], admin: bool) -> None:
        self.name, self.groups, self.admin = name, groups, admin


class HubService(Application):
    """Realtime voice sessions for a JupyterHub class, on one key the students never see."""

    name = "rt-notebook-hub"
    description = __doc__
    version = __version__

    config_file = Unicode("", help="A Python config file (c.HubService.policy = {...} etc.)").tag(
        config=True
    )

    api_key = Unicode(
        None,
        allow_none=True,
        help="""The OpenAI key; defaults to OPENAI_API_KEY in the service's environment. Only
        this process holds it: users' servers and kernels never see it.""",
    ).tag(config=True)

    api_key_file = Unicode(
        None,
        allow_none=True,
        help="""A file holding the key (e.g. a mounted Kubernetes secret); re-read when it
        changes, and wins over api_key.""",
    ).tag(config=True)

    api_base_url = Unicode(
        help="Base URL of the Realtime API (default: OPENAI_BASE_URL, else OpenAI's)."
    ).tag(config=True)

    backend = Enum(
        ["auto", "openai", "local"],
        default_value="auto",
        help="""Where calls go: "openai", "local" (the in-process local backend, no key: a
        class can rehearse offline) or "auto" (OpenAI when a key is configured).""",
    ).tag(config=True)

    db_url = Unicode(
        "sqlite:///rt_notebook_hub.sqlite",
        help="""SQLAlchemy URL of the usage database (SQLite by default; e.g.
        postgresql://user:password@host/db in production).""",
    ).tag(config=True)

    policy = Dict(
        help="""Rules per user and group: {"default": {...}, "groups": {name: {...}},
        "users": {name: {...}}} with allowed_models, session_overrides, calls_per_minute,
        concurrent_calls, minutes_per_day, usd_per_day, usd_per_term.""",
    ).tag(config=True)

    allowed_groups = List(
        Unicode(),
        help="""JupyterHub groups whose members may hold sessions; empty allows every user
        the Hub lets reach the service. Hub admins and admin_groups are always allowed.""",
    ).tag(config=True)

    admin_groups = List(
        Unicode(),
        help="""Groups whose members see the teacher's page and API (Hub admins always do).""",
    ).tag(config=True)

    term_start = Unicode(
        "",
        help="""First day of the term (YYYY-MM-DD) for usd_per_term; empty counts all usage.""",
    ).tag(config=True)

    allow_client_secrets = Bool(
        False,
        help="""Mint ephemeral keys for users. Off by default: a call made with an ephemeral
        key goes straight to OpenAI and the service cannot meter it.""",
    ).tag(config=True)

    request_timeout = Float(30.0, help="Seconds to wait for the Realtime API.").tag(config=True)

    max_offer_bytes = Int(65536, help="Largest SDP offer accepted, in bytes.").tag(config=True)

    identity_cache_seconds = Float(
        30.0, help="How long a user's groups and admin flag are cached."
    ).tag(config=True)

    local_scenario = Unicode(
        None, allow_none=True, help="A scenario file for the local backend."
    ).tag(config=True)

    ip = Unicode(
        "127.0.0.1",
        help="""Interface to listen on (default loopback; "0.0.0.0" in a hub pod, where users'
        servers reach the service through the hub's Kubernetes service).""",
    ).tag(config=True)
    port = Int(help="Port to listen on (default: from JUPYTERHUB_SERVICE_URL).").tag(config=True)

    aliases = {  # noqa: RUF012 (traitlets reads it from the class)
        "config": "HubService.config_file",
        "db-url": "HubService.db_url",
        "backend": "HubService.backend",
        "port": "HubService.port",
        "ip": "HubService.ip",
    }

    @default("api_key")
    def _key_from_env(self) -> str | None:
        return env_credentials().api_key

    @default("api_base_url")
    def _base_url_from_env(self) -> str:
        return env_credentials().base_url

    @default("port")
    def _port_from_env(self) -> int:
        return urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).port or 10101

    @validate("policy")
    def _check_policy(self, proposal: dict[str, Any]) -> dict[str, Any]:
        try:
            return check_policy(proposal["value"])
        except ValueError as exc:
            raise TraitError(f"HubService.{exc}") from None

    @validate("term_start")
    def _check_term(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if value:
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                message = f"HubService.term_start must be YYYY-MM-DD, got {value!r}"
                raise TraitError(message) from None
        return value

    # ---- setup ------------------------------------------------------------------------

    def initialize(self, argv: list[str] | None = None) -> None:
        self.parse_command_line(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
            self.update_config(self.cli_config)  # the command line wins over the file
        self.prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/rt-notebook/")
        self.hub_auth = HubOAuth.instance()
        self.key_source = ApiKeySource(self.api_key, self.api_key_file)
        self.store = Store(self.db_url)
        self.upstream = self._make_upstream()
        self.meter = Meter(self.store, self.upstream, self.standing)
        self._identities: dict[str, tuple[float, Identity]] = {}
        self.http = httpx.AsyncClient()

    def _make_upstream(self) -> Upstream:
        kind = self.backend
        if kind == "auto":
            kind = "openai" if self.key_source() else "local"
        if kind == "local":
            return LocalUpstream(self.local_scenario)
        return OpenAIUpstream(self.api_base_url, self.key_source, self.request_timeout)

    def make_app(self) -> web.Application:
        from .handlers import handlers

        return web.Application(
            handlers(self.prefix, self),
            cookie_secret=os.urandom(32),
            login_url=self.prefix + "oauth_callback",
            xsrf_cookies=True,
        )

    # ---- what handlers ask ------------------------------------------------------------

    def term_start_time(self) -> float:
        if not self.term_start:
            return 0.0
        day = datetime.date.fromisoformat(self.term_start)
        return time.mktime(day.timetuple())

    def rules(self, who: Identity) -> Rules:
        return rules_for(self.policy, who.name, who.groups)

    def standing(self, user: str, rules: Rules) -> Standing:
        now = time.time()
        return Standing(
            rules=rules,
            today=self.store.spending(user, day_start(now), now),
            term=self.store.spending(user, self.term_start_time(), now),
            last_minute_calls=self.store.spending(user, now - 60, now).calls,
            live_calls=len(self.store.live_calls(user)),
        )

    def may_use(self, who: Identity) -> bool:
        if who.admin or not self.allowed_groups:
            return True
        return bool(set(who.groups) & set(self.allowed_groups))

    def is_teacher(self, who: Identity) -> bool:
        return who.admin or bool(set(who.groups) & set(self.admin_groups))

    async def identity(self, name: str, model: dict[str, Any] | None = None) -> Identity:
        """A user's groups and admin flag: from the model the Hub gave for their token when it
        has both (a server token with ``read:users!user``), else asked of the Hub with the
        service's own token."""
        if model is not None and "groups" in model and "admin" in model:
            return Identity(name, list(model["groups"] or []), bool(model["admin"]))
        cached = self._identities.get(name)
        if cached and time.monotonic() - cached[0] < self.identity_cache_seconds:
            return cached[1]
        try:
            response = await self.http.get(
                f"{self.hub_auth.api_url}/users/{quote(name, safe='')}",
                headers={"Authorization": f"token {self.hub_auth.api_token}"},
                timeout=self.request_timeout,
            )
            response.raise_for_status()
            model = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.error("rt_notebook hub: cannot look %s up in JupyterHub: %s", name, exc)
            raise RealtimeError(
                503,
                "hub_unreachable",
                "The class service could not ask JupyterHub who you are; try again shortly",
            ) from None
        who = Identity(name, list(model.get("groups") or []), bool(model.get("admin")))
        self._identities[name] = (time.monotonic(), who)
        return who

    def rules_of_row(self, row: CallRow) -> Rules:
        return rules_for(self.policy, row.user, [g for g in row.groups.split(",") if g])

    # ---- running ----------------------------------------------------------------------

    def start(self) -> None:
        asyncio.run(self.serve())

    async def serve(self) -> None:
        server = HTTPServer(self.make_app(), xheaders=True)
        server.listen(self.port, self.ip)
        self.meter.start()
        await self.meter.rejoin(self.rules_of_row)
        log.info(
            "rt_notebook hub service %s on http://%s:%s%s (backend %s, db %s, key configured: %s)",
            __version__,
            self.ip,
            self.port,
            self.prefix,
            self.upstream.name,
            self.store.engine.url.render_as_string(hide_password=True),
            self.key_source() is not None,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("rt_notebook hub service stopping")
        server.stop()
        await self.meter.close()
        if self.upstream.name == "local":  # in-process calls end with the process
            for row in self.store.live_calls():
                self.store.end_call(
                    row.call_id, time.time(), "service_stopped", "The class service stopped"
                )
        await self.upstream.close()
        await self.http.aclose()
        self.store.close()
