"""Token usage from ``response.done`` and what it costs, with an optional budget."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..wire.events import RealtimeEvent, as_count, as_dict, as_str
from .tables import Table


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    text_input: float
    text_cached_input: float
    audio_input: float
    audio_cached_input: float
    image_input: float
    text_output: float
    audio_output: float


PRICES: dict[str, Prices] = {
    # gpt-realtime audio prices as published at GA (Aug 2025); check openai.com/api/pricing.
    "gpt-realtime": Prices(
        text_input=4.0,
        text_cached_input=0.4,
        audio_input=32.0,
        audio_cached_input=0.4,
        image_input=5.0,
        text_output=16.0,
        audio_output=64.0,
    ),
    "gpt-realtime-mini": Prices(
        text_input=0.6,
        text_cached_input=0.06,
        audio_input=10.0,
        audio_cached_input=0.3,
        image_input=0.8,
        text_output=2.4,
        audio_output=20.0,
    ),
}
"""Default prices per model; pass your own to ``cost()`` or ``RealtimeSession(prices=…)``."""


def prices_for(model: str | None, table: Mapping[str, Prices] | None = None) -> Prices:
    """The prices of a model: an exact entry, else the longest prefix (dated snapshots)."""
    table = table or PRICES
    name = model or "gpt-realtime"
    if name in table:
        return table[name]
    prefixes = [key for key in table if name.startswith(key)]
    return (
        table[max(prefixes, key=len)]
        if prefixes
        else table.get("gpt-realtime", next(iter(table.values())))
    )


def _tokens(details: Mapping[str, Any], key: str) -> int:
    return as_count(details.get(key))


def usage_rows(events: Iterable[RealtimeEvent], prices: Prices) -> Table:
    """One row per ``response.done``: tokens by kind, the cost, and the running total.

    Missing detail fields (live sessions sometimes send only totals) are tolerated: undetailed
    tokens are priced as audio, the dearer kind, and the row is marked ``estimated``.
    """
    table = Table()
    total = 0.0
    for event in events:
        if event.direction != "server" or event.type != "response.done":
            continue
        response = as_dict(event.response)
        usage = as_dict(response.get("usage"))
        if not usage:
            continue
        in_details = as_dict(usage.get("input_token_details"))
        out_details = as_dict(usage.get("output_token_details"))
        cached = as_dict(in_details.get("cached_tokens_details"))
        input_tokens = _tokens(usage, "input_tokens")
        output_tokens = _tokens(usage, "output_tokens")
        text_in, audio_in = _tokens(in_details, "text_tokens"), _tokens(in_details, "audio_tokens")
        image_in = _tokens(in_details, "image_tokens")
        text_out = _tokens(out_details, "text_tokens")
        audio_out = _tokens(out_details, "audio_tokens")
        undetailed_in = max(0, input_tokens - text_in - audio_in - image_in)
        undetailed_out = max(0, output_tokens - text_out - audio_out)
        cached_text, cached_audio = _tokens(cached, "text_tokens"), _tokens(cached, "audio_tokens")
        cached_image = _tokens(cached, "image_tokens")
        cost = (
            (text_in - cached_text) * prices.text_input
            + cached_text * prices.text_cached_input
            + (audio_in - cached_audio + undetailed_in) * prices.audio_input
            + cached_audio * prices.audio_cached_input
            + (image_in - cached_image) * prices.image_input
            + cached_image * prices.text_cached_input
            + text_out * prices.text_output
            + (audio_out + undetailed_out) * prices.audio_output
        ) / 1_000_000
        total += cost
        table.append(
            {
                "response_id": as_str(response.get("id")),
                "t": event.time,
                "status": as_str(response.get("status")),
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": _tokens(usage, "total_tokens") or input_tokens + output_tokens,
                "text_in": text_in,
                "audio_in": audio_in,
                "image_in": image_in,
                "cached_in": _tokens(in_details, "cached_tokens"),
                "text_out": text_out,
                "audio_out": audio_out,
                "estimated": bool(undetailed_in or undetailed_out),
                "cost_usd": cost,
                "cumulative_usd": total,
            }
        )
    return table


def usage_totals(rows: Table) -> dict[str, Any]:
    """Totals over a session's usage rows."""
    keys = (
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "text_in",
        "audio_in",
        "image_in",
        "cached_in",
        "text_out",
        "audio_out",
        "cost_usd",
    )
    totals: dict[str, Any] = {key: sum(row[key] for row in rows) for key in keys}
    totals["responses"] = len(rows)
    totals["estimated"] = any(row["estimated"] for row in rows)
    return totals
