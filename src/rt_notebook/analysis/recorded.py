"""The analysis API shared by live sessions and recorded ones loaded from JSONL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..wire.events import Direction, EventLog, RealtimeEvent, as_dict, as_str
from .metrics import latencies, latency_summary, tool_calls
from .tables import Table
from .transcript import Transcript, build_transcript
from .usage import PRICES, PriceTable, transcription_rows, usage_rows, usage_totals


class SessionAnalysis:
    """Latency, tool, usage and cost tables, and saving, for anything with an event log."""

    events: EventLog
    transcript: Transcript
    prices: PriceTable

    @property
    def model(self) -> str | None:
        """The model, as the server reported it in ``session.created``/``updated`` (GPT-Live:
        ``session.started``/``updated``)."""
        for event in reversed(
            self.events.of("session.created", "session.started", "session.updated")
        ):
            if event.session:
                return as_str(as_dict(event.session).get("model")) or None
        return None

    def latencies(self) -> Table:
        """Per response: trigger → created → first output → done (milliseconds)."""
        return latencies(self.events)

    def latency_summary(self) -> Table:
        """Median, p90, mean, min, max of each latency, and of tool-call durations."""
        return latency_summary(self.events)

    def tool_calls(self) -> Table:
        """Per function call: name, arguments, output, duration (milliseconds)."""
        return tool_calls(self.events)

    def usage(self) -> Table:
        """Per response: tokens by kind, cost in USD (``None``: no price) and the running total."""
        return usage_rows(self.events, self.prices, model=self._configured_model())

    def transcription_usage(self) -> Table:
        """Per input transcription: seconds or tokens and its cost (billed apart)."""
        return transcription_rows(
            self.events, self.prices, model=self._configured_transcription_model()
        )

    def cost(self) -> dict[str, Any]:
        """Session totals: tokens, responses, ``responses_usd``, ``transcription_usd`` and
        ``cost_usd`` (their sum; ``None`` when a model has no price, see ``unpriced_models``)."""
        totals = usage_totals(self.usage(), self.transcription_usage())
        return {"model": self.model, **totals}

    def _configured_model(self) -> str | None:
        """The model asked for, until the server reports one."""
        return None

    def _configured_transcription_model(self) -> str | None:
        """The transcription model asked for, until the server reports one."""
        return None

    def save(self, path: str | Path) -> Path:
        """Write the event log as JSONL (``{"t", "direction", "event"}`` per line)."""
        path = Path(path)
        path.write_text(self.events_jsonl())
        return path

    def events_jsonl(self) -> str:
        """The event log as the JSONL ``save`` writes (``load_session`` reads it)."""
        return "".join(json.dumps(event.to_dict()) + "\n" for event in self.events)


class RecordedSession(SessionAnalysis):
    """A session loaded from a JSONL event log, with the same analysis API as a live one."""

    def __init__(
        self, events: EventLog, *, prices: PriceTable | None = None, name: str = ""
    ) -> None:
        self.events = events
        self.transcript = build_transcript(events)
        self.prices = prices or PRICES
        self.name = name

    def __repr__(self) -> str:
        counts = f"{len(self.events)} events, {len(self.transcript)} turns"
        return f"<RecordedSession {self.name!r}: {counts}>"


def load_session(path: str | Path, *, prices: PriceTable | None = None) -> RecordedSession:
    """Load a JSONL event log written by ``save()``; bad lines are reported by number."""
    path = Path(path)
    log = EventLog()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            event, t = entry["event"], float(entry.get("t", 0.0))
            direction: Direction = "client" if entry.get("direction") == "client" else "server"
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not an rt_notebook event line ({exc})") from None
        if not isinstance(event, dict):
            raise ValueError(f"{path}:{number}: 'event' must be a JSON object")
        log.append(event, t, direction)
    return RecordedSession(log, prices=prices, name=path.stem)


__all__ = ["RealtimeEvent", "RecordedSession", "SessionAnalysis", "load_session"]
