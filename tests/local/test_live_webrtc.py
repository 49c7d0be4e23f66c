"""The local backend speaking GPT-Live over real WebRTC (aiortc, espeak-ng speech): the JSON
exchange (``POST /v1/live/sessions``), the data channel and its allow-lists, the sideband
(``/attach``), idling, hangup and the HTTP refusals; every event strictly valid."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

from rt_notebook.errors import RealtimeError
from rt_notebook.local.backend import LiveSideband, LocalRealtime
from rt_notebook.wire.audio import SAMPLE_RATE, to_pcm16
from tests.local.harness import LiveWsClient, RtcClient, espeak_pcm, running_backend, wait_until
from tests.protocol import assert_live_conformant


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    path = tmp_path_factory.mktemp("live_rtc") / "hello.wav"
    return espeak_pcm("Hello there, what is the weather like in Paris today?", path)


def said(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "session.output_transcript.delta")


async def test_voice_turn_with_a_sideband(speech: np.ndarray) -> None:
    async with running_backend(keep_audio=True) as (backend, url):
        client = RtcClient()
        response = await client.connect_live(url, {"model": "gpt-live-1", "store": False})
        assert response.status_code == 201
        body = response.json()
        session_id = body["session"]["id"]
        assert set(body) == {"session", "transport"}
        assert body["transport"]["type"] == "webrtc"
        assert session_id.startswith("live_")
        assert client.call_id == session_id
        started = await client.wait("session.started", timeout=15)
        sideband = await LiveWsClient.connect(url, f"/live/sessions/{session_id}/attach")
        replay = await sideband.wait("session.started")
        client.say(speech)
        await client.wait("session.usage.updated", timeout=40)
        await sideband.wait("session.usage.updated")
        sideband.send(
            {"type": "session.commentary.append", "content": "Hi.", "delegation_id": None}
        )
        await client.wait("session.usage.updated", count=2, timeout=30)
        sideband.send({"type": "session.input_audio.append", "audio": "AAAA"})
        refused = await sideband.wait("error")
        client.send({"type": "session.close"})
        closed = await client.wait("session.closed", timeout=15)
        await sideband.wait("session.closed")
        await wait_until(lambda: backend.live_session(session_id) is None, 10, "the call ended")
        await client.close()
        await sideband.close()

    assert started["session"]["id"] == replay["session"]["id"] == session_id
    assert "format" not in started["session"]["audio"]  # WebRTC negotiates it
    assert "of speech" in said(client.events)
    assert said(client.events) == said(sideband.events)
    assert client.remote_energy > 0
    assert client.remote_samples > SAMPLE_RATE
    assert not [e for e in client.events if e["type"] == "session.output_audio.delta"]
    reflected = [f for f in sideband.frames if f["type"] == "session.input_audio.append"]
    assert sum(len(base64.b64decode(f["audio"])) for f in reflected) > len(speech) * 2
    timed = [f for f in sideband.frames if f["type"] == "session.output_audio.delta"]
    assert timed
    assert all(f["end_ms"] > f["start_ms"] for f in timed)
    assert "cannot be sent on a sideband" in refused["error"]["message"]
    assert set(closed["usage"]) == {"seconds", "active_seconds", "paused_seconds"}
    assert closed["usage"]["active_seconds"] + closed["usage"]["paused_seconds"] == int(
        closed["usage"]["seconds"]
    )
    assert assert_live_conformant(client.events, client.sent, channel="data_channel")
    assert assert_live_conformant(sideband.events + sideband.frames, sideband.sent, "sideband")


async def test_data_channel_allow_lists_and_fixtures(speech: np.ndarray) -> None:
    session = {
        "model": "gpt-live-1",
        "client": {
            "data_channel": {
                "allowed_client_events": ["session.close", "session.input_audio.mute"],
                "allowed_server_events": [
                    {"type": "session.output_transcript.delta"},
                    {"type": "session.output_audio.fixture.played"},
                    {"type": "session.closed"},
                ],
            }
        },
    }
    async with running_backend() as (backend, url):
        client = RtcClient()
        response = await client.connect_live(url, session, local={"scenario": ["Sure thing."]})
        assert response.status_code == 201
        await client.wait("session.started", timeout=15)
        info = await client.wait("info")
        sideband = await backend.join_call(client.call_id or "", 0)
        assert isinstance(sideband, LiveSideband)
        seen: list[dict[str, Any]] = []
        sideband.callbacks.append(seen.append)
        client.send({"type": "session.commentary.append", "content": "x", "delegation_id": None})
        client.send({"type": "session.output_audio.fixture.play", "audio": "AAAA"})
        await client.wait("error", count=2)
        client.send({"type": "session.input_audio.mute"})  # allowed, its ack is not
        sideband.send(
            {"type": "session.commentary.append", "content": "Go.", "delegation_id": None}
        )
        await client.wait("session.output_transcript.delta", count=2, timeout=20)
        tone = (np.sin(np.arange(SAMPLE_RATE // 2) / 5) * 8000).astype(np.int16)
        sideband.send(
            {
                "type": "session.output_audio.fixture.play",
                "audio": base64.b64encode(to_pcm16(tone)).decode(),
            }
        )
        await client.wait("session.output_audio.fixture.played", timeout=10)
        client.send({"type": "session.close"})
        await client.wait("session.closed", timeout=15)
        await sideband.close()
        await client.close()

    types = {e["type"] for e in client.events}
    assert types == {
        "session.started",
        "info",
        "error",
        "session.output_transcript.delta",
        "session.output_audio.fixture.played",
        "session.closed",
    }
    assert info["code"] == "data_channel_permissions"
    errors = [e["error"]["message"] for e in client.of("error")]
    assert "allowed_client_events" in errors[0]
    assert "cannot be sent on the WebRTC data channel" in errors[1]
    seen_types = [e["type"] for e in seen]
    assert "session.input_audio.muted" in seen_types
    assert "session.output_audio.fixture.playing" in seen_types
    assert said(client.events) == "Sure thing."
    assert assert_live_conformant(client.events, client.sent, channel="data_channel")
    assert assert_live_conformant([e for e in seen if "event_id" in e], channel="sideband")


async def test_idle_sessions_pause_and_wake_on_speech(speech: np.ndarray) -> None:
    session = {"model": "gpt-live-1", "idle_timeout_s": 1, "wake_policy": {"type": "speech"}}
    async with running_backend() as (_, url):
        client = RtcClient()
        assert (await client.connect_live(url, session)).status_code == 201
        await client.wait("session.started", timeout=15)
        await client.wait("session.paused", timeout=10)
        await asyncio.sleep(1.2)
        client.say(speech)
        await client.wait("session.resumed", timeout=20)
        client.send({"type": "session.close"})
        closed = await client.wait("session.closed", timeout=30)
        await client.close()
    assert closed["usage"]["paused_seconds"] >= 1
    assert assert_live_conformant(client.events, client.sent, channel="data_channel")


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"session": {}}, 400, "session.model"),
        (
            {
                "session": {
                    "model": "gpt-live-1",
                    "audio": {"format": {"type": "audio/pcm", "rate": 24000}},
                }
            },
            400,
            "session.audio.format",
        ),
        ({"session": {"model": "gpt-realtime-2.1"}}, 400, "session.model"),
        ({"session": {"model": "gpt-live-9"}}, 400, "session.model"),
        (
            {"session": {"model": "gpt-live-1"}, "transport": {"type": "websocket"}},
            400,
            "transport",
        ),
        ({"session": {"model": "gpt-live-1"}, "sdp": "v=0"}, 400, "sdp"),
    ],
)
async def test_the_exchange_refuses_bad_requests(
    body: dict[str, Any], status: int, param: str
) -> None:
    async with running_backend() as (_, url), httpx.AsyncClient() as http:
        offer = await RtcClient().offer()
        body.setdefault("transport", {"type": "webrtc", "sdp": offer})
        response = await http.post(
            f"{url}/live/sessions", json=body, headers={"Authorization": "Bearer sk-x"}
        )
    assert response.status_code == status
    assert response.json()["error"]["param"] == param


async def test_endpoints_the_local_backend_does_not_simulate() -> None:
    async with running_backend() as (_, url), httpx.AsyncClient() as http:
        auth = {"Authorization": "Bearer sk-x"}
        fork = await http.post(f"{url}/live/sessions/live_1/fork", json={}, headers=auth)
        hangup = await http.post(f"{url}/live/sessions/live_1/hangup", headers=auth)
        with pytest.raises(HTTPClientError) as refused:
            await LiveWsClient.connect(url, "/live/sessions/live_1/attach")
    assert refused.value.code == 404
    assert fork.status_code == 501
    assert "fork" in fork.json()["error"]["message"]
    assert hangup.status_code == 404
    assert hangup.json()["error"]["code"] == "session_id_not_found"


async def test_in_process_live_backend_and_hangup() -> None:
    backend = LocalRealtime()
    live = backend.as_live()
    with pytest.raises(RealtimeError, match="no ephemeral keys"):
        await live.create_client_secret({"model": "gpt-live-1"}, 600)
    client = RtcClient()
    answer = await live.create_call(
        await client.offer(), {"model": "gpt-live-1"}, scenario=["In process."]
    )
    await client.accept(answer.sdp, answer.call_id or "")
    await client.wait("session.started", timeout=15)
    sideband = await live.join_call(answer.call_id or "", 0)
    sideband.send({"type": "session.commentary.append", "content": "Hi", "delegation_id": None})
    await client.wait("session.usage.updated", timeout=20)
    await backend.hangup(answer.call_id or "")
    assert backend.live_session(answer.call_id or "") is None
    with pytest.raises(RealtimeError, match="No Live session"):
        await live.join_call(answer.call_id or "", 0)
    await sideband.close()
    await client.close()
    await backend.close()
    assert said(client.events) == "In process."


async def test_barge_in_and_a_closed_peer_over_webrtc(speech: np.ndarray) -> None:
    story = " ".join(["Once upon a time there was a parabola."] * 6)
    scenario = [{"say": story}, {"say": "Yes?"}, {"say": "Bye.", "fault": "close_peer"}]
    text = {"type": "session.commentary.append", "content": "Tell.", "delegation_id": None}
    async with running_backend() as (backend, url):
        client = RtcClient()
        await client.connect_live(url, local={"scenario": scenario})
        await client.wait("session.started", timeout=15)
        client.send(text)
        await client.wait("session.output_transcript.delta", count=4, timeout=20)
        client.say(speech)
        await wait_until(lambda: "Yes?" in said(client.events), 30, "the answer after barge-in")
        client.send(text)
        call_id = client.call_id or ""
        await wait_until(lambda: backend.live_session(call_id) is None, 15, "the peer closed")
        await client.close()
    told = said(client.events).split("Yes?")[0]
    assert 0 < len(told) < len(story) // 2
    assert not client.of("session.closed")  # a fault, not a close
    assert assert_live_conformant(client.events, client.sent, channel="data_channel")


async def test_the_data_channel_drops_after_n_events() -> None:
    async with running_backend(drop_data_channel_after=2) as (_, url):
        client = RtcClient()
        await client.connect_live(url)
        await client.wait("session.started", timeout=15)
        client.send({"type": "session.input_audio.mute"})
        await wait_until(lambda: client.channel.readyState == "closed", 10, "channel dropped")
        await client.close()
    assert client.types() == ["session.started", "session.input_audio.muted"]
