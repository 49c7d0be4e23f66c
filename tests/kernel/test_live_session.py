"""Sessions speaking GPT-Live: HeadlessSession over the local backend's WebSocket, a
RealtimeSession in a real WebRTC call (LocalFrontend), the kernel relay's Live exchange and
sideband, backend tools answered once with one follow-up, the transcript grouped into turns,
usage in seconds, save/load and plots, and the Realtime operations Live refuses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rt_notebook as rt
from rt_notebook import plots
from rt_notebook.kernel import relay
from rt_notebook.kernel.live import LiveToolCalls
from rt_notebook.testing import LocalFrontend, RtcClient, wait_until
from rt_notebook.wire.events import RealtimeEvent
from rt_notebook.wire.session_config import SessionConfigError
from tests.local.harness import espeak_pcm
from tests.protocol import assert_live_conformant

SCENARIO = [
    {"say": "Hello there."},
    {"call": "add", "arguments": {"a": 2, "b": 3}},
    {"say": "Five."},
]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return espeak_pcm("Please add two and three.", tmp_path_factory.mktemp("live") / "s.wav")


def wire(session: Any, direction: str) -> list[dict[str, Any]]:
    return [e.raw for e in session.events if e.direction == direction]


async def test_a_headless_live_session_with_a_backend_tool(tmp_path: Path) -> None:
    s = rt.HeadlessSession(
        model="gpt-live-1",
        local_scenario=SCENARIO,
        prices={**rt.PRICES, "gpt-live-1": rt.LivePrices(6.0, 0.6)},
    )
    added: list[tuple[int, int]] = []

    @s.tool
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        added.append((a, b))
        return a + b

    seen: list[str] = []
    s.on("*", lambda event: seen.append(event.type))
    async with s:
        assert (s.status, s.backend, s.model) == ("connected", "local", "gpt-live-1")
        assert await s.ask("Hi") == "Hello there."
        assert await s.ask("Add two and three") == "Five."
    assert s.status == "closed"

    assert added == [(2, 3)]
    start = s.events.of("session.start")[0].raw["session"]
    assert start["audio"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert start["delegation"]["responses"]["tools"][0]["name"] == "add"
    sent = [e["type"] for e in wire(s, "client")]
    assert sent.count("response.item.create") == 1
    assert sent.count("response.create") == 1
    assert sent.index("response.item.create") < sent.index("response.create")
    assert sent[-1] == "session.close"
    assert seen[-1] == "session.closed"
    assert {"session.started", "response.event", "session.usage.updated"} <= set(seen)
    assert [(t.role, t.text, t.final) for t in s.transcript] == [
        ("user", "Hi", True),
        ("assistant", "Hello there.", True),
        ("user", "Add two and three", True),
        ("assistant", "Five.", True),
    ]
    assert all(t.end is not None and t.start is not None for t in s.transcript)
    assert [c["output"] for c in s.tool_calls()] == ["5"]
    latencies = s.latencies()
    assert [row["trigger"] for row in latencies] == ["text", "text"]
    assert all(row["first_output_ms"] > 0 for row in latencies)
    cost = s.cost()
    assert cost["model"] == "gpt-live-1"
    assert cost["seconds"] == s.events.of("session.closed")[0].raw["usage"]["seconds"]
    assert cost["cost_usd"] == pytest.approx(cost["seconds"] * 6.0 / 60)
    assert len(s.assistant_audio()) > 24000  # continuous output, silence included

    loaded = rt.load_session(s.save(tmp_path / "live.jsonl"))
    assert loaded.transcript.to_dicts() == s.transcript.to_dicts()
    assert loaded.model == "gpt-live-1"
    assert loaded.cost()["seconds"] == cost["seconds"]
    assert loaded.latencies().column("first_output_ms") == latencies.column("first_output_ms")
    figure = plots.dashboard(loaded)
    assert len(figure.axes) >= 3
    assert assert_live_conformant(wire(s, "server"), wire(s, "client")) > 20


async def test_a_live_realtime_session_in_a_webrtc_call(speech: np.ndarray) -> None:
    s = rt.RealtimeSession(model="gpt-live-1", voice="vesper")
    frontend = LocalFrontend(s, scenario=[SCENARIO[1], SCENARIO[2]])

    @s.tool
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        return a + b

    s.connect()
    started = await frontend.wait("session.started", timeout=20)
    assert started.session["audio"]["output"]["voice"] == "vesper"
    assert s.status == "connected"
    assert s.widget.call_id.startswith("live_")
    frontend.say(speech)
    await frontend.wait("response.event", count=6, timeout=40)  # the asking and the follow-up
    await frontend.wait("session.output_transcript.delta", timeout=30)
    await frontend.wait("session.usage.updated", timeout=30)
    # the grouper holds a fragment 50 ms for a simultaneous one; reading later settles it
    await wait_until(lambda: len(s.transcript) >= 2, 5, "the assistant's turn")
    await frontend.close()

    assert [c["output"] for c in s.tool_calls()] == ["5"]
    roles = [t.role for t in s.transcript]
    assert roles[0] == "user"
    assert "assistant" in roles
    spoken = s.transcript[0]
    assert spoken.modality == "audio"
    assert spoken.text
    assert spoken.audio_ms
    assert frontend.remote_samples > 24000
    assert s.cost()["seconds"] > 0
    assert assert_live_conformant(wire(s, "server"), wire(s, "client"), "data_channel") > 10


async def test_the_kernel_relay_exchanges_a_live_offer_and_attaches_a_sideband() -> None:
    client = RtcClient()
    content = {
        "sdp": await client.offer(),
        "session": {"model": "gpt-live-1"},
        "local": {"scenario": [{"say": "From the sideband."}]},
    }
    answer = await asyncio.wrap_future(relay.background_loop().submit(relay.exchange(content)))
    assert answer["backend"] == "local"
    assert answer["call_id"].startswith("live_")
    await client.accept(answer["sdp"], answer["call_id"])
    await client.wait("session.started", timeout=15)
    sideband = await asyncio.wrap_future(
        relay.join_call(answer["call_id"], "local", protocol="live")
    )
    sideband.send({"type": "session.commentary.append", "content": "Go.", "delegation_id": None})
    await client.wait("session.output_transcript.delta", count=3, timeout=20)  # word by word
    await sideband.close()
    await client.close()
    assert "From the sideband." in "".join(
        e["delta"] for e in client.events if e["type"] == "session.output_transcript.delta"
    )
    assert [e["type"] for e in sideband.sent] == ["session.commentary.append"]
    assert not [e for e in client.sent if e["type"] == "session.commentary.append"]


def test_live_sessions_refuse_what_live_does_not_offer() -> None:
    s = rt.RealtimeSession(model="gpt-live-1")
    sent: list[dict[str, Any]] = []
    s._transmit = sent.append  # type: ignore[method-assign]
    for call in (s.interrupt, s.create_response, lambda: s.send_image(b"\x89PNG....")):
        with pytest.raises(rt.LiveUnsupported, match="not available in a GPT-Live session"):
            call()
    s.send_text("Hello")
    s.send_text("Quietly noted", respond=False)
    assert sent == [
        {"type": "session.commentary.append", "content": "Hello", "delegation_id": None},
        {"type": "session.thinking.append", "content": "Quietly noted", "delegation_id": None},
    ]
    with pytest.raises(SessionConfigError, match="cannot change once a Live session"):
        s.update(instructions="new")
    with pytest.raises(ValueError, match="turn_detection= is a Realtime keyword"):
        rt.RealtimeSession(model="gpt-live-1", turn_detection="semantic_vad")
    with pytest.raises(ValueError, match="push_to_talk"):
        rt.RealtimeSession(model="gpt-live-1", push_to_talk=True)
    with pytest.raises(ValueError, match="speaks the realtime protocol"):
        rt.RealtimeSession(model="gpt-realtime-2.1", protocol="live")
    assert rt.RealtimeSession(protocol="live").config == {"model": "gpt-live-1"}


def test_tools_and_updates_of_a_live_session_go_to_the_delegation() -> None:
    s = rt.RealtimeSession(model="gpt-live-1")

    @s.tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    assert s.config["delegation"]["responses"]["model"] == "gpt-5.6-terra"
    sent: list[dict[str, Any]] = []
    s._transmit = sent.append  # type: ignore[method-assign]
    s.widget.status = "connected"

    @s.tool
    def pong() -> str:
        """Answer ping."""
        return "ping"

    s.update(delegation={"type": "responses", "responses": {"tool_choice": "required"}})
    assert [e["session"] for e in sent] == [
        {
            "delegation": {
                "type": "responses",
                "responses": {"tools": sent[0]["session"]["delegation"]["responses"]["tools"]},
            }
        },
        {"delegation": {"type": "responses", "responses": {"tool_choice": "required"}}},
    ]
    assert [t["name"] for t in sent[0]["session"]["delegation"]["responses"]["tools"]] == [
        "ping",
        "pong",
    ]
    responses = s.config["delegation"]["responses"]
    assert (responses["model"], responses["tool_choice"]) == ("gpt-5.6-terra", "required")

    client = rt.RealtimeSession(model="gpt-live-1", session={"delegation": {"type": "client"}})
    with pytest.raises(ValueError, match="needs a Responses delegation"):
        client.tool(ping)
    assert "ping" not in client.tools


def response_event(delegation: str, inner: dict[str, Any]) -> RealtimeEvent:
    return RealtimeEvent({"type": "response.event", "delegation_id": delegation, "event": inner})


def call_item(call_id: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "item": {
            "type": "function_call",
            "call_id": call_id,
            "name": "f",
            "arguments": "{}",
            "status": status,
        },
    }


def test_every_open_call_is_answered_once_then_one_response_create() -> None:
    sent: list[dict[str, Any]] = []
    calls = LiveToolCalls(sent.append)
    assert calls.observe(response_event("d1", {"type": "response.created"})) == []
    first = calls.observe(response_event("d1", call_item("c1")))
    second = calls.observe(response_event("d1", call_item("c2")))
    assert [c.call_id for c in first + second] == ["c1", "c2"]
    assert calls.observe(response_event("d1", call_item("c2"))) == []  # a repeat runs nothing
    assert calls.observe(response_event("d1", call_item("c3", "in_progress"))) == []
    calls.answer("c1", "one")
    calls.answer("c2", "two")
    calls.answer("c2", "again")  # answered once only
    assert [e["type"] for e in sent] == ["response.item.create"] * 2  # the response runs on
    calls.observe(response_event("d1", {"type": "response.completed"}))
    assert [e["type"] for e in sent][-1] == "response.create"
    assert calls.continued == 1

    # a failed response drops its calls: no output for them, no follow-up
    sent.clear()
    calls.observe(response_event("d2", {"type": "response.created"}))
    calls.observe(response_event("d2", call_item("c9")))
    calls.observe(response_event("d2", {"type": "response.failed"}))
    calls.answer("c9", "late")
    assert sent == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["d1", "d2", ""]),
            st.one_of(
                st.sampled_from(
                    ["response.created", "response.completed", "response.failed", "x"]
                ).map(lambda kind: {"type": kind}),
                st.builds(call_item, st.sampled_from(["a", "b", "c"])),
                st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
            ),
        ),
        max_size=30,
    )
)
def test_fuzzed_backend_streams_never_answer_twice(steps: list[tuple[str, Any]]) -> None:
    sent: list[dict[str, Any]] = []
    calls = LiveToolCalls(sent.append)
    for delegation, inner in steps:
        for call in calls.observe(response_event(delegation, inner)):
            calls.answer(call.call_id, "out")
    answered = [e["item"]["call_id"] for e in sent if e["type"] == "response.item.create"]
    assert len(answered) == len(set(answered))
    creates = [i for i, e in enumerate(sent) if e["type"] == "response.create"]
    assert all(sent[i - 1]["type"] == "response.item.create" for i in creates)


def test_live_usage_rows_price_active_and_paused_seconds() -> None:
    from rt_notebook.analysis.usage import usage_rows, usage_totals

    def report(kind: str, **usage: Any) -> RealtimeEvent:
        return RealtimeEvent({"type": kind, "usage": usage}, t=1000.0)

    started = RealtimeEvent({"type": "session.started", "session": {"model": "gpt-live-1.1"}})
    reports = [
        started,
        report("session.usage.updated", seconds=10.0, active_seconds=10, paused_seconds=0),
        report("session.usage.updated", seconds=70.0, active_seconds=10, paused_seconds=60),
        report("session.closed", seconds=80.0, active_seconds=20, paused_seconds=60),
    ]
    prices = {"gpt-live-1.1": rt.LivePrices(active_per_minute=0.6, paused_per_minute=0.06)}
    rows = usage_rows(reports, prices)
    assert [(r["active_seconds"], r["paused_seconds"]) for r in rows] == [
        (10, 0),
        (0, 60),
        (10, 0),
    ]
    assert {r["model"] for r in rows} == {"gpt-live-1.1"}
    totals = usage_totals(rows)
    assert totals["seconds"] == 80
    assert totals["responses"] == 3
    assert not totals["estimated"]
    assert totals["cost_usd"] == pytest.approx(20 * 0.01 + 60 * 0.001)
    assert json.dumps(rows[0], default=str)
    # a model without a price is never priced as another
    unpriced = usage_totals(usage_rows(reports, {}))
    assert unpriced["cost_usd"] is None
    assert unpriced["unpriced_models"] == ["gpt-live-1.1"]


async def test_behind_a_class_service_the_kernel_relay_refuses_live(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RT_NOTEBOOK_HUB_SERVICE_URL", "http://127.0.0.1:9/services/rt-notebook/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token")
    content = {"sdp": await RtcClient().offer(), "session": {"model": "gpt-live-1"}}
    answer = await relay.exchange(content)
    assert answer["error"]["code"] == "live_unsupported"
    assert "class service" in answer["error"]["message"]
