"""The local backend speaking GPT-Live over its primary WebSocket (``/v1/live/sessions``): a
voice turn from espeak audio, text in, tools on a Responses backend and on the client, barge-in,
faults and refusals, every event strictly valid against openai.types.live."""

from __future__ import annotations

import asyncio
import base64
import json
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

from rt_notebook.local.responders import ResponseContext
from rt_notebook.wire.audio import SAMPLE_RATE, from_pcm16
from tests.local.harness import (
    LiveWsClient,
    WsClient,
    espeak_pcm,
    live_text_turn,
    running_backend,
    silence,
    wait_until,
)
from tests.protocol import assert_in_order, assert_live_conformant, assert_live_server_event

FAST = 20.0
TOOLS = {
    "type": "responses",
    "responses": {
        "model": "gpt-5.6-terra",
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
    },
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    path = tmp_path_factory.mktemp("live") / "weather.wav"
    return espeak_pcm("What is the weather like in Paris today?", path)


def conformant(client: LiveWsClient) -> None:
    """Every event and frame the client got, and every event it sent, is valid Live."""
    checked = assert_live_conformant(client.events + client.frames[:50], client.sent)
    assert checked == len(client.events) + min(50, len(client.frames)) + len(client.sent)


def said(client: LiveWsClient) -> str:
    return "".join(e["delta"] for e in client.of("session.output_transcript.delta"))


def voiced(frames: list[dict[str, Any]]) -> float:
    """Seconds of output audio louder than the idle stream."""
    loud = 0
    for frame in frames:
        samples = from_pcm16(base64.b64decode(frame["delta"]))
        if len(samples) and np.abs(samples).max() > 200:
            loud += len(samples)
    return loud / SAMPLE_RATE


async def test_voice_turn_from_speech(speech: np.ndarray) -> None:
    async with running_backend(realtime_factor=FAST, keep_audio=True) as (backend, url):
        client = await LiveWsClient.start(url, event_id="start_1")
        started = client.of("session.started")[0]
        assert started["client_event_id"] == "start_1"
        session = started["session"]
        assert session["id"].startswith("live_")
        assert session["status"] == "active"
        assert session["audio"] == {
            "format": {"type": "audio/pcm", "rate": 24000},
            "output": {"voice": "marin"},
        }
        await wait_until(lambda: len(client.frames) >= 3, 5, "idle output frames")
        client.speak(np.concatenate([speech, silence(1.5)]))
        await client.wait("session.usage.updated", timeout=30)
        client.send({"type": "session.close", "event_id": "bye"})
        closed = await client.wait("session.closed", timeout=10)
        await wait_until(lambda: client.closed, 5, "socket closed")
        record = backend.sessions[session["id"]].record

    heard = client.of("session.input_transcript.delta")
    assert "".join(e["delta"] for e in heard).startswith("(speech, ")
    spoken_ms = len(speech) * 1000 / SAMPLE_RATE
    assert 0.6 * spoken_ms < heard[-1]["end_ms"] - heard[0]["start_ms"] < 1.6 * spoken_ms
    assert all(a["end_ms"] <= b["start_ms"] for a, b in pairwise(heard))
    assert "of speech" in said(client)
    spoken = client.of("session.output_transcript.delta")
    assert spoken[0]["start_ms"] >= heard[-1]["end_ms"]
    assert all(a["start_ms"] <= b["start_ms"] for a, b in pairwise(spoken))
    assert voiced(client.frames) > 0.5
    assert closed["reason"] == "close_requested"
    assert closed["client_event_id"] == "bye"
    assert set(closed["usage"]) == {"seconds"}  # active/paused: WebRTC only
    assert record.audio_in_ms > spoken_ms
    assert len(record.turns) == 1
    appends = [e for e in record.client_events if e["type"] == "session.input_audio.append"]
    assert appends
    assert all("audio" not in e and e["audio_chars"] > 0 for e in appends)  # bounded record
    conformant(client)
    assert_in_order(
        client.types(),
        [
            "session.started",
            "session.input_transcript.delta",
            "session.output_transcript.delta",
            "session.usage.updated",
            "session.closed",
        ],
    )


async def test_idle_output_is_continuous_and_not_exact_zeros() -> None:
    async with running_backend() as (_, url):
        client = await LiveWsClient.start(url)
        await asyncio.sleep(0.55)
        frames = list(client.frames)
        await client.close()
    assert 3 <= len(frames) <= 8  # 100 ms frames at real-time pace
    samples = [from_pcm16(base64.b64decode(f["delta"])) for f in frames]
    assert all(len(s) == 2400 for s in samples)
    assert any(s.any() for s in samples)
    assert max(int(np.abs(s).max()) for s in samples) <= 1


async def test_text_in_is_answered_aloud() -> None:
    async with running_backend(realtime_factor=FAST) as (_, url):
        client = await LiveWsClient.start(url)
        client.send(
            {
                "type": "session.commentary.append",
                "event_id": "t1",
                "content": "Plot a parabola.",
                "delegation_id": None,
            }
        )
        appended = await client.wait("session.commentary.appended")
        await client.wait("session.usage.updated", timeout=20)
        words = len(client.of("session.output_transcript.delta"))
        client.send(
            {"type": "session.thinking.append", "content": "Be kind.", "delegation_id": None}
        )
        client.send(
            {"type": "session.instructions.append", "content": "Speak.", "delegation_id": None}
        )
        await client.wait("session.instructions.appended")
        await asyncio.sleep(0.3)
        await client.close()
    assert appended["client_event_id"] == "t1"
    assert appended["start_ms"] == appended["end_ms"]
    assert said(client) == 'You said: "Plot a parabola.".'
    assert len(client.of("session.thinking.appended")) == 1
    assert len(client.of("session.output_transcript.delta")) == words  # thinking is silent
    conformant(client)


async def test_tool_call_on_the_responses_backend() -> None:
    scenario = [{"call": "get_weather", "arguments": {"city": "Paris"}}]
    async with running_backend(realtime_factor=FAST, scenario=scenario) as (_, url):
        client = await LiveWsClient.start(url, {"model": "gpt-live-1", "delegation": TOOLS})
        client.send(
            {"type": "session.commentary.append", "content": "Weather?", "delegation_id": None}
        )
        delegated = await client.wait("session.delegation.created")
        await client.wait("response.event", count=3)
        call = client.of("response.event")[1]["event"]["item"]
        client.send({"type": "response.create", "event_id": "early"})
        early = await client.wait("error")
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": '{"c":21}'}
        client.send({"type": "response.item.create", "item": output})
        client.send({"type": "response.item.create", "item": output})  # answered twice
        await client.wait("error", count=2)
        client.send({"type": "response.create"})
        await client.wait("response.event", count=6)
        await client.wait("session.usage.updated", timeout=20)
        await client.close()

    delegation = delegated["delegation"]
    assert delegation["target"] == "responses"
    envelopes = client.of("response.event")
    assert {e["delegation_id"] for e in envelopes} == {delegation["id"]}
    inner = [e["event"]["type"] for e in envelopes]
    assert inner == ["response.created", "response.output_item.done", "response.completed"] * 2
    assert envelopes[0]["event"]["response"]["id"] == delegation["response_id"]
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    assert envelopes[2]["event"]["response"]["usage"]["output_tokens"] > 0
    assert early["error"]["code"] == "function_call_outputs_required"
    assert call["call_id"] in early["error"]["message"]
    assert early["client_event_id"] == "early"
    assert "already has an output" in client.of("error")[1]["error"]["message"]
    answer = envelopes[4]["event"]["item"]["content"][0]["text"]
    assert answer == 'The get_weather tool returned {"c":21}.'
    assert said(client) == answer
    conformant(client)


async def test_tool_call_delegated_to_the_client() -> None:
    scenario = [{"call": "lookup_order"}]
    async with running_backend(realtime_factor=FAST, scenario=scenario) as (_, url):
        client = await LiveWsClient.start(url)
        client.send(
            {"type": "session.commentary.append", "content": "Order?", "delegation_id": None}
        )
        delegated = await client.wait("session.delegation.created")
        delegation_id = delegated["delegation"]["id"]
        client.send({"type": "response.create"})  # no backend under client delegation
        refused = await client.wait("error")
        answer = {"content": "It ships Friday.", "delegation_id": delegation_id}
        client.send({"type": "session.thinking.append", **answer})
        client.send({"type": "session.commentary.append", **answer})
        await client.wait("session.commentary.appended", count=2)
        await client.wait("session.usage.updated", timeout=20)
        client.send({"type": "session.commentary.append", **answer})  # that one is closed
        closed = await client.wait("error", count=2)
        await client.close()
    assert delegated["delegation"]["target"] == "client"
    assert "Responses delegation" in refused["error"]["message"]
    assert said(client) == "It ships Friday."
    assert closed["error"]["param"] == "delegation_id"
    conformant(client)


async def test_barge_in_stops_the_voice(speech: np.ndarray) -> None:
    long_reply = " ".join(["Once upon a time there was a parabola."] * 6)
    scenario = [{"say": long_reply}, {"say": "Yes?"}]
    async with running_backend(scenario=scenario) as (_, url):  # real time
        client = await LiveWsClient.start(url)
        client.send(
            {"type": "session.commentary.append", "content": "Tell.", "delegation_id": None}
        )
        await client.wait("session.output_transcript.delta", count=4, timeout=20)
        client.speak(np.concatenate([speech, silence(1.2)]))
        await wait_until(lambda: "Yes?" in said(client), 30, "the answer to the interruption")
        await client.close()
    story = said(client).split("Yes?")[0]
    assert 0 < len(story) < len(long_reply) // 2
    assert client.of("session.input_transcript.delta")
    conformant(client)


async def test_scenario_faults() -> None:
    scenario = [
        {"say": "Oops.", "error": {"code": "rate_limited", "message": "Slow down."}},
        {"say": "Never finished, never finished at all.", "fault": "stop_mid_response"},
        {"say": "Bye.", "fault": "close_peer"},
    ]
    async with running_backend(realtime_factor=FAST, scenario=scenario) as (_, url):
        client = await LiveWsClient.start(url)
        text = {"type": "session.commentary.append", "content": "Go.", "delegation_id": None}
        client.send(text)
        error = await client.wait("error")
        await client.wait("session.usage.updated", timeout=20)
        client.send(text)
        await client.wait("session.output_transcript.delta", count=3)
        await asyncio.sleep(0.5)
        stalled = len(client.of("session.output_transcript.delta"))
        client.send(text)  # the stalled reply is replaced
        await wait_until(lambda: client.closed, 10, "the socket closed by the fault")
    assert error["error"] == {
        "type": "server_error",
        "code": "rate_limited",
        "message": "Slow down.",
    }
    assert stalled < 2 + 7  # "Oops." and part of the stalled sentence
    assert not client.of("session.closed")  # a fault, not a close
    conformant(client)


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        ({"type": "response.cancel"}, "invalid_value", "type"),
        ({"type": "conversation.item.create", "item": {}}, "invalid_value", "type"),
        ({"type": "session.start", "session": {"model": "gpt-live-1"}}, "invalid_value", "type"),
        (
            {"type": "session.commentary.append", "content": "x"},
            "missing_required_parameter",
            "delegation_id",
        ),
        (
            {"type": "session.commentary.append", "content": "x" * 2001, "delegation_id": None},
            "invalid_value",
            "content",
        ),
        (
            {"type": "session.update", "session": {"instructions": "x"}},
            "invalid_value",
            "session.instructions",
        ),
        (
            {"type": "session.update", "session": {"delegation": TOOLS}},
            "invalid_value",
            "session.delegation.type",
        ),
        ({"type": "session.input_audio.append", "audio": "***"}, "invalid_value", "audio"),
        ({"type": "decision.create", "event_id": "d1"}, "unsupported_by_local_backend", "type"),
        ({"type": "transport.dtmf.send", "event": "5"}, "invalid_value", "type"),
        (
            {
                "type": "response.item.create",
                "item": {"type": "function_call_output", "call_id": "c", "output": ""},
            },
            "invalid_value",
            "type",
        ),
    ],
)
async def test_refusals_keep_the_session(event: dict[str, Any], code: str, param: str) -> None:
    async with running_backend() as (_, url):
        client = await LiveWsClient.start(url)
        client.connection.write_message(json.dumps({**event, "event_id": "bad"}))
        error = await client.wait("error")
        client.send({"type": "session.input_audio.mute", "event_id": "m1"})
        muted = await client.wait("session.input_audio.muted")
        await client.close()
    assert error["error"]["code"] == code
    assert error["error"]["param"] == param
    assert error["client_event_id"] == error["error"]["client_event_id"] == "bad"
    assert muted["client_event_id"] == "m1"
    for received in client.events:
        assert_live_server_event(received)


async def test_startup_errors_end_the_connection() -> None:
    async with running_backend() as (_, url):
        early = await LiveWsClient.connect(url)
        early.send({"type": "session.input_audio.mute"})
        before = await early.wait("error")
        early.send({"type": "session.start", "session": {"model": "gpt-live-1", "voice": "x"}})
        refused = await early.wait("error", count=2)
        await wait_until(lambda: early.closed, 5, "closed after a startup error")
    assert "session.start first" in before["error"]["message"]
    assert refused["error"]["param"] == "session.voice"
    assert not early.of("session.started")


async def test_an_unknown_live_model_is_refused_at_startup() -> None:
    async with running_backend() as (_, url):
        client = await LiveWsClient.connect(url)
        client.send({"type": "session.start", "session": {"model": "gpt-live-9"}})
        refused = await client.wait("error")
        await wait_until(lambda: client.closed, 5, "closed after a startup error")
    assert refused["error"]["code"] == "model_not_found"
    assert refused["error"]["param"] == "session.model"


async def test_session_update_swaps_backend_tools() -> None:
    async with running_backend() as (_, url):
        client = await LiveWsClient.start(url, {"model": "gpt-live-1", "delegation": TOOLS})
        client.send(
            {
                "type": "session.update",
                "session": {"delegation": {"type": "responses", "responses": {"tools": []}}},
            }
        )
        updated = await client.wait("session.updated")
        await client.close()
    responses = updated["session"]["delegation"]["responses"]
    assert responses == {"model": "gpt-5.6-terra", "tools": []}
    conformant(client)


@pytest.mark.parametrize(
    "fmt",
    [{"type": "audio/pcm", "rate": 16000}, {"type": "audio/pcmu", "rate": 8000}],
    ids=["pcm16k", "pcmu"],
)
async def test_other_audio_formats(fmt: dict[str, Any]) -> None:
    async with running_backend(realtime_factor=FAST) as (_, url):
        client = await LiveWsClient.start(url, {"model": "gpt-live-1", "audio": {"format": fmt}})
        await wait_until(lambda: len(client.frames) >= 3, 5, "frames")
        await client.close()
    size = len(base64.b64decode(client.frames[2]["delta"]))
    assert size == (3200 if fmt["type"] == "audio/pcm" else 800)  # 100 ms
    assert client.of("session.started")[0]["session"]["audio"]["format"] == fmt
    conformant(client)


async def test_malformed_frames_are_refused_and_the_session_goes_on() -> None:
    deep = '{"type": "session.update", "session": ' + "[" * 5000 + "]" * 5000 + "}"
    async with running_backend() as (_, url):
        client = await LiveWsClient.start(url)
        for frame in ("not json", "[1, 2]", deep):
            client.connection.write_message(frame)
        await client.wait("error", count=3)
        client.send({"type": "session.input_audio.unmute"})
        await client.wait("session.input_audio.unmuted")
        await client.close()
    assert [e["error"]["code"] for e in client.of("error")] == ["invalid_json"] * 3


async def test_the_live_test_turn_runs_locally() -> None:
    """tests/live/test_openai_live.py's steps, against the local backend."""
    async with running_backend(realtime_factor=FAST) as (_, url):
        client = await live_text_turn(url)
    assert client.of("session.commentary.appended")[0]["client_event_id"] == "ask"
    assert said(client) == 'You said: "The user typed: say hello.".'
    assert client.of("session.closed")[0]["client_event_id"] == "bye"
    conformant(client)


async def test_user_messages_through_the_responses_backend() -> None:
    message = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hi there"}],
    }
    async with running_backend(realtime_factor=FAST) as (_, url):
        client = await LiveWsClient.start(url, {"model": "gpt-live-1", "delegation": TOOLS})
        client.send({"type": "response.create"})  # nothing to respond to yet
        await client.wait("error")
        for _ in range(129):
            client.send({"type": "response.item.create", "item": message})
        full = await client.wait("error", count=2)
        client.send({"type": "response.create"})
        await client.wait("session.usage.updated", timeout=20)
        await client.close()
    assert "At most 128" in full["error"]["message"]
    inner = [e["event"] for e in client.of("response.event")]
    assert [e["type"] for e in inner] == [
        "response.created",
        "response.output_item.done",
        "response.completed",
    ]
    assert said(client) == inner[1]["item"]["content"][0]["text"] == 'You said: "Hi there".'
    assert len(client.of("session.delegation.created")) == 1
    conformant(client)


async def test_a_session_expires_with_a_reason() -> None:
    async with running_backend(live_session_seconds=1) as (_, url):
        client = await LiveWsClient.start(url)
        closed = await client.wait("session.closed", timeout=10)
        await wait_until(lambda: client.closed, 5, "socket closed at expiry")
    started = client.of("session.started")[0]["session"]
    assert closed["reason"] == "expired"
    assert closed["session"]["expires_at"] == started["expires_at"]
    assert closed["session"]["status"] == "active"  # Live keeps "active" in the last snapshot
    conformant(client)


async def test_a_live_model_on_the_realtime_endpoint_is_an_invalid_model() -> None:
    async with running_backend() as (_, url):
        with pytest.raises(HTTPClientError) as refused:
            await WsClient.open(url, "model=gpt-live-1")
    assert refused.value.code == 400
    assert refused.value.response is not None
    assert b"invalid_model" in (refused.value.response.body or b"")


async def test_startup_input_is_history_the_model_answers_from() -> None:
    def count(context: ResponseContext) -> str:
        roles = [item.get("role") for item in context.conversation]
        return f"I know {len(roles)} messages: {', '.join(map(str, roles))}."

    history = [
        {"role": "developer", "content": [{"text": "Be brief."}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hi!"}]},
    ]
    async with running_backend(realtime_factor=FAST, scenario=count) as (_, url):
        client = await LiveWsClient.start(url, {"model": "gpt-live-1", "input": history})
        client.send({"type": "session.commentary.append", "content": "Hey", "delegation_id": None})
        await client.wait("session.usage.updated", timeout=20)
        await client.close()
    assert said(client) == "I know 3 messages: system, assistant, user."
    assert client.of("session.started")[0]["session"]["input"] == history
    conformant(client)
