"""Malformed server events never escape, never cost their neighbours, never stop a session.

Regression tests for each way one bad event used to break the kernel, then hypothesis fuzzing
of the frontend-message path, ``HeadlessSession`` and ``load_session`` with mutated GA events;
after the fuzz, a normal conversation through the same object must come out right.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rt_notebook as rt
from rt_notebook.analysis.recorded import load_session
from tests.kernel.event_fuzz import (
    CONVERSATION,
    TIMESTAMPS,
    _ev,
    batches,
    fuzzable_session,
    mutated_events,
    scripted_conversation,
)
from tests.protocol import assert_server_event

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,  # the same cases in every CI run; bench/fuzz_events.py explores further
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_seed_conversation_is_valid_ga() -> None:
    for event in CONVERSATION:
        assert_server_event(event)


def test_a_scripted_conversation_passes_without_fuzz() -> None:
    s, frontend = fuzzable_session()
    frontend.emit(*CONVERSATION)
    assert scripted_conversation(s, frontend) == []
    assert s.bad_events == {}


# ---- each failure found, as a regression test ---------------------------------------------


def test_one_bad_entry_does_not_drop_the_rest_of_its_batch() -> None:
    s, frontend = fuzzable_session()
    good = _ev("response.created", response={"id": "r1", "output": []})
    frontend._deliver(
        [
            {"dir": "server", "t": "not a number", "event": _ev("rate_limits.updated")},
            {"dir": "server", "t": 1.0, "event": _ev("response.done", response={"output": 7})},
            {"dir": "server", "t": 2.0, "event": good},
        ]
    )
    assert s.events.types() == ["rate_limits.updated", "response.done", "response.created"]
    assert s.events[0].time > 1e9  # a timestamp that is not a number becomes "now"
    assert s._sequencer.active == "r1"


def test_junk_response_output_does_not_silence_the_assistant() -> None:
    s, frontend = fuzzable_session()
    frontend.emit(_ev("response.created", response={"id": "r1", "output": []}))
    s.create_response()  # queued behind r1
    assert [e["type"] for e in frontend.client_events] == []
    frontend.emit(_ev("response.done", response={"id": "r1", "output": [1, "x", [2]]}))
    assert [e["type"] for e in frontend.client_events] == ["response.create"]


def test_bad_usage_keeps_handlers_budget_and_cost_working(caplog: pytest.LogCaptureFixture) -> None:
    s, frontend = fuzzable_session()
    s.budget_usd = 0.01
    seen: list[str] = []
    s.on("response.done", lambda e: seen.append(str(as_id(e))))
    bad_usages: list[Any] = [
        [1, 2],
        {"input_tokens": "many", "output_tokens": float("nan")},
        {"input_tokens": 10**400, "input_token_details": []},
        {"output_tokens": -(10**9), "output_token_details": {"audio_tokens": {"x": 1}}},
    ]
    for n, usage in enumerate(bad_usages):
        frontend.emit(_ev("response.done", response={"id": f"bad{n}", "usage": usage}))
    assert s.cost()["cost_usd"] >= 0
    assert len(s.usage()) == 3  # the rows whose usage was an object (junk reads as 0 tokens)
    big = {"input_tokens": 0, "output_tokens": 200_000, "output_token_details": {}}
    frontend.emit(_ev("response.done", response={"id": "big", "usage": big}))
    assert seen == ["bad0", "bad1", "bad2", "bad3", "big"]
    assert s._sequencer.stopped  # the budget was enforced
    assert (s.error or {}).get("code") == "budget_reached"
    assert s.bad_events == {}  # nothing even needed isolating


def as_id(event: rt.RealtimeEvent) -> object:
    return event.response.get("id") if isinstance(event.response, dict) else None


def test_an_unhashable_item_id_does_not_poison_playback() -> None:
    s, frontend = fuzzable_session()
    item = {"id": "item_a", "type": "message", "role": "assistant", "content": []}
    frontend.emit(
        _ev("response.output_item.added", response_id="r1", item={"id": ["not", "hashable"]}),
        _ev("response.output_item.added", response_id="r1", item=item),
        _ev("conversation.item.added", item=item),
        _ev("output_audio_buffer.started", response_id="r1"),
    )
    (turn,) = s.transcript
    assert turn.start is not None
    frontend.emit(_ev("output_audio_buffer.stopped", response_id="r1"))
    assert turn.audio_ms is not None


def test_a_consumer_that_breaks_is_reported_once_per_kind(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, frontend = fuzzable_session()
    seen: list[str] = []
    s.on("*", lambda e: seen.append(e.type))

    def broken(event: rt.RealtimeEvent) -> None:
        raise RuntimeError("transcript bug")

    monkeypatch.setattr(s.transcript, "update", broken)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            frontend.emit(_ev("response.created", response={"id": "r", "output": []}))
            frontend.emit(_ev("response.done", response={"id": "r", "output": []}))
    assert seen.count("response.done") == 5  # handlers still ran
    assert s.bad_events == {
        ("transcript", "response.created"): 5,
        ("transcript", "response.done"): 5,
    }
    assert caplog.text.count("broke the transcript") == 2
    shown = [o["text"] for o in s.output.outputs if "broke the transcript" in o.get("text", "")]
    assert len(shown) == 2
    assert "transcript bug" in shown[0]


# ---- fuzzing ------------------------------------------------------------------------------


@FUZZ
@given(batches=batches, stamps=st.lists(TIMESTAMPS, max_size=4))
def test_fuzzed_batches_never_escape_and_a_normal_session_follows(
    batches: list[list[dict[str, Any]]], stamps: list[Any]
) -> None:
    s, frontend = fuzzable_session()
    for n, batch in enumerate(batches):
        t = stamps[n] if n < len(stamps) else None
        frontend._deliver([{"dir": "server", "t": t, "event": e} for e in batch])
    s.usage(), s.cost(), s.latencies(), s.latency_summary(), s.tool_calls()
    s.transcript.to_markdown(), s.transcript.to_dicts(), repr(s.events)
    assert scripted_conversation(s, frontend) == []


async def test_fuzzed_headless_session_then_a_real_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = rt.HeadlessSession(
        session={"output_modalities": ["text"]}, local_scenario=["Still here."] * 500
    )
    async with s:

        @FUZZ
        @given(event=mutated_events())
        def inject(event: dict[str, Any]) -> None:
            s._on_server_event(event)  # as if it came off the WebSocket

        inject()
        # The fuzz's own responses never finish; a server would end them. Requests the session
        # really sent are answered by the local backend.
        s._on_server_event(_ev("response.done", response={"id": "fuzz_end", "output": []}))
        await wait_until(lambda: not s._sequencer.busy)
        assert await s.ask("Are you there?", timeout=30) == "Still here."
        s.usage(), s.cost(), s.latencies(), s.tool_calls()
    assert s.transcript[-1].text == "Still here."


@settings(FUZZ, max_examples=40)
@given(events=st.lists(mutated_events(), max_size=20), stamps=st.lists(st.floats(), max_size=20))
def test_fuzzed_recordings_load_and_analyse(
    events: list[dict[str, Any]], stamps: list[Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.jsonl"
    lines = [
        json.dumps({"t": stamps[n] if n < len(stamps) else 0, "direction": "server", "event": e})
        for n, e in enumerate([*CONVERSATION, *events])
    ]
    path.write_text("\n".join(lines) + "\n")
    recorded = load_session(path)
    recorded.usage(), recorded.cost(), recorded.latencies(), recorded.tool_calls()
    assert recorded.transcript.to_markdown()
    assert recorded.cost()["responses"] >= 1


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_recordings_keep_their_transcript_despite_junk(tmp_path: Path) -> None:
    junk = [_ev("response.done", response={"id": "x", "output": [[]], "usage": "lots"})]
    path = tmp_path / "s.jsonl"
    path.write_text(
        "".join(
            json.dumps({"t": 1000.0 * n, "direction": "server", "event": e}) + "\n"
            for n, e in enumerate([*junk, *CONVERSATION, *junk])
        )
    )
    recorded = load_session(path)
    assert [(t.role, t.text) for t in recorded.transcript] == [
        ("user", "Hi there"),
        ("assistant", "Hello there."),
        ("tool", 'add({"a": 1, "b": 2})'),  # a recording of the server's side: no output
    ]


def test_bad_event_counts_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    s, frontend = fuzzable_session()

    def broken(event: rt.RealtimeEvent) -> None:
        raise RuntimeError("transcript bug")

    monkeypatch.setattr(s.transcript, "update", broken)
    frontend.emit(*(_ev(f"invented.{n}." + "x" * 1000) for n in range(500)))
    assert len(s.bad_events) <= 201
    assert s.bad_events[("transcript", "(other types)")] == 300
    assert len(s.output.outputs) <= 201
