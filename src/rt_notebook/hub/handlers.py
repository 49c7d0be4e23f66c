"""The service's HTTP API (for users' servers and the teacher) and the teacher's page."""

from __future__ import annotations

import html
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado import web

from ..analysis.usage import prices_for
from ..errors import RealtimeError
from ..wire import signaling
from .policy import day_start

if TYPE_CHECKING:
    from .service import HubService, Identity

log = logging.getLogger("rt_notebook.hub")


class _Base(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
    """Hub auth: a token (``Authorization: token …``, e.g. a user's server's) or the OAuth
    cookie (the teacher's browser); JSON errors shaped like OpenAI's."""

    def initialize(self, service: HubService) -> None:
        self.service = service
        self.hub_auth = service.hub_auth
        self.who: Identity | None = None

    def _token(self) -> str:
        return str(self.hub_auth.get_token(self, in_cookie=False) or "")

    def check_xsrf_cookie(self) -> None:
        if self._token():
            return  # token requests cannot be forged cross-site; cookies need the XSRF token
        super().check_xsrf_cookie()

    async def prepare(self) -> None:
        token = self._token()
        if token:  # a bad token is refused, never retried with the cookie
            model = await self.hub_auth.user_for_token(token, sync=False)
        else:
            model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            self._hub_auth_user_cache = None
            return
        try:
            self._hub_auth_user_cache = self.check_hub_user(model)
        except UserNotAllowed:
            raise RealtimeError(
                403,
                "no_access",
                f"JupyterHub did not give {model.get('name')} access to this service "
                "(scope access:services!service=…); ask your teacher",
            ) from None
        if model.get("kind", "user") != "user":
            raise RealtimeError(403, "not_a_user", "Only Hub users hold voice sessions")
        self.who = await self.service.identity(str(model["name"]), model)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if not isinstance(error, RealtimeError):
            reason = self._reason if isinstance(error, web.HTTPError) else "Internal error"
            error = RealtimeError(status_code, "error", reason)
        self.set_header("Content-Type", "application/json")
        if error.retry_after:
            self.set_header("Retry-After", error.retry_after)
        self.finish(json.dumps(error.to_json()))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, RealtimeError):
            status_code = error.status
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, RealtimeError):
            log.warning(
                "rt_notebook hub: %s refused (%s %s): %s",
                self.request.path,
                value.status,
                value.code,
                value.message,
            )
            return
        super().log_exception(typ, value, tb)

    def user(self) -> Identity:
        if self.who is None:
            raise RealtimeError(401, "not_authenticated", "Log in to JupyterHub first")
        return self.who

    def teacher(self) -> Identity:
        who = self.user()
        if not self.service.is_teacher(who):
            raise RealtimeError(403, "not_a_teacher", f"{who.name} is not a teacher here")
        return who

    def student(self) -> Identity:
        who = self.user()
        if not self.service.may_use(who):
            raise RealtimeError(
                403,
                "not_in_class",
                f"{who.name} is not in a group allowed to hold voice sessions "
                f"({', '.join(self.service.allowed_groups)}); ask your teacher",
            )
        return who

    def policy_for(self, who: Identity) -> signaling.SessionPolicy:
        rules = self.service.rules(who)
        return signaling.SessionPolicy(
            overrides=rules.session_overrides, allowed_models=rules.allowed_models
        )

    def check_priced(self, who: Identity, session: dict[str, Any]) -> None:
        """Under a money budget, a model without a price could spend without limit: refuse."""
        rules = self.service.rules(who)
        if rules.usd_per_day is None and rules.usd_per_term is None:
            return
        model = session.get("model")
        if model and prices_for(str(model)) is None:
            raise RealtimeError(
                400,
                "unpriced_model",
                f"The class service has no price for {model!r}, so it cannot keep it to your "
                "budget; use a model your teacher allows (allowed_models)",
                param="session.model",
            )

    def check_budget(self, who: Identity) -> None:
        refusal = self.service.standing(who.name, self.service.rules(who)).refusal()
        if refusal is not None:
            raise refusal


class CallsHandler(_Base):
    """``POST api/calls``: ``{sdp, session}`` → ``{sdp, call_id, session}``, metered."""

    async def post(self) -> None:
        service = self.service
        who = self.student()
        body = signaling.read_json_object(
            self.request.body, limit=service.max_offer_bytes + signaling.SESSION_BODY_ALLOWANCE
        )
        request = signaling.read_call_request(
            body, policy=self.policy_for(who), max_offer_bytes=service.max_offer_bytes
        )
        session = request.session
        await service.meter.sweep(who.name)  # calls that just ended do not count
        self.check_budget(who)
        self.check_priced(who, session)
        answer = await signaling.create_call(service.upstream, request)
        if not answer.call_id:
            raise RealtimeError(502, "no_call_id", "The Realtime API returned no call id")
        model = str(session.get("model") or "")
        service.store.start_call(answer.call_id, who.name, who.groups, model, time.time())
        service.meter.follow(answer.call_id, who.name, service.rules(who), model)
        log.info("rt_notebook hub: call %s for %s (model %s)", answer.call_id, who.name, model)
        self.set_status(201)
        self.finish({"sdp": answer.sdp, "call_id": answer.call_id, "session": session})


class ClientSecretsHandler(_Base):
    """``POST api/client-secrets``: only with ``allow_client_secrets`` (unmetered calls)."""

    async def post(self) -> None:
        who = self.student()
        if not self.service.allow_client_secrets:
            raise RealtimeError(
                403,
                "client_secrets_disabled",
                "This class service does not hand out ephemeral keys (calls made with them "
                "cannot be metered); connect through the Jupyter server instead",
            )
        body = signaling.read_json_object(self.request.body, limit=signaling.SESSION_BODY_ALLOWANCE)
        seconds = body.get("expires_after_seconds", 600)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 10 <= seconds <= 7200:
            raise RealtimeError(
                400, "invalid_expiry", "expires_after_seconds must be a whole number 10-7200"
            )
        session = self.policy_for(who).prepare(body.get("session"))
        self.check_budget(who)
        self.finish(await self.service.upstream.create_client_secret(session, seconds))


class MeHandler(_Base):
    """``GET api/me``: the user's rules, what is left of their budgets, their live calls."""

    def get(self) -> None:
        who = self.user()
        rules = self.service.rules(who)
        standing = self.service.standing(who.name, rules)
        self.finish(
            {
                "user": who.name,
                "groups": who.groups,
                "allowed": self.service.may_use(who),
                "backend": self.service.upstream.name,
                "rules": rules.to_json(),
                "remaining": standing.remaining(),
                "spent": {
                    "usd_today": standing.today.usd,
                    "usd_term": standing.term.usd,
                    "minutes_today": standing.today.minutes,
                },
                "live_calls": [row.call_id for row in self.service.store.live_calls(who.name)],
            }
        )


class CallHandler(_Base):
    """``GET api/calls/{id}``: one call (its owner or a teacher), with why it ended."""

    def get(self, call_id: str) -> None:
        who = self.user()
        row = self.service.store.call(call_id)
        if row is None or (row.user != who.name and not self.service.is_teacher(who)):
            raise RealtimeError(404, "call_not_found", f"No call {call_id!r} of yours")
        self.finish(row.to_json())


class UserHangupHandler(_Base):
    """``POST api/calls/{id}/hangup``: the user ends their own call (the widget's Disconnect),
    so it stops counting at once."""

    async def post(self, call_id: str) -> None:
        who = self.user()
        row = self.service.store.call(call_id)
        if row is None or row.user != who.name:
            raise RealtimeError(404, "call_not_found", f"No call {call_id!r} of yours")
        if row.ended is None:
            await self.service.meter.hang_up(call_id, "ended", None)
        self.finish({"call_id": call_id, "ended": True})


class UsageHandler(_Base):
    """``GET api/admin/usage``: per user and group today and this term, live calls, policy."""

    def get(self) -> None:
        self.teacher()
        service, now = self.service, time.time()
        today = service.store.totals_by_user(day_start(now), now)
        term = service.store.totals_by_user(service.term_start_time(), now)
        groups: dict[str, dict[str, float]] = {}
        for row in term:
            for group in row["groups"] or ["(no group)"]:
                total = groups.setdefault(group, {"calls": 0, "minutes": 0.0, "usd": 0.0})
                for key in total:
                    total[key] += row[key]
        self.finish(
            {
                "today": today,
                "term": term,
                "groups": groups,
                "live_calls": [row.to_json(now) for row in service.store.live_calls()],
                "recent_calls": [row.to_json(now) for row in service.store.recent_calls(50)],
                "policy": service.policy,
                "allowed_groups": list(service.allowed_groups),
                "term_start": service.term_start or None,
                "backend": service.upstream.name,
            }
        )


class HangupHandler(_Base):
    """``POST api/admin/calls/{id}/hangup``: the teacher ends a live call."""

    async def post(self, call_id: str) -> None:
        who = self.teacher()
        row = self.service.store.call(call_id)
        if row is None or row.ended is not None:
            raise RealtimeError(404, "call_not_found", f"No live call {call_id!r}")
        await self.service.meter.hang_up(
            call_id, "ended_by_teacher", f"Your teacher ({who.name}) ended this voice session"
        )
        self.finish({"call_id": call_id, "ended": True})


class PageHandler(_Base):
    """``GET /``: the teacher's page (log in through the Hub)."""

    async def prepare(self) -> None:
        await super().prepare()
        if self.who is None:
            self.redirect(self.get_login_url())

    def get(self) -> None:
        self.teacher()
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            PAGE.replace("{{xsrf}}", html.escape(self.xsrf_token.decode())).replace(
                "{{prefix}}", html.escape(self.service.prefix)
            )
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        message = error.message if isinstance(error, RealtimeError) else self._reason
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(f"<!doctype html><title>rt_notebook</title><p>{html.escape(message)}</p>")


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Voice sessions: class usage</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f3f3;text-align:left}.num{text-align:right}
</style></head><body>
<h1>Voice sessions</h1>
<p id="summary"></p>
<h2>Live calls</h2><table id="live"></table>
<h2>Today, per user</h2><table id="today"></table>
<h2>This term, per user</h2><table id="term"></table>
<h2>This term, per group</h2><table id="groups"></table>
<h2>Policy</h2><pre id="policy"></pre>
<script>
const api = "{{prefix}}api/";
const xsrf = "{{xsrf}}";
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
function table(el, head, rows) {
  el.innerHTML = "<tr>" + head.map((h) => `<th>${esc(h)}</th>`).join("") + "</tr>" +
    rows.map((r) => "<tr>" + r.map((c) => `<td>${c}</td>`).join("") + "</tr>").join("");
}
async function hangup(id) {
  await fetch(api + "admin/calls/" + encodeURIComponent(id) + "/hangup",
    {method: "POST", headers: {"X-XSRFToken": xsrf}, credentials: "same-origin"});
  await refresh();
}
async function refresh() {
  const r = await fetch(api + "admin/usage",
    {headers: {"X-XSRFToken": xsrf}, credentials: "same-origin"});
  const u = await r.json();
  if (!r.ok) { document.getElementById("summary").textContent = u.error.message; return; }
  document.getElementById("summary").textContent =
    `Backend: ${u.backend}. Term from ${u.term_start || "the start"}. ` +
    `Allowed groups: ${u.allowed_groups.join(", ") || "everyone"}.`;
  table(document.getElementById("live"), ["User", "Call", "Model", "Minutes", "USD", ""],
    u.live_calls.map((c) => [esc(c.user), esc(c.call_id), esc(c.model), c.minutes,
      c.cost_usd.toFixed(4),
      `<button data-call="${esc(c.call_id)}" class="hangup">Hang up</button>`]));
  const perUser = (rows) => rows.map((x) => [esc(x.user), esc(x.groups.join(", ")), x.calls,
    x.minutes, x.usd.toFixed(4)]);
  table(document.getElementById("today"), ["User", "Groups", "Calls", "Minutes", "USD"],
    perUser(u.today));
  table(document.getElementById("term"), ["User", "Groups", "Calls", "Minutes", "USD"],
    perUser(u.term));
  table(document.getElementById("groups"), ["Group", "Calls", "Minutes", "USD"],
    Object.entries(u.groups).map(([g, t]) => [esc(g), t.calls, t.minutes.toFixed(2),
      t.usd.toFixed(4)]));
  document.getElementById("policy").textContent = JSON.stringify(u.policy, null, 2);
  for (const b of document.querySelectorAll("button.hangup")) {
    b.onclick = () => hangup(b.dataset.call);
  }
}
refresh();
setInterval(refresh, 5000);
</script></body></html>
"""


def handlers(prefix: str, service: HubService) -> list[tuple[str, Any, dict[str, Any]]]:
    """The service's routes under its Hub prefix (``/services/<name>/``)."""
    kwargs = {"service": service}
    return [
        (prefix + "api/calls", CallsHandler, kwargs),
        (prefix + "api/calls/([^/]+)", CallHandler, kwargs),
        (prefix + "api/calls/([^/]+)/hangup", UserHangupHandler, kwargs),
        (prefix + "api/client-secrets", ClientSecretsHandler, kwargs),
        (prefix + "api/me", MeHandler, kwargs),
        (prefix + "api/admin/usage", UsageHandler, kwargs),
        (prefix + "api/admin/calls/([^/]+)/hangup", HangupHandler, kwargs),
        (prefix + "oauth_callback", HubOAuthCallbackHandler, {}),
        (prefix + "?", PageHandler, kwargs),
    ]
