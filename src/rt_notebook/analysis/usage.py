"""What a session's tokens and transcriptions cost, by model, with an optional budget.

Prices come from one table the user can extend (``rt.PRICES``, or ``prices=``). A model missing
from it is never priced as another model: its cost is ``None`` (unknown), and the totals say
which models had no price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..wire.events import RealtimeEvent, as_count, as_dict, as_number, as_str
from .tables import Table


@dataclass(frozen=True)
class Prices:
    """A realtime model's prices, USD per million tokens.

    Cached tokens are a part of the input tokens (not extra) and priced at the cached rate.
    """

    text_input: float
    text_cached_input: float
    audio_input: float
    audio_cached_input: float
    image_input: float
    text_output: float
    audio_output: float
    image_cached_input: float | None = None
    """``None``: priced as cached text."""


@dataclass(frozen=True)
class TranscriptionPrices:
    """An input transcription model's prices: per minute of audio, or per million tokens.

    OpenAI bills input transcription apart from the response's tokens, from the ``usage`` of
    ``conversation.item.input_audio_transcription.completed``.
    """

    per_minute: float | None = None
    audio_input: float | None = None
    text_input: float | None = None
    text_output: float | None = None


@dataclass(frozen=True)
class LivePrices:
    """A GPT-Live model's prices, USD per minute (billed per second): while the model is
    active, and while an idle WebRTC session is paused (standby). Backend (Responses) tokens
    are billed apart, by the backend model."""

    active_per_minute: float
    paused_per_minute: float


ModelPrices: TypeAlias = "Prices | TranscriptionPrices | LivePrices"
PriceTable: TypeAlias = Mapping[str, ModelPrices]

_REALTIME_FLAGSHIP = Prices(
    text_input=4.0,
    text_cached_input=0.4,
    audio_input=32.0,
    audio_cached_input=0.4,
    image_input=5.0,
    image_cached_input=0.5,
    text_output=24.0,
    audio_output=64.0,
)
_REALTIME_MINI = Prices(
    text_input=0.6,
    text_cached_input=0.06,
    audio_input=10.0,
    audio_cached_input=0.3,
    image_input=0.8,
    image_cached_input=0.08,
    text_output=2.4,
    audio_output=20.0,
)
_REALTIME_1 = Prices(  # gpt-realtime and gpt-realtime-1.5: text output at $16
    text_input=4.0,
    text_cached_input=0.4,
    audio_input=32.0,
    audio_cached_input=0.4,
    image_input=5.0,
    image_cached_input=0.5,
    text_output=16.0,
    audio_output=64.0,
)

_LIVE = LivePrices(active_per_minute=0.05, paused_per_minute=0.02)

PRICES: dict[str, ModelPrices] = {
    # From OpenAI's model pages (developers.openai.com/api/docs/models/…), Nov 2026.
    "gpt-realtime-2.1": _REALTIME_FLAGSHIP,
    "gpt-realtime-2": _REALTIME_FLAGSHIP,
    "gpt-realtime-2.1-mini": _REALTIME_MINI,
    "gpt-realtime-1.5": _REALTIME_1,
    "gpt-realtime": _REALTIME_1,
    "gpt-realtime-mini": _REALTIME_MINI,
    # GPT-Live: about $0.05/min active (OpenAI probes), $0.02/min paused (third party); not
    # verified (live-protocol.md §8)
    "gpt-live-1": _LIVE,
    "gpt-live-1.1": _LIVE,
    # input transcription
    "gpt-transcribe": TranscriptionPrices(per_minute=0.0045),
    "gpt-realtime-whisper": TranscriptionPrices(per_minute=0.017),
    "gpt-live-transcribe": TranscriptionPrices(per_minute=0.017),
    "whisper-1": TranscriptionPrices(per_minute=0.006),
    "gpt-4o-transcribe": TranscriptionPrices(audio_input=6.0, text_input=2.5, text_output=10.0),
    "gpt-4o-mini-transcribe": TranscriptionPrices(
        audio_input=3.0, text_input=1.25, text_output=5.0
    ),
}
"""Prices by model, realtime and transcription; extend it, or pass your own as ``prices=``.

Dated snapshots (``gpt-realtime-2025-08-28``) use their model's entry. Models without an
entry (``gpt-audio-*``, the preview models, ``gpt-4o-transcribe-diarize``) have unknown cost.
"""

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def priced_as(model: str | None, table: PriceTable | None = None) -> str | None:
    """The table entry that prices ``model``: its own, else its undated name, else ``None``."""
    if not model:
        return None
    table = PRICES if table is None else table
    for name in (model, _SNAPSHOT.sub("", model)):
        if name in table:
            return name
    return None


def prices_for(model: str | None, table: PriceTable | None = None) -> Prices | None:
    """A realtime model's prices (see :func:`priced_as`), or ``None`` when unknown."""
    table = PRICES if table is None else table
    name = priced_as(model, table)
    found = table[name] if name else None
    return found if isinstance(found, Prices) else None


def live_prices_for(model: str | None, table: PriceTable | None = None) -> LivePrices | None:
    """A GPT-Live model's prices, or ``None`` when unknown."""
    table = PRICES if table is None else table
    name = priced_as(model, table)
    found = table[name] if name else None
    return found if isinstance(found, LivePrices) else None


def transcription_prices_for(
    model: str | None, table: PriceTable | None = None
) -> TranscriptionPrices | None:
    """A transcription model's prices, or ``None`` when unknown."""
    table = PRICES if table is None else table
    name = priced_as(model, table)
    found = table[name] if name else None
    return found if isinstance(found, TranscriptionPrices) else None


def _tokens(details: Mapping[str, Any], key: str) -> int:
    return as_count(details.get(key))


def _effective_models(event: RealtimeEvent, models: dict[str, str | None]) -> None:
    """Follow the server's session: its model and transcription model."""
    session = as_dict(event.session)
    if as_str(session.get("model")):
        models["realtime"] = as_str(session.get("model"))
    audio_in = as_dict(as_dict(session.get("audio")).get("input"))
    if "transcription" in audio_in:  # null switches it off
        models["transcription"] = as_str(as_dict(audio_in["transcription"]).get("model")) or None


LIVE_USAGE_EVENTS = ("session.usage.updated", "session.closed")
"""GPT-Live's usage reports (cumulative seconds)."""

USAGE_EVENTS = frozenset(
    {
        "session.created",
        "session.started",
        "session.updated",
        "response.done",
        "conversation.item.input_audio_transcription.completed",
        *LIVE_USAGE_EVENTS,
    }
)
"""The server events a :class:`UsageLedger` reads."""


class UsageLedger:
    """Responses and input transcriptions priced as their events arrive, each by the model
    the server reported at the time (``session.created``/``updated``; before that, the models
    given here). A model with no price gets ``cost_usd`` ``None``, never another's price."""

    def __init__(
        self,
        prices: PriceTable | None = None,
        *,
        model: str | None = None,
        transcription_model: str | None = None,
    ) -> None:
        self.prices = prices
        self.models: dict[str, str | None] = {
            "realtime": model,
            "transcription": transcription_model,
        }
        self.responses = Table()
        """One row per ``response.done`` with usage."""
        self.transcriptions = Table()
        """One row per input transcription with usage."""
        self.known_usd = 0.0
        """The cost of everything that has a price."""
        self.unpriced: set[str] = set()
        """Models (``"None"`` when unknown) whose usage has no price."""
        self.totals = UsageTotals()
        """What :func:`usage_totals` gives for the rows so far, kept as they come."""
        self._live_seconds = dict.fromkeys(_LIVE_SECONDS, 0.0)  # the last cumulative report

    def add(self, event: RealtimeEvent) -> None:
        """Read one event (anything but the server's usage events is ignored)."""
        if event.direction != "server" or event.type not in USAGE_EVENTS:
            return
        if event.type in ("session.created", "session.started", "session.updated"):
            _effective_models(event, self.models)
        elif event.type in ("response.done", *LIVE_USAGE_EVENTS):
            row = (
                self._response_row(event)
                if event.type == "response.done"
                else self._live_row(event)
            )
            self._add(self.responses, row)
            if row is not None:
                self.totals.add_response(row)
        else:
            row = self._transcription_row(event)
            self._add(self.transcriptions, row)
            if row is not None:
                self.totals.add_transcription(row)

    def _add(self, table: Table, row: dict[str, Any] | None) -> None:
        if row is None:
            return
        if row["cost_usd"] is None:
            self.unpriced.add(str(row["model"]))
        else:
            self.known_usd += row["cost_usd"]
        table.append(row)

    def _response_row(self, event: RealtimeEvent) -> dict[str, Any] | None:
        response = as_dict(event.response)
        usage = as_dict(response.get("usage"))
        if not usage:
            return None
        model = self.models["realtime"]
        counts = _response_tokens(usage)
        rate = prices_for(model, self.prices)
        cost = None if rate is None else _response_cost(counts, rate)
        previous = self.responses[-1]["cumulative_usd"] if self.responses else 0.0
        return {
            "response_id": as_str(response.get("id")),
            "t": event.time,
            "status": as_str(response.get("status")),
            "model": model,
            "priced_as": priced_as(model, self.prices) if rate is not None else None,
            "input_tokens": counts["input_tokens"],
            "output_tokens": counts["output_tokens"],
            "total_tokens": _tokens(usage, "total_tokens")
            or counts["input_tokens"] + counts["output_tokens"],
            "text_in": counts["text_in"],
            "audio_in": counts["audio_in"],
            "image_in": counts["image_in"],
            "cached_in": counts["cached_in"],
            "cached_text_in": counts["cached_text"],
            "cached_audio_in": counts["cached_audio"],
            "text_out": counts["text_out"],
            "audio_out": counts["audio_out"],
            "estimated": bool(counts["undetailed"]),
            "cost_usd": cost,
            "cumulative_usd": None if cost is None or previous is None else previous + cost,
        }

    def _live_row(self, event: RealtimeEvent) -> dict[str, Any] | None:
        """A GPT-Live usage report as what it added since the last one: billable ``seconds``,
        split into ``active_seconds`` and ``paused_seconds`` (standby) when the server says so;
        otherwise every second is priced as active and the row is ``estimated``. The voice
        model reports no tokens (the token columns stay 0, so both protocols read alike)."""
        usage = as_dict(event.usage)
        if not usage:
            return None
        now = {k: max(as_number(usage.get(k)), v) for k, v in self._live_seconds.items()}
        added = {k: now[k] - self._live_seconds[k] for k in now}
        self._live_seconds = now
        split = "active_seconds" in usage or "paused_seconds" in usage
        model = self.models["realtime"]
        rate = live_prices_for(model, self.prices)
        active = added["active_seconds"] if split else added["seconds"]
        cost = (
            None
            if rate is None
            else (
                active * rate.active_per_minute + added["paused_seconds"] * rate.paused_per_minute
            )
            / 60.0
        )
        previous = self.responses[-1]["cumulative_usd"] if self.responses else 0.0
        return {
            "response_id": None,
            "t": event.time,
            "status": event.type,
            "model": model,
            "priced_as": priced_as(model, self.prices) if rate is not None else None,
            **added,
            **dict.fromkeys(_TOKEN_KEYS, 0),
            "cached_text_in": 0,
            "cached_audio_in": 0,
            "estimated": not split,
            "cost_usd": cost,
            "cumulative_usd": None if cost is None or previous is None else previous + cost,
        }

    def _transcription_row(self, event: RealtimeEvent) -> dict[str, Any] | None:
        usage = as_dict(event.raw.get("usage"))
        if not usage:
            return None
        model = self.models["transcription"]
        rate = transcription_prices_for(model, self.prices)
        duration = usage.get("type") == "duration"
        details = as_dict(usage.get("input_token_details"))
        audio_in, text_in = _tokens(details, "audio_tokens"), _tokens(details, "text_tokens")
        input_tokens = _tokens(usage, "input_tokens")
        undetailed = max(0, input_tokens - audio_in - text_in)
        row: dict[str, Any] = {
            "item_id": as_str(event.raw.get("item_id")),
            "t": event.time,
            "model": model,
            "seconds": max(0.0, as_number(usage.get("seconds"))) if duration else None,
            "input_tokens": input_tokens,
            "output_tokens": _tokens(usage, "output_tokens"),
            "audio_in": audio_in,
            "text_in": text_in,
            "estimated": bool(undetailed),
            "cost_usd": None,
        }
        if rate is not None:
            row["cost_usd"] = _transcription_cost(row, undetailed, rate)
        return row


def usage_rows(
    events: Iterable[RealtimeEvent], prices: PriceTable | None = None, *, model: str | None = None
) -> Table:
    """One row per ``response.done``: tokens by kind, the cost, and the running total.

    Each response is priced by the model the server reported (``session.created``; before
    that, ``model``). Missing detail fields (live sessions sometimes send only totals) are
    tolerated: undetailed tokens are priced as audio, the dearer kind, and the row is marked
    ``estimated``. A model with no price has ``cost_usd`` ``None``.
    """
    ledger = UsageLedger(prices, model=model)
    for event in events:
        ledger.add(event)
    return ledger.responses


def _response_tokens(usage: Mapping[str, Any]) -> dict[str, int]:
    in_details = as_dict(usage.get("input_token_details"))
    out_details = as_dict(usage.get("output_token_details"))
    cached = as_dict(in_details.get("cached_tokens_details"))
    counts = {
        "input_tokens": _tokens(usage, "input_tokens"),
        "output_tokens": _tokens(usage, "output_tokens"),
        "text_in": _tokens(in_details, "text_tokens"),
        "audio_in": _tokens(in_details, "audio_tokens"),
        "image_in": _tokens(in_details, "image_tokens"),
        "cached_in": _tokens(in_details, "cached_tokens"),
        "text_out": _tokens(out_details, "text_tokens"),
        "audio_out": _tokens(out_details, "audio_tokens"),
        # cached tokens are a subset of each kind's input tokens
        "cached_text": min(_tokens(cached, "text_tokens"), _tokens(in_details, "text_tokens")),
        "cached_audio": min(_tokens(cached, "audio_tokens"), _tokens(in_details, "audio_tokens")),
        "cached_image": min(_tokens(cached, "image_tokens"), _tokens(in_details, "image_tokens")),
    }
    counts["undetailed_in"] = max(
        0, counts["input_tokens"] - counts["text_in"] - counts["audio_in"] - counts["image_in"]
    )
    counts["undetailed_out"] = max(
        0, counts["output_tokens"] - counts["text_out"] - counts["audio_out"]
    )
    counts["undetailed"] = counts["undetailed_in"] + counts["undetailed_out"]
    return counts


def _response_cost(c: Mapping[str, int], p: Prices) -> float:
    cached_image = p.text_cached_input if p.image_cached_input is None else p.image_cached_input
    return (
        (c["text_in"] - c["cached_text"]) * p.text_input
        + c["cached_text"] * p.text_cached_input
        + (c["audio_in"] - c["cached_audio"] + c["undetailed_in"]) * p.audio_input
        + c["cached_audio"] * p.audio_cached_input
        + (c["image_in"] - c["cached_image"]) * p.image_input
        + c["cached_image"] * cached_image
        + c["text_out"] * p.text_output
        + (c["audio_out"] + c["undetailed_out"]) * p.audio_output
    ) / 1_000_000


def transcription_rows(
    events: Iterable[RealtimeEvent], prices: PriceTable | None = None, *, model: str | None = None
) -> Table:
    """One row per input transcription with ``usage``, priced by the transcription model.

    ``usage`` is ``{"type": "duration", "seconds"}`` (per-minute models) or
    ``{"type": "tokens", …}``; a model (or a kind of usage) with no price has ``cost_usd``
    ``None``. ``model`` is the transcription model until the server reports one.
    """
    ledger = UsageLedger(prices, transcription_model=model)
    for event in events:
        ledger.add(event)
    return ledger.transcriptions


def _transcription_cost(
    row: Mapping[str, Any], undetailed: int, p: TranscriptionPrices
) -> float | None:
    if row["seconds"] is not None:
        seconds = max(0.0, float(row["seconds"]))
        return None if p.per_minute is None else seconds / 60.0 * p.per_minute
    if p.audio_input is None or p.text_output is None:
        return None
    if p.text_input is None and row["text_in"]:
        return None
    return (
        float(
            (row["audio_in"] + undetailed) * p.audio_input
            + row["text_in"] * (p.text_input or 0.0)
            + row["output_tokens"] * p.text_output
        )
        / 1_000_000
    )


_TOKEN_KEYS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "text_in",
    "audio_in",
    "image_in",
    "cached_in",
    "text_out",
    "audio_out",
)


_LIVE_SECONDS = ("seconds", "active_seconds", "paused_seconds")


class UsageTotals:
    """The totals of usage rows, kept as rows come: what :func:`usage_totals` returns, at a
    constant cost per row (a live session's widget and budget read them at every response)."""

    def __init__(self) -> None:
        self.tokens = dict.fromkeys(_TOKEN_KEYS, 0)
        self.counts = {"responses": 0, "transcriptions": 0}
        self.usd: dict[str, float | None] = {"responses": 0.0, "transcriptions": 0.0}
        """Per kind: the cost, ``None`` once a row had no price."""
        self.known = {"responses": 0.0, "transcriptions": 0.0}
        self.unpriced: set[str] = set()
        self.estimated = False
        self.seconds: dict[str, float] | None = None
        """GPT-Live's billed seconds (``None`` for a Realtime session)."""

    def add_response(self, row: Mapping[str, Any]) -> None:
        for key in _TOKEN_KEYS:
            self.tokens[key] += row[key]
        if "active_seconds" in row:  # GPT-Live: billed by the second
            self.seconds = self.seconds or dict.fromkeys(_LIVE_SECONDS, 0.0)
            for key in _LIVE_SECONDS:
                self.seconds[key] += float(row[key])
        self._add("responses", row)

    def add_transcription(self, row: Mapping[str, Any]) -> None:
        self._add("transcriptions", row)

    def _add(self, kind: str, row: Mapping[str, Any]) -> None:
        self.counts[kind] += 1
        cost = row["cost_usd"]
        if cost is None:
            self.usd[kind] = None
            self.unpriced.add(str(row["model"]))
        else:
            spent = self.usd[kind]
            self.usd[kind] = None if spent is None else spent + cost
            self.known[kind] += cost
        self.estimated = self.estimated or bool(row["estimated"])

    def result(self) -> dict[str, Any]:
        """The totals (see :func:`usage_totals`)."""
        responses_usd, transcription_usd = self.usd["responses"], self.usd["transcriptions"]
        return {
            **self.tokens,
            "responses": self.counts["responses"],
            "transcriptions": self.counts["transcriptions"],
            "responses_usd": responses_usd,
            "transcription_usd": transcription_usd,
            "cost_usd": None
            if responses_usd is None or transcription_usd is None
            else responses_usd + transcription_usd,
            "known_cost_usd": self.known["responses"] + self.known["transcriptions"],
            "unpriced_models": sorted(self.unpriced),
            "estimated": self.estimated,
            **(self.seconds or {}),
        }


def usage_totals(rows: Table, transcriptions: Table | None = None) -> dict[str, Any]:
    """Totals over a session's usage rows (and transcription rows).

    ``cost_usd`` is responses plus transcription, or ``None`` when a model had no price
    (``unpriced_models`` names them; ``known_cost_usd`` is what could be priced).
    """
    totals = UsageTotals()
    for row in rows:
        totals.add_response(row)
    for row in transcriptions if transcriptions is not None else ():
        totals.add_transcription(row)
    return totals.result()
