"""Latencies from the browser's timestamps: per response, per tool call, and summaries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..wire.events import RealtimeEvent, as_dict
from .live_turns import LIVE_TRANSCRIPT_EVENTS
from .tables import Table

_FIRST_OUTPUT = (
    "output_audio_buffer.started",
    "response.output_audio.delta",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
)


def _ms(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier) * 1000.0


def latencies(events: Iterable[RealtimeEvent]) -> Table:
    """One row per response: what triggered it, and when it was created, first heard, done.

    The anchor is the latest trigger before ``response.created``: the end of the user's speech
    (``speech_stopped``), a typed message or tool output (client ``conversation.item.create``),
    or a client ``response.create``. Times are epoch seconds; latencies are milliseconds.
    """
    rows: dict[str, dict[str, Any]] = {}
    anchor: tuple[str, float] | None = None
    live: list[RealtimeEvent] = []
    last_t = 0.0
    for event in events:
        kind, t = event.type, event.time
        last_t = max(last_t, event.t)
        if kind in _LIVE_TURN_EVENTS:
            live.append(event)
        if event.direction == "client":
            if kind == "conversation.item.create":
                item = as_dict(event.item)
                trigger = "tool" if item.get("type") == "function_call_output" else "text"
                anchor = (trigger, t)
            elif kind == "response.create" and anchor is None:
                anchor = ("request", t)
            continue
        if kind == "input_audio_buffer.speech_stopped":
            anchor = ("speech", t)
        elif kind == "response.created":
            response_id = str(as_dict(event.response).get("id"))
            trigger, anchor_t = anchor or ("server", None)
            rows[response_id] = {
                "response_id": response_id,
                "trigger": trigger,
                "anchor_t": anchor_t,
                "created_t": t,
                "first_output_t": None,
                "done_t": None,
                "status": None,
            }
            anchor = None
        elif kind in _FIRST_OUTPUT:
            row = rows.get(str(event.response_id))
            if row is not None and row["first_output_t"] is None:
                row["first_output_t"] = t
        elif kind == "response.done":
            response = as_dict(event.response)
            row = rows.get(str(response.get("id")))
            if row is not None:
                row["done_t"], row["status"] = t, response.get("status")
    if live and not rows:
        return live_latencies(live, last_t)
    table = Table()
    for row in rows.values():
        row["response_ms"] = _ms(row["created_t"], row["anchor_t"])
        row["first_output_ms"] = _ms(row["first_output_t"], row["anchor_t"])
        row["generation_ms"] = _ms(row["done_t"], row["created_t"])
        table.append(row)
    return table


_LIVE_TURN_EVENTS = (*LIVE_TRANSCRIPT_EVENTS, "session.started", "session.commentary.append")


def live_latencies(events: Iterable[RealtimeEvent], until_ms: float | None = None) -> Table:
    """GPT-Live has no responses: one row per assistant turn that follows a user turn, from
    the end of the user's speech (or the typed text) to the assistant's first audio.

    After speech, both ends are on the session's own clock (the transcript deltas' ``start_ms``
    and ``end_ms``): ``first_output_ms`` is the model's latency without network jitter. After
    typed text, both are on the events' clock: the text sent → the reply's first transcript.
    The model is full duplex: a reply that starts while the user still talks has a negative
    latency (the overlap). ``response_ms`` is the same figure (the model starts speaking as it
    answers) and ``generation_ms`` how long the assistant spoke. ``until_ms``: the time of the
    log's last event, which settles the grouping of the latest deltas.
    """
    from .transcript import build_transcript

    transcript = build_transcript(events)
    if until_ms is not None:
        transcript.settle(until_ms)
    table = Table()
    previous = None
    for turn in transcript:
        if turn.role == "tool":
            continue  # a reply after a tool call still answers the user's turn before it
        if turn.role == "assistant" and previous is not None and previous.role == "user":
            spoken = previous.modality == "audio"
            anchor = previous.end if spoken else previous.start
            heard = turn.start if spoken else transcript.first_seen(turn.item_id)
            first = _ms(heard, anchor)
            table.append(
                {
                    "response_id": None,
                    "trigger": "speech" if spoken else "text",
                    "anchor_t": anchor,
                    "created_t": heard,
                    "first_output_t": heard,
                    "done_t": turn.end,
                    "status": "completed" if turn.final else None,
                    "response_ms": first,
                    "first_output_ms": first,
                    "generation_ms": _ms(turn.end, turn.start),
                }
            )
        previous = turn
    return table


_OUTPUT_EVENTS = ("conversation.item.create", "response.item.create")  # Realtime, GPT-Live
"""The client events that carry a function call's output."""


def tool_calls(events: Iterable[RealtimeEvent]) -> Table:
    """One row per function call: arguments done → output sent, in milliseconds."""
    started: dict[str, dict[str, Any]] = {}
    table = Table()
    for event in events:
        if event.direction == "server" and event.type == "response.event":  # GPT-Live
            inner = as_dict(event.event)
            item = as_dict(inner.get("item"))
            if inner.get("type") == "response.output_item.done" and (
                item.get("type") == "function_call"
            ):
                started[str(item.get("call_id"))] = {
                    "call_id": item.get("call_id"),
                    "name": item.get("name"),
                    "arguments": item.get("arguments"),
                    "response_id": event.delegation_id,
                    "arguments_done_t": event.time,
                }
        elif event.direction == "server" and event.type == "response.function_call_arguments.done":
            started[str(event.call_id)] = {
                "call_id": event.call_id,
                "name": event.name,
                "arguments": event.arguments,
                "response_id": event.response_id,
                "arguments_done_t": event.time,
            }
        elif event.direction == "client" and event.type in _OUTPUT_EVENTS:
            item = as_dict(event.item)
            row = started.pop(str(item.get("call_id")), None)
            if item.get("type") == "function_call_output" and row is not None:
                row["output_sent_t"] = event.time
                row["duration_ms"] = _ms(event.time, row["arguments_done_t"])
                row["output"] = item.get("output")
                table.append(row)
    return table


def summarize(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """count, median, p90, mean, min and max of the values that are not None."""
    data = np.array([v for v in values if v is not None], dtype=float)
    if not data.size:
        return {"count": 0, "median": None, "p90": None, "mean": None, "min": None, "max": None}
    return {
        "count": int(data.size),
        "median": float(np.median(data)),
        "p90": float(np.percentile(data, 90)),
        "mean": float(data.mean()),
        "min": float(data.min()),
        "max": float(data.max()),
    }


def latency_summary(events: Iterable[RealtimeEvent]) -> Table:
    """Median, p90 and friends of every latency column, and of tool-call durations."""
    rows, tools = latencies(events), None
    table = Table()
    for column in ("response_ms", "first_output_ms", "generation_ms"):
        table.append({"metric": column, **summarize(rows.column(column))})
    tools = tool_calls(events)
    table.append({"metric": "tool_call_ms", **summarize(tools.column("duration_ms"))})
    return table
