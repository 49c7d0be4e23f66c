"""The conversation so far, as client events for a new call (after a reconnect or rollover).

The Realtime API keeps nothing across calls, so a replacement call starts empty. The kernel's
event log has the whole conversation: user turns (typed, or their audio's transcript), the
assistant's replies, function calls and their outputs. ``replay_events`` turns them back into
``conversation.item.create`` events, oldest first dropped to fit a token budget. Replayed items
get ids with a prefix of their own, so their echoes are not new turns and a later replay does
not repeat them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from ..wire.events import EventLog, as_dict, as_str

REPLAY_ID_PREFIX = "rtnb_replay_"
"""Every replayed item's id starts with this (at most 32 characters in all, as the API asks)."""

_TYPES = (
    "conversation.item.create",
    "input_audio_buffer.committed",
    "conversation.item.input_audio_transcription.completed",
    "response.output_item.done",
)
_CHARS_PER_TOKEN = 4
_ITEM_TOKENS = 8  # what an item costs beside its text


def conversation_items(log: EventLog) -> list[dict[str, Any]]:
    """The conversation's items in order (text only: audio as its transcript, no images)."""
    slots: dict[str, dict[str, Any] | None] = {}  # key -> item (None: audio not transcribed)
    counter = itertools.count()
    for event in log.of(*_TYPES):
        raw = event.raw
        if event.type == "conversation.item.create" and event.direction == "client":
            item = as_dict(raw.get("item"))
            if _text(item.get("id")).startswith(REPLAY_ID_PREFIX):
                continue  # replayed before: the original is here already
            kept = _kept(item)
            if kept is not None:
                slots[f"client-{next(counter)}"] = kept
        elif event.direction != "server":
            continue
        elif event.type == "input_audio_buffer.committed":
            slots.setdefault(_text(raw.get("item_id")), None)
        elif event.type == "conversation.item.input_audio_transcription.completed":
            text = _text(raw.get("transcript")).strip()
            if text:
                slots[_text(raw.get("item_id"))] = _message("user", "input_text", text)
        elif event.type == "response.output_item.done":
            item = as_dict(raw.get("item"))
            if not _text(item.get("id")).startswith(REPLAY_ID_PREFIX):
                kept = _kept(item)
                if kept is not None:
                    slots[_text(item.get("id")) or f"server-{next(counter)}"] = kept
    return [item for item in slots.values() if item is not None]


def _kept(item: dict[str, Any]) -> dict[str, Any] | None:
    """The part of an item a new call needs, or ``None`` for one with nothing to replay."""
    kind = item.get("type")
    if kind == "function_call":
        return {
            "type": "function_call",
            "call_id": _text(item.get("call_id")),
            "name": _text(item.get("name")),
            "arguments": _text(item.get("arguments")) or "{}",
        }
    if kind == "function_call_output":
        return {
            "type": "function_call_output",
            "call_id": _text(item.get("call_id")),
            "output": _text(item.get("output")),
        }
    if kind != "message":
        return None
    role = _text(item.get("role"))
    parts = [as_dict(p) for p in item.get("content") or []]
    text = " ".join(
        _text(p.get("text") or p.get("transcript")).strip()
        for p in parts
        if p.get("type") in ("input_text", "output_text", "output_audio", "text", "audio")
    ).strip()
    if not text or role not in ("user", "assistant", "system"):
        return None
    return _message(role, "output_text" if role == "assistant" else "input_text", text)


def _text(value: object) -> str:
    return as_str(value) or ""


def _message(role: str, part: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": part, "text": text}]}


def _tokens(item: dict[str, Any]) -> int:
    text = "".join(
        str(v)
        for v in (
            item.get("arguments"),
            item.get("output"),
            *(p.get("text") for p in item.get("content") or []),
        )
        if v
    )
    return _ITEM_TOKENS + len(text) // _CHARS_PER_TOKEN


def within_budget(items: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    """The newest items that fit in ``max_tokens`` (oldest dropped first), with no function
    output whose call was dropped."""
    kept: list[dict[str, Any]] = []
    total = 0
    for item in reversed(items):
        total += _tokens(item)
        if total > max_tokens:
            break
        kept.append(item)
    kept.reverse()
    calls = {i["call_id"] for i in kept if i["type"] == "function_call"}
    return [i for i in kept if i["type"] != "function_call_output" or i["call_id"] in calls]


def replay_events(items: Iterable[dict[str, Any]], ids: Iterable[int]) -> list[dict[str, Any]]:
    """``conversation.item.create`` for each item, with a replay id from ``ids``."""
    return [
        {"type": "conversation.item.create", "item": {"id": f"{REPLAY_ID_PREFIX}{n}", **item}}
        for item, n in zip(items, ids, strict=False)
    ]


def wants_response(items: list[dict[str, Any]]) -> bool:
    """Whether the replayed conversation ends waiting for the model: a user turn, or a tool's
    output, that no reply followed (the reply was lost with the old call)."""
    if not items:
        return False
    last = items[-1]
    return bool(
        last["type"] == "function_call_output"
        or (last["type"] == "message" and last["role"] == "user")
    )
