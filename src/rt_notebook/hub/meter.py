"""Authoritative metering: the service joins each call by ``call_id`` (sideband), sums the
usage of every ``response.done``, holds the call to its forced session fields, and hangs it up
when a budget runs out, keeping the reason for the user's widget."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..analysis.usage import USAGE_EVENTS, PriceTable, UsageLedger
from ..wire.events import RealtimeEvent
from ..wire.sideband import Sideband, describe_failure, enforce
from .policy import Rules, Standing
from .store import CallRow, Store
from .upstream import Upstream

log = logging.getLogger(__name__)

StandingOf = Callable[[str, Rules], Standing]


@dataclass
class LiveCall:
    """A call the service is metering."""

    call_id: str
    user: str
    rules: Rules
    model: str
    sideband: Sideband | None = None
    timer: asyncio.TimerHandle | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    ledger: UsageLedger | None = None
    """Prices each response and input transcription by the model the server reports."""


class Meter:
    """Every live call's sideband, usage and budget."""

    def __init__(
        self,
        store: Store,
        upstream: Upstream,
        standing: StandingOf,
        *,
        prices: PriceTable | None = None,
        join_timeout: float = 30.0,
        watch_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.standing = standing
        self.prices = prices
        self.join_timeout = join_timeout
        self.clock = clock
        self.calls: dict[str, LiveCall] = {}
        self._watch_interval = watch_interval
        self._watcher: asyncio.Task[None] | None = None
        self._joining: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Watch for calls that end on their own (the browser hung up, a network drop)."""
        self._watcher = asyncio.ensure_future(self._watch())

    def follow(self, call_id: str, user: str, rules: Rules, model: str) -> None:
        """Start metering a new call in the background (its answer need not wait for that)."""
        task = asyncio.ensure_future(self.track(call_id, user, rules, model))
        self._joining.add(task)
        task.add_done_callback(self._joining.discard)

    async def track(self, call_id: str, user: str, rules: Rules, model: str) -> None:
        """Join a new call; without a sideband the call cannot be metered, so it is ended."""
        call = LiveCall(call_id, user, rules, model)
        call.ledger = UsageLedger(self.prices, model=model or None)
        self.calls[call_id] = call
        try:
            call.sideband = await self.upstream.join_call(call_id, self.join_timeout)
        except Exception as exc:
            reason = describe_failure(exc, None)
            log.error("rt_notebook hub: could not join call %s: %s", call_id, reason)
            await self.hang_up(
                call_id,
                "unmetered",
                "The class service could not join this call to meter it, so it was ended. "
                "Try again; if it persists, tell your teacher",
            )
            return
        call.sideband.callbacks.append(lambda event: self._on_event(call, event))
        if rules.session_overrides:
            enforce(call.sideband, rules.session_overrides)
        self._arm_minutes(call)

    def _arm_minutes(self, call: LiveCall) -> None:
        """Hang up when the user's minutes for today run out during this call."""
        left = self.standing(call.user, call.rules).remaining()["minutes_today"]
        if left is None:
            return
        loop = asyncio.get_running_loop()
        call.timer = loop.call_later(max(0.0, left * 60), self._check_soon, call)

    def _on_event(self, call: LiveCall, event: dict[str, Any]) -> None:
        ledger = call.ledger
        if ledger is None or event.get("type") not in USAGE_EVENTS:
            return
        usd, responses, unpriced = ledger.known_usd, len(ledger.responses), set(ledger.unpriced)
        ledger.add(RealtimeEvent(raw=event))
        for model in ledger.unpriced - unpriced:  # never priced as another model
            log.warning(
                "rt_notebook hub: no price for %s; call %s counts its tokens but no cost "
                "(add the model to the service's prices)",
                model,
                call.call_id,
            )
        new = ledger.responses[responses:]
        spent = ledger.known_usd - usd
        if new or spent:
            self.store.add_usage(
                call.call_id,
                sum(row["input_tokens"] for row in new),
                sum(row["output_tokens"] for row in new),
                spent,
                responses=len(new),
            )
            self._check_soon(call)

    def _check_soon(self, call: LiveCall) -> None:
        task = asyncio.ensure_future(self.check(call.call_id))
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    async def check(self, call_id: str) -> None:
        """Hang a call up if its user's budget is spent."""
        call = self.calls.get(call_id)
        if call is None:
            return
        spent = self.standing(call.user, call.rules).exhausted()
        if spent is not None:
            await self.hang_up(call_id, "budget_exhausted", spent.message)
        elif call.timer is not None and call.timer.when() <= asyncio.get_running_loop().time():
            self._arm_minutes(call)  # a timer that fired early (minutes used elsewhere)

    async def hang_up(self, call_id: str, code: str, message: str | None) -> None:
        """End a call upstream and record why (the user's widget shows it)."""
        recorded = self.store.end_call(call_id, self.clock(), code, message)
        if recorded:
            log.info("rt_notebook hub: hanging up %s (%s)", call_id, code)
        await self.upstream.hangup(call_id)
        await self._forget(call_id)

    async def _forget(self, call_id: str) -> None:
        call = self.calls.pop(call_id, None)
        if call is None:
            return
        if call.timer is not None:
            call.timer.cancel()
        if call.sideband is not None:
            with contextlib.suppress(Exception):
                await call.sideband.close()

    async def sweep(self, user: str | None = None) -> None:
        """Record the end of calls that ended on their own (of one user, or all)."""
        for call in list(self.calls.values()):
            if user is not None and call.user != user:
                continue
            if call.sideband is not None and self.upstream.has_ended(call.sideband):
                self.store.end_call(call.call_id, self.clock())
                await self._forget(call.call_id)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._watch_interval)
            await self.sweep()

    async def rejoin(self, rules_of: Callable[[CallRow], Rules]) -> None:
        """After a restart: meter again the calls still live upstream (a call that cannot be
        joined is ended, with the reason kept)."""
        for row in self.store.live_calls():
            await self.track(row.call_id, row.user, rules_of(row), row.model)

    async def close(self) -> None:
        """Stop watching and leave every call (calls go on; a restart rejoins them)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for call_id in list(self.calls):
            await self._forget(call_id)
