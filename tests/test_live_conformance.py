"""The GPT-Live conformance harness itself (tests/protocol.py): it accepts every event type of
openai.types.live in its wire shape and refuses what the models do not allow, strictly."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.protocol import (
    LIVE_CHANNEL_TYPES,
    LIVE_CLIENT_TYPES,
    LIVE_SERVER_TYPES,
    assert_live_client_event,
    assert_live_server_event,
)


def c(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def s(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": "event_1", **fields}


RESOURCE = {
    "id": "live_1",
    "expires_at": 1790000000,
    "model": "gpt-live-1",
    "status": "active",
    "audio": {"format": {"type": "audio/pcm", "rate": 24000}, "output": {"voice": "marin"}},
    "delegation": {
        "type": "responses",
        "responses": {
            "model": "gpt-5.6-terra",
            "tools": [
                {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
            ],
        },
    },
}
USAGE = {"seconds": 42.0, "active_seconds": 40, "paused_seconds": 2}
DECISION = {
    "model": "m",
    "answers": [{"type": "predicate", "probability": 0.9}],
    "usage": {
        "input_tokens": 5,
        "output_tokens": 1,
        "total_tokens": 6,
        "output_tokens_details": {"reasoning_tokens": 0},
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    },
}
CALL = {
    "type": "function_call",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": "{}",
    "status": "completed",
}

CLIENT = [
    c("session.start", session={"model": "gpt-live-1", "delegation": {"type": "client"}}),
    c("session.update", session={"delegation": {"type": "responses", "responses": {}}}),
    c("session.input_audio.append", audio="AAAA"),
    c("session.input_audio.mute", event_id="m1"),
    c("session.input_audio.unmute"),
    c("session.output_audio.fixture.play", audio="AAAA"),
    c("session.instructions.append", content="Speak French.", delegation_id=None),
    c("session.thinking.append", content="Order shipped.", delegation_id="dlg_1"),
    c("session.commentary.append", content="It ships Friday.", delegation_id="dlg_1"),
    c("decision.create", event_id="d1"),
    c("decision.item.delete", item_id="item_1"),
    c("decision.item.create", item={"type": "message", "role": "user", "content": "refund"}),
    c(
        "response.item.create",
        item={"type": "function_call_output", "call_id": "call_1", "output": "{}"},
    ),
    c("response.create"),
    c("session.close"),
]
SERVER = [
    s("session.started", client_event_id="c1", session=RESOURCE),
    s("session.updated", session=RESOURCE),
    *(
        s(t)
        for t in (
            "session.input_audio.muted",
            "session.input_audio.unmuted",
            "session.output_audio.fixture.playing",
            "session.output_audio.fixture.played",
        )
    ),
    *(
        s(f"session.{k}.appended", start_ms=900, end_ms=900)
        for k in ("instructions", "thinking", "commentary")
    ),
    c("session.input_audio.append", audio="AAAA"),
    c("session.output_audio.delta", delta="AAAA"),
    s("session.input_transcript.delta", delta="What's", start_ms=0, end_ms=200),
    s("session.output_transcript.delta", delta=" Sure", start_ms=900, end_ms=1100),
    s(
        "session.delegation.created",
        offset_ms=2100,
        delegation={"type": "delegation", "id": "dlg_1", "target": "responses"},
    ),
    s("decision.event", event={"type": "decision.completed", "decision": DECISION}),
    s("decision.item.created", item={"id": "item_1", "role": "user", "content": "refund"}),
    s("decision.item.deleted", item_id="item_1"),
    s(
        "response.event",
        delegation_id="dlg_1",
        event={
            "type": "response.output_item.done",
            "item": CALL,
            "output_index": 0,
            "sequence_number": 3,
        },
    ),
    s("session.usage.updated", usage=USAGE, context_window={"usage_ratio": 0.1}),
    s("session.closed", reason="close_requested", session=RESOURCE, usage=USAGE),
    s("error", error={"type": "invalid_request_error", "code": "x", "message": "m"}),
    s("info", code="data_channel_permissions", message="m"),
    *(s(f"transport.dtmf.{k}", event="5") for k in ("received", "send", "sent")),
    *(s(f"transport.{k}", session_id="live_1") for k in ("ringing", "answered")),
    s(
        "transport.failed",
        session_id="live_1",
        error={"type": "call_error", "code": "busy", "message": "m"},
    ),
]


def test_every_live_event_type_has_a_sample_and_passes() -> None:
    assert {e["type"] for e in CLIENT} == LIVE_CLIENT_TYPES
    assert {e["type"] for e in SERVER} == LIVE_SERVER_TYPES
    assert len(LIVE_CLIENT_TYPES) == 15
    assert len(LIVE_SERVER_TYPES) == 28
    for event in CLIENT:
        assert_live_client_event(event)
    for event in SERVER:
        assert_live_server_event(event)


def test_pause_events_pass_only_where_they_arrive() -> None:
    assert {"session.paused", "session.resumed"} <= LIVE_CHANNEL_TYPES
    for channel in ("data_channel", "sideband"):
        assert_live_server_event(s("session.paused"), channel)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        assert_live_server_event(s("session.paused"))


@pytest.mark.parametrize(
    ("check", "event"),
    [
        (assert_live_server_event, s("response.done")),  # a Realtime event
        (
            assert_live_server_event,
            s("session.output_transcript.delta", delta="a", start_ms="1", end_ms=2),
        ),
        (
            assert_live_server_event,
            s("session.usage.updated", usage={"seconds": 1.0, "active_seconds": 1.0}),
        ),
        (
            assert_live_server_event,
            s("error", error={"type": "server_error", "code": None, "message": "m"}),
        ),
        (
            assert_live_client_event,
            c("session.start", session={"model": "gpt-live-1", "voice": "marin"}),
        ),
        (assert_live_client_event, c("session.commentary.append", content="hi")),
        (assert_live_client_event, c("conversation.item.create", item={})),
    ],
    ids=[
        "realtime-type",
        "string-int",
        "float-int",
        "null-code",
        "extra",
        "missing-key",
        "realtime-client",
    ],
)
def test_what_the_models_refuse_is_refused(check: Any, event: dict[str, Any]) -> None:
    with pytest.raises((ValidationError, AssertionError)):
        check(event)


def test_unknown_fields_are_refused_at_any_depth() -> None:
    deep = {**RESOURCE, "audio": {"output": {"voice": "marin", "speed": 1.0}}}
    with pytest.raises(AssertionError, match="speed"):
        assert_live_server_event(s("session.updated", session=deep))
    with pytest.raises(AssertionError, match="extra"):
        assert_live_server_event(s("info", code="c", message="m", extra=1))


def test_the_nested_responses_event_is_checked_too() -> None:
    wrong = s("response.event", event={"type": "response.output_item.done", "item": CALL})
    with pytest.raises(ValidationError):  # output_index and sequence_number are required
        assert_live_server_event(wrong)
    odd = {**CALL, "colour": "red"}
    with pytest.raises(AssertionError, match="colour"):
        assert_live_server_event(
            s(
                "response.event",
                event={
                    "type": "response.output_item.done",
                    "item": odd,
                    "output_index": 0,
                    "sequence_number": 1,
                },
            )
        )
