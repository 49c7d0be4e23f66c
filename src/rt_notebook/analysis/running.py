"""Usage and cost of a live session kept as it goes, so no ``response.done`` re-scans the log.

A session with a budget checks its cost at every ``response.done``; re-reading the whole event
log for that made each check cost in proportion to the session's length (quadratic overall).
Here each ``response.done`` is priced once, when first asked for, with the same function and
prices as a recorded session's ``usage()``; if the prices change (the server reported another
model), everything is priced again, so the figures are exactly those of a full scan.
"""

from __future__ import annotations

from ..wire.events import RealtimeEvent
from .tables import Table
from .usage import Prices, usage_rows


class RunningUsage:
    """The usage rows of the ``response.done`` events seen so far, and the running total."""

    def __init__(self) -> None:
        self._done: list[RealtimeEvent] = []
        self._priced = 0  # how many of ``_done`` are in ``_rows``
        self._prices: Prices | None = None
        self._rows = Table()
        self._spent = 0.0

    def add(self, event: RealtimeEvent) -> None:
        """A server ``response.done`` arrived."""
        self._done.append(event)

    def rows(self, prices: Prices) -> Table:
        """One row per response with usage (as ``usage_rows``), priced with ``prices``."""
        self._catch_up(prices)
        return Table(self._rows)

    def spent(self, prices: Prices) -> float:
        """The total cost so far, in USD."""
        self._catch_up(prices)
        return self._spent

    def _catch_up(self, prices: Prices) -> None:
        if prices != self._prices:
            self._prices, self._priced, self._rows, self._spent = prices, 0, Table(), 0.0
        if self._priced == len(self._done):
            return
        for row in usage_rows(self._done[self._priced :], prices):
            self._spent += row["cost_usd"]
            row["cumulative_usd"] = self._spent
            self._rows.append(row)
        self._priced = len(self._done)
