"""Mutated GA server events for fuzzing the kernel's event path (tests and bench/fuzz_events.py).

Seeds are real GA shapes: a scripted conversation (speech, transcription, an audio reply,
a tool call, usage, playback, an error) plus one event of every server type in openai-python's
``RealtimeServerEvent`` union (the source of ``realtime_events.json``), required fields filled.
Mutations put junk where the protocol has a value: wrong types, lists where objects belong,
unhashable ids, huge strings and numbers, NaN, missing fields.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Literal, get_args, get_origin

from hypothesis import strategies as st
from openai.types.realtime import RealtimeServerEvent

import rt_notebook as rt
from rt_notebook.analysis.usage import PRICES
from rt_notebook.testing import ScriptedFrontend

_USAGE = {
    "total_tokens": 180,
    "input_tokens": 120,
    "output_tokens": 60,
    "input_token_details": {
        "text_tokens": 20,
        "audio_tokens": 100,
        "image_tokens": 0,
        "cached_tokens": 10,
        "cached_tokens_details": {"text_tokens": 10, "audio_tokens": 0, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 10, "audio_tokens": 50},
}
_ASSISTANT = {
    "id": "item_a1",
    "type": "message",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_audio", "transcript": "Hello there."}],
}


def _ev(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": "event_seed", **fields}


CONVERSATION: list[dict[str, Any]] = [
    _ev("session.created", session={"type": "realtime", "model": "gpt-realtime-2.1", "tools": []}),
    _ev("input_audio_buffer.speech_started", item_id="item_u1", audio_start_ms=120),
    _ev("input_audio_buffer.speech_stopped", item_id="item_u1", audio_end_ms=1820),
    _ev(
        "conversation.item.added",
        previous_item_id=None,
        item={
            "id": "item_u1",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        },
    ),
    _ev("conversation.item.input_audio_transcription.delta", item_id="item_u1", delta="Hi"),
    _ev(
        "conversation.item.input_audio_transcription.completed",
        item_id="item_u1",
        content_index=0,
        transcript="Hi there",
        usage={"type": "duration", "seconds": 1.7},
    ),
    _ev("response.created", response={"id": "resp_1", "status": "in_progress", "output": []}),
    _ev("response.output_item.added", response_id="resp_1", output_index=0, item=_ASSISTANT),
    _ev("conversation.item.added", item={**_ASSISTANT, "content": []}),
    _ev(
        "response.output_audio_transcript.delta",
        response_id="resp_1",
        item_id="item_a1",
        output_index=0,
        content_index=0,
        delta="Hello",
    ),
    _ev(
        "response.output_audio.delta",
        response_id="resp_1",
        item_id="item_a1",
        output_index=0,
        content_index=0,
        delta="AAAAAA==",
    ),
    _ev("output_audio_buffer.started", response_id="resp_1"),
    _ev(
        "response.output_audio_transcript.done",
        response_id="resp_1",
        item_id="item_a1",
        output_index=0,
        content_index=0,
        transcript="Hello there.",
    ),
    _ev(
        "response.done",
        response={"id": "resp_1", "status": "completed", "output": [_ASSISTANT], "usage": _USAGE},
    ),
    _ev("output_audio_buffer.stopped", response_id="resp_1"),
    _ev("output_audio_buffer.cleared", response_id="resp_1"),
    _ev(
        "response.function_call_arguments.done",
        response_id="resp_2",
        item_id="item_f1",
        output_index=0,
        call_id="call_seed",
        name="add",
        arguments='{"a": 1, "b": 2}',
    ),
    _ev(
        "error",
        error={
            "type": "invalid_request_error",
            "code": "conversation_already_has_active_response",
            "message": "busy",
            "param": None,
            "event_id": "rtnb_response_1",
        },
    ),
    _ev("rate_limits.updated", rate_limits=[{"name": "tokens", "limit": 1, "remaining": 1}]),
]


def _placeholder(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        return args[0]
    if annotation is str:
        return "x"
    if annotation is int:
        return 1
    if annotation is float:
        return 1.5
    if get_origin(annotation) is list:
        return []
    return _placeholder(args[0]) if args else {}


def schema_seeds() -> list[dict[str, Any]]:
    """One event of every GA server type (openai-python's models), required fields filled."""
    members = get_args(get_args(RealtimeServerEvent)[0])
    return [
        {
            name: _placeholder(field.annotation)
            for name, field in member.model_fields.items()
            if field.is_required()
        }
        for member in members
    ]


SEEDS = CONVERSATION + schema_seeds()

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**30, -(10**30), 2**63, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["x" * 200_000, "item_u1", "resp_1", "call_seed", "rtnb_response_1"]),
)
JUNK = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A seed event with one to three of its fields replaced by junk or removed."""
    event = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(event) if p != ("type",)]
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        node: Any = event
        for key in parents:
            node = node[key]
        if isinstance(node, dict) and draw(st.booleans()) and draw(st.booleans()):
            del node[last]
        else:
            node[last] = draw(JUNK)
    return event


batches = st.lists(st.lists(mutated_events() | st.sampled_from(SEEDS), max_size=6), max_size=5)
"""Batches of events as the widget delivers them, most of them malformed."""

TIMESTAMPS = st.one_of(st.floats(allow_nan=True), st.text(max_size=5), st.none(), st.just([]))


def _cost(usage: dict[str, Any]) -> float:
    p = PRICES["gpt-realtime-2.1"]
    i, o = usage["input_token_details"], usage["output_token_details"]
    cached = i["cached_tokens_details"]
    return (
        (i["text_tokens"] - cached["text_tokens"]) * p.text_input
        + cached["text_tokens"] * p.text_cached_input
        + i["audio_tokens"] * p.audio_input
        + o["text_tokens"] * p.text_output
        + o["audio_tokens"] * p.audio_output
    ) / 1_000_000


def scripted_conversation(s: rt.RealtimeSession, frontend: ScriptedFrontend) -> list[str]:
    """A normal session through ``s`` (tool ``add`` registered); what went wrong, if anything."""
    tag = uuid.uuid4().hex[:8]
    user, reply, call = f"item_u_{tag}", f"item_a_{tag}", f"call_{tag}"
    for _ in range(4):  # any response the fuzz asked for is answered, as a server would
        if not s._sequencer.busy:
            break
        frontend.emit(_ev("response.done", response={"id": f"settle_{tag}", "output": []}))
    frontend.emit(_ev("session.updated", session={"type": "realtime", "model": "gpt-realtime-2.1"}))
    before = s.cost()["known_cost_usd"]  # fuzzed events may name models with no price
    sent = len(frontend.client_events)
    s.send_text("What is two plus three?")
    assistant = {**_ASSISTANT, "id": reply, "content": [{"type": "output_audio"}]}
    frontend.emit(
        _ev(
            "conversation.item.added",
            item={
                "id": user,
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What is two plus three?"}],
            },
        ),
        _ev("response.created", response={"id": f"r1_{tag}", "output": []}),
        _ev("response.output_item.added", response_id=f"r1_{tag}", item=assistant),
        _ev("conversation.item.added", item={**assistant, "content": []}),
        _ev(
            "response.function_call_arguments.done",
            response_id=f"r1_{tag}",
            item_id=f"item_f_{tag}",
            call_id=call,
            name="add",
            arguments='{"a": 2, "b": 3}',
        ),
        _ev(
            "response.done",
            response={"id": f"r1_{tag}", "status": "completed", "output": [], "usage": _USAGE},
        ),
        _ev("response.created", response={"id": f"r2_{tag}", "output": []}),
        _ev("response.output_audio_transcript.delta", item_id=reply, delta="Five"),
        _ev("response.output_audio_transcript.done", item_id=reply, transcript="It is five."),
        _ev(
            "response.done",
            response={
                "id": f"r2_{tag}",
                "status": "completed",
                "output": [assistant],
                "usage": _USAGE,
            },
        ),
    )
    problems = []
    new = frontend.client_events[sent:]
    kinds = [e["type"] for e in new]
    outputs = [
        e["item"]["output"]
        for e in new
        if e["type"] == "conversation.item.create" and e["item"].get("call_id") == call
    ]
    if outputs != ["5"]:
        problems.append(f"tool outputs {outputs!r}")
    if kinds.count("response.create") != 2:
        problems.append(f"client events {kinds!r}")
    turns = {t.item_id: t.text for t in s.transcript}
    if turns.get(user) != "What is two plus three?" or turns.get(reply) != "It is five.":
        problems.append(f"transcript {turns.get(user)!r} / {turns.get(reply)!r}")
    spent = s.cost()["known_cost_usd"] - before
    if abs(spent - 2 * _cost(_USAGE)) > 1e-9:
        problems.append(f"cost {spent!r}")
    return problems


def fuzzable_session() -> tuple[rt.RealtimeSession, ScriptedFrontend]:
    """A connected session with the tool the scripted conversation calls."""
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)

    @s.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    s.connect()
    return s, frontend
