"""Live's usage: billable seconds, active and paused, reported cumulatively."""

from __future__ import annotations

import time
from typing import Any


class LiveUsage:
    """Seconds since ``session.started``; a WebRTC session also reports active and paused."""

    def __init__(self, *, split: bool) -> None:
        self.split = split
        """Whether ``active_seconds``/``paused_seconds`` are reported (WebRTC sessions)."""
        self._started: float | None = None
        self._paused_since: float | None = None
        self._paused = 0.0

    def start(self) -> None:
        self._started = time.monotonic()

    def pause(self) -> None:
        if self._paused_since is None:
            self._paused_since = time.monotonic()

    def resume(self) -> None:
        if self._paused_since is not None:
            self._paused += time.monotonic() - self._paused_since
            self._paused_since = None

    @property
    def paused(self) -> bool:
        return self._paused_since is not None

    def report(self) -> dict[str, Any]:
        """``SessionUsage``: whole seconds so far (``seconds`` is a float on the wire)."""
        now = time.monotonic()
        total = int(now - self._started) if self._started is not None else 0
        paused = self._paused + (now - self._paused_since if self._paused_since else 0.0)
        usage: dict[str, Any] = {"seconds": float(total)}
        if self.split:
            paused_s = min(total, int(paused))
            usage["active_seconds"] = total - paused_s
            usage["paused_seconds"] = paused_s
        return usage
