"""Usage and cost of a live session kept as it goes, so no ``response.done`` re-scans the log.

A session with a budget checks its cost at every ``response.done``; re-reading the whole event
log for that made each check cost in proportion to the session's length (quadratic overall).
Here each usage event is priced once, as it arrives, by the same :class:`UsageLedger` a
recorded session's ``usage()`` uses; if the price table or the configured models change,
everything is priced again, so the figures are exactly those of a full scan.
"""

from __future__ import annotations

from ..wire.events import RealtimeEvent
from .usage import USAGE_EVENTS, ModelPrices, PriceTable, UsageLedger


class RunningUsage:
    """The usage events seen so far, priced in a ledger kept up to date."""

    def __init__(self) -> None:
        self._events: list[RealtimeEvent] = []
        self._key: tuple[dict[str, ModelPrices], str | None, str | None] | None = None
        self._ledger = UsageLedger()
        self._priced = 0  # how many of ``_events`` the ledger has read

    def add(self, event: RealtimeEvent) -> None:
        """A server event arrived (only usage events are kept)."""
        if event.direction == "server" and event.type in USAGE_EVENTS:
            self._events.append(event)

    def ledger(
        self, prices: PriceTable | None, model: str | None, transcription_model: str | None
    ) -> UsageLedger:
        """Every usage event priced with ``prices`` (a small table: compared by value)."""
        key = (dict(prices or {}), model, transcription_model)
        if key != self._key:
            self._key, self._priced = key, 0
            self._ledger = UsageLedger(prices, model=model, transcription_model=transcription_model)
        for event in self._events[self._priced :]:
            self._ledger.add(event)
        self._priced = len(self._events)
        return self._ledger
