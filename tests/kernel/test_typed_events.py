"""Typed access to the events the kit acts on, through openai-python's models; raw stays."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import rt_notebook as rt
from rt_notebook.testing import ScriptedFrontend
from rt_notebook.wire.events import RealtimeEvent
from rt_notebook.wire.typed_events import (
    MODELS,
    ConversationItemInputAudioTranscriptionCompletedEvent,
    RealtimeErrorEvent,
    ResponseDoneEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    SessionCreatedEvent,
)

USAGE = {
    "total_tokens": 30,
    "input_tokens": 20,
    "output_tokens": 10,
    "input_token_details": {"text_tokens": 5, "audio_tokens": 15, "cached_tokens": 0},
    "output_token_details": {"text_tokens": 2, "audio_tokens": 8},
}
GA = {
    "session.created": {
        "type": "session.created",
        "event_id": "event_1",
        "session": {"type": "realtime", "model": "gpt-realtime", "instructions": "Hi."},
    },
    "response.done": {
        "type": "response.done",
        "event_id": "event_2",
        "response": {"id": "resp_1", "status": "completed", "output": [], "usage": USAGE},
    },
    "response.function_call_arguments.done": {
        "type": "response.function_call_arguments.done",
        "event_id": "event_3",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "call_id": "call_1",
        "name": "area",
        "arguments": '{"r": 2}',
    },
    "conversation.item.input_audio_transcription.completed": {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "event_4",
        "item_id": "item_0",
        "content_index": 0,
        "transcript": "Hello there",
        "usage": {"type": "duration", "seconds": 1.2},
    },
    "error": {
        "type": "error",
        "event_id": "event_5",
        "error": {"type": "invalid_request_error", "code": "x", "message": "No."},
    },
}


def test_the_events_the_kit_acts_on_read_typed_and_raw() -> None:
    assert set(GA) | {"session.updated"} == set(MODELS)
    typed = {kind: RealtimeEvent(raw).typed for kind, raw in GA.items()}
    created = typed["session.created"]
    done = typed["response.done"]
    call = typed["response.function_call_arguments.done"]
    heard = typed["conversation.item.input_audio_transcription.completed"]
    error = typed["error"]
    assert isinstance(created, SessionCreatedEvent)
    assert created.session.model == "gpt-realtime"
    assert isinstance(done, ResponseDoneEvent)
    assert done.response.usage is not None
    assert done.response.usage.input_tokens == 20
    assert isinstance(call, ResponseFunctionCallArgumentsDoneEvent)
    assert (call.call_id, call.name, call.arguments) == ("call_1", "area", '{"r": 2}')
    assert isinstance(heard, ConversationItemInputAudioTranscriptionCompletedEvent)
    assert heard.transcript == "Hello there"
    assert isinstance(error, RealtimeErrorEvent)
    assert error.error.message == "No."
    event = RealtimeEvent(GA["response.done"])
    assert event.raw is GA["response.done"]
    assert event.response["usage"] == USAGE  # attribute access to the raw fields still works


def test_other_and_malformed_events_stay_raw() -> None:
    assert RealtimeEvent({"type": "brand.new_event_type", "x": 1}).typed is None
    assert RealtimeEvent({"type": "response.output_text.delta", "delta": "a"}).typed is None
    assert RealtimeEvent({"type": ["unhashable"]}).typed is None
    bad_usage = {**GA["response.done"], "response": {"usage": {"input_tokens": "many"}}}
    assert RealtimeEvent(bad_usage).typed is None
    assert RealtimeEvent(bad_usage).response == {"usage": {"input_tokens": "many"}}


def test_the_kit_falls_back_to_raw_fields_for_a_malformed_event() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    seen: list[Any] = []

    @s.tool
    def area(r: float) -> float:
        return 3 * r * r

    s.on("response.function_call_arguments.done", lambda e: seen.append(e.typed))
    call = dict(GA["response.function_call_arguments.done"])
    del call["item_id"]  # the model requires it; the kit still runs the tool
    frontend.emit(call)
    heard = dict(GA["conversation.item.input_audio_transcription.completed"])
    del heard["usage"]
    frontend.emit(
        {
            "type": "conversation.item.added",
            "event_id": "event_0",
            "item": {"id": "item_0", "type": "message", "role": "user", "content": []},
        },
        heard,
    )
    frontend.emit(GA["response.done"], {**GA["response.done"], "response": {"usage": []}})
    assert seen == [None]
    output = frontend.client_events[0]["item"]
    assert (output["call_id"], json.loads(output["output"])) == ("call_1", 12.0)
    assert s.transcript[0].text == "Hello there"
    assert [row["input_tokens"] for row in s.usage()] == [20]  # the malformed one has no row


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from([*MODELS, "other"]),
    fields=st.dictionaries(
        st.sampled_from(["event_id", "response", "error", "session", "call_id", "usage", "x"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=10,
        ),
    ),
)
def test_typed_never_raises(kind: str, fields: dict[str, Any]) -> None:
    raw = {**fields, "type": kind}
    typed = RealtimeEvent(raw).typed
    assert typed is None or typed.type == kind
