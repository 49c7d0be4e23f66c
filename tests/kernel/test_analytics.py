"""Analytics on a scripted session, compared with values computed by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rt_notebook as rt
from rt_notebook.testing import ScriptedFrontend


def ev(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": "event_1", **fields}


USAGE = {
    "total_tokens": 300,
    "input_tokens": 100,
    "output_tokens": 200,
    "input_token_details": {
        "text_tokens": 20,
        "audio_tokens": 80,
        "image_tokens": 0,
        "cached_tokens": 10,
        "cached_tokens_details": {"text_tokens": 10, "audio_tokens": 0, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 50, "audio_tokens": 150},
}
# by hand, gpt-realtime-2.1: 10 text x $4 + 10 cached text x $0.40 + 80 audio x $32
# + 50 text out x $24 + 150 audio out x $64, per million tokens
R1_COST = (10 * 4 + 10 * 0.4 + 80 * 32 + 50 * 24 + 150 * 64) / 1e6
# only totals (as live sessions sometimes send): priced as audio, the dearer kind
R2_COST = (40 * 32 + 60 * 64) / 1e6


def play(frontend: ScriptedFrontend, script: list[tuple[float, Any]]) -> None:
    for t, step in script:
        frontend.clock = lambda t=t: t * 1000.0
        if callable(step):
            step()
        else:
            frontend.emit(step)


def scripted_session(**kwargs: Any) -> tuple[rt.RealtimeSession, ScriptedFrontend]:
    s = rt.RealtimeSession(**kwargs)
    frontend = ScriptedFrontend(s)
    said = "one two three four five six seven eight nine ten"
    r1_item = {
        "id": "a1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_audio", "transcript": "Hello there friend"}],
    }
    r2_item = {
        "id": "a2",
        "type": "message",
        "role": "assistant",
        "status": "incomplete",
        "content": [{"type": "output_audio", "transcript": said}],
    }
    call = {
        "id": "f1",
        "type": "function_call",
        "call_id": "c1",
        "name": "area",
        "arguments": "{}",
        "status": "completed",
    }
    play(
        frontend,
        [
            (
                1000.0,
                ev("session.created", session={"type": "realtime", "model": "gpt-realtime-2.1"}),
            ),
            (1001.0, ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=500)),
            (1003.0, ev("input_audio_buffer.speech_stopped", item_id="u1", audio_end_ms=2500)),
            (
                1003.05,
                ev(
                    "conversation.item.added",
                    item={
                        "id": "u1",
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_audio", "transcript": None}],
                    },
                ),
            ),
            (1003.3, ev("response.created", response={"id": "r1", "status": "in_progress"})),
            (
                1003.35,
                ev(
                    "response.output_item.added",
                    response_id="r1",
                    output_index=0,
                    item={"id": "a1", "type": "message", "role": "assistant", "content": []},
                ),
            ),
            (
                1003.36,
                ev(
                    "conversation.item.added",
                    item={"id": "a1", "type": "message", "role": "assistant", "content": []},
                ),
            ),
            (1003.5, ev("output_audio_buffer.started", response_id="r1")),
            (
                1003.6,
                ev(
                    "response.output_audio_transcript.delta",
                    response_id="r1",
                    item_id="a1",
                    output_index=0,
                    content_index=0,
                    delta="Hello",
                ),
            ),
            (
                1003.7,
                ev(
                    "conversation.item.input_audio_transcription.completed",
                    item_id="u1",
                    content_index=0,
                    transcript="Hi there",
                ),
            ),
            (
                1004.0,
                ev(
                    "response.output_audio_transcript.done",
                    response_id="r1",
                    item_id="a1",
                    output_index=0,
                    content_index=0,
                    transcript="Hello there friend",
                ),
            ),
            (
                1004.2,
                ev(
                    "response.done",
                    response={
                        "id": "r1",
                        "status": "completed",
                        "output": [r1_item],
                        "usage": USAGE,
                    },
                ),
            ),
            (1006.5, ev("output_audio_buffer.stopped", response_id="r1")),
            (1010.0, lambda: s.send_text("Compute an area")),
            (
                1010.1,
                ev(
                    "conversation.item.added",
                    item={
                        "id": "t1",
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Compute an area"}],
                    },
                ),
            ),
            (1010.4, ev("response.created", response={"id": "r3", "status": "in_progress"})),
            (
                1010.6,
                ev(
                    "response.function_call_arguments.done",
                    response_id="r3",
                    item_id="f1",
                    output_index=0,
                    call_id="c1",
                    name="area",
                    arguments="{}",
                ),
            ),
            (
                1010.9,
                ev("response.done", response={"id": "r3", "status": "completed", "output": [call]}),
            ),
            (1011.0, ev("response.created", response={"id": "r2", "status": "in_progress"})),
            (
                1011.1,
                ev(
                    "response.output_item.added",
                    response_id="r2",
                    output_index=0,
                    item={"id": "a2", "type": "message", "role": "assistant", "content": []},
                ),
            ),
            (
                1011.1,
                ev(
                    "conversation.item.added",
                    item={"id": "a2", "type": "message", "role": "assistant", "content": []},
                ),
            ),
            (1011.2, ev("output_audio_buffer.started", response_id="r2")),
            (
                1011.3,
                ev(
                    "response.output_audio_transcript.done",
                    response_id="r2",
                    item_id="a2",
                    output_index=0,
                    content_index=0,
                    transcript=said,
                ),
            ),
            (1012.7, ev("output_audio_buffer.cleared", response_id="r2")),
            (
                1012.8,
                ev(
                    "response.done",
                    response={
                        "id": "r2",
                        "status": "cancelled",
                        "output": [r2_item],
                        "usage": {"input_tokens": 40, "output_tokens": 60, "total_tokens": 100},
                    },
                ),
            ),
        ],
    )
    return s, frontend


def test_turns_latencies_tokens_and_cost() -> None:
    s, _ = scripted_session()

    @s.tool
    def area() -> int:
        return 6

    user, assistant, typed, tool, cut = list(s.transcript)
    assert (user.role, user.text, user.audio_ms) == ("user", "Hi there", 2000.0)
    assert (user.start, user.end) == (1001.0, 1003.0)
    assert (assistant.text, assistant.audio_ms, assistant.interrupted) == (
        "Hello there friend",
        pytest.approx(3000.0),
        False,
    )
    assert typed.text == "Compute an area"
    # the model's tool call, answered by the kernel (no tool named area was registered then)
    assert (tool.role, tool.tool_name, tool.call_id, tool.final) == ("tool", "area", "c1", True)
    assert tool.output is not None
    assert "no tool named 'area'" in tool.output
    assert tool.text.startswith(f"area({tool.arguments}) → ")
    assert cut.interrupted
    assert cut.full_text == "one two three four five six seven eight nine ten"
    assert cut.text == "one two three four"  # 1.5 s heard at 2.7 words/s
    assert cut.audio_ms == pytest.approx(1500.0)

    r1, r3, r2 = s.latencies()
    assert (r1["response_id"], r1["trigger"]) == ("r1", "speech")
    assert r1["response_ms"] == pytest.approx(300.0)
    assert r1["first_output_ms"] == pytest.approx(500.0)
    assert r1["generation_ms"] == pytest.approx(900.0)
    assert (r3["trigger"], r3["response_ms"]) == ("text", pytest.approx(400.0))
    assert r2["status"] == "cancelled"
    summary = {row["metric"]: row for row in s.latency_summary()}
    assert summary["response_ms"]["count"] == 3
    assert summary["response_ms"]["median"] == pytest.approx(400.0)

    usage = s.usage()
    assert [row["response_id"] for row in usage] == ["r1", "r2"]
    assert usage[0]["cost_usd"] == pytest.approx(R1_COST)
    assert usage[1]["estimated"] is True
    assert usage[1]["cost_usd"] == pytest.approx(R2_COST)
    total = s.cost()
    assert total["model"] == "gpt-realtime-2.1"
    assert total["cost_usd"] == pytest.approx(R1_COST + R2_COST)
    assert (total["input_tokens"], total["output_tokens"]) == (140, 260)


def test_tool_call_durations() -> None:
    s, frontend = scripted_session()
    (unknown,) = s.tool_calls()  # no tool registered: an error output still goes back
    assert "no tool named 'area'" in unknown["output"]
    s2 = rt.RealtimeSession()
    f2 = ScriptedFrontend(s2)

    @s2.tool
    def area() -> int:
        return 6

    play(
        f2,
        [
            (
                5.0,
                ev(
                    "response.function_call_arguments.done",
                    response_id="r",
                    item_id="i",
                    output_index=0,
                    call_id="c9",
                    name="area",
                    arguments="{}",
                ),
            )
        ],
    )
    (row,) = s2.tool_calls()
    assert (row["name"], row["output"], row["duration_ms"]) == ("area", "6", 0.0)
    outputs = [e for e in frontend.client_events if e.get("item", {}).get("call_id") == "c1"]
    assert outputs[0]["item"]["type"] == "function_call_output"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    s, _ = scripted_session()
    path = s.save(tmp_path / "session.jsonl")
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"t", "direction", "event"}
    loaded = rt.load_session(path)
    assert loaded.transcript.to_dicts() == s.transcript.to_dicts()
    assert loaded.latencies() == s.latencies()
    assert loaded.cost() == s.cost()
    assert len(loaded.events) == len(s.events)

    bad = tmp_path / "bad.jsonl"
    bad.write_text(path.read_text().splitlines()[0] + "\nnot json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        rt.load_session(bad)


def test_transcript_exports(tmp_path: Path) -> None:
    s, _ = scripted_session()
    rows = s.transcript.to_dicts()
    assert [r["role"] for r in rows] == ["user", "assistant", "user", "tool", "assistant"]
    frame = s.transcript.to_dataframe()
    assert list(frame["text"])[:2] == ["Hi there", "Hello there friend"]
    lines = s.transcript.to_jsonl(tmp_path / "t.jsonl").read_text().splitlines()
    assert json.loads(lines[4])["interrupted"] is True
    assert json.loads(lines[3])["tool_name"] == "area"
    markdown = s.transcript.to_markdown()
    assert "**user**" in markdown
    assert "**tool**" in markdown
    assert "one two three four *(interrupted)*" in markdown
    assert s.usage().to_dataframe()["cost_usd"].sum() == pytest.approx(R1_COST + R2_COST)


def test_budget_stops_new_responses_and_ends_the_call() -> None:
    s, frontend = scripted_session(budget_usd=0.01)
    assert s.widget.error["code"] == "budget_reached"
    assert "$0.0100 budget" in s.widget.error["message"]
    assert {"kind": "disconnect"} in frontend.messages
    before = [e["type"] for e in frontend.client_events].count("response.create")
    s.send_text("one more?")
    assert [e["type"] for e in frontend.client_events].count("response.create") == before
    assert "Budget reached" in s.output.outputs[-1]["text"]


def test_prices_for_dated_models_and_custom_tables() -> None:
    from rt_notebook.analysis.usage import PRICES, prices_for

    assert prices_for("gpt-realtime-2025-08-28") == PRICES["gpt-realtime"]
    assert prices_for("gpt-realtime-mini-2025-10-06") == PRICES["gpt-realtime-mini"]
    # a longer name is not priced as its prefix: the mini is not the flagship
    assert prices_for("gpt-realtime-2.1-mini") != PRICES["gpt-realtime-2.1"]
    cheap = rt.Prices(1, 1, 1, 1, 1, 1, 1)
    s, _ = scripted_session(prices={"gpt-realtime-2.1": cheap})
    assert s.cost()["cost_usd"] == pytest.approx((100 + 200 + 40 + 60) / 1e6)


def test_tables_show_epoch_seconds_as_local_times() -> None:
    import time

    from rt_notebook.analysis.tables import Table

    t = 1_796_000_000.25
    table = Table([{"created_t": t, "latency_ms": 812.5, "start": t + 1}])
    html = table._repr_html_()
    assert time.strftime("%H:%M:%S", time.localtime(t)) + ".250" in html
    assert "1.796e+09" not in html
    assert "812.5" in html
    frame = table.to_dataframe()
    assert str(frame["created_t"].dtype).startswith("datetime64")
    assert frame["created_t"][0].timestamp() == t
    assert frame["latency_ms"][0] == 812.5
