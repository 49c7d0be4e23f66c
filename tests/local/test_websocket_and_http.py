"""The local backend's WebSocket sessions, sideband, ephemeral keys, HTTP surface and faults."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from rt_notebook.wire.audio import SAMPLE_RATE, from_pcm16, to_pcm16
from tests.conftest import OFFER
from tests.local.harness import RtcClient, WsClient, espeak_pcm, running_backend, silence
from tests.protocol import assert_conformant, assert_in_order


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return espeak_pcm("Please plot a parabola for me.", tmp_path_factory.mktemp("ws") / "s.wav")


def append_events(samples: np.ndarray, chunk_ms: int = 100) -> list[dict[str, str]]:
    step = SAMPLE_RATE * chunk_ms // 1000
    return [
        {
            "type": "input_audio_buffer.append",
            "audio": base64.b64encode(to_pcm16(samples[i : i + step])).decode(),
        }
        for i in range(0, len(samples), step)
    ]


async def test_websocket_voice_turn_with_server_vad(speech: np.ndarray) -> None:
    async with running_backend(realtime_factor=4.0) as (_, url):
        ws = await WsClient.open(url, "model=gpt-realtime-2.1")
        created = await ws.wait("session.created")
        assert created["session"]["model"] == "gpt-realtime-2.1"
        ws.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
                },
            }
        )
        await ws.wait("session.updated")
        for event in append_events(np.concatenate([silence(0.5), speech, silence(1.5)])):
            ws.send(event)
        done = await ws.wait("response.done", timeout=30)
        await ws.close()

    assert done["response"]["status"] == "completed"
    assert_in_order(
        ws.types(),
        [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "response.created",
            "response.output_audio.delta",
            "response.output_audio_transcript.delta",
            "response.output_audio.done",
            "response.done",
        ],
    )
    assert not [t for t in ws.types() if t.startswith("output_audio_buffer.")]
    audio = np.concatenate(
        [from_pcm16(base64.b64decode(e["delta"])) for e in ws.of("response.output_audio.delta")]
    )
    assert len(audio) > SAMPLE_RATE // 2
    assert np.abs(audio).max() > 1000
    started = ws.of("input_audio_buffer.speech_started")[0]["audio_start_ms"]
    assert 200 <= started <= 600  # 500 ms of silence came first, minus the 300 ms padding
    assert_conformant(ws.events, ws.sent)


async def test_websocket_manual_commit_and_errors(speech: np.ndarray) -> None:
    async with running_backend(realtime_factor=10.0) as (_, url):
        ws = await WsClient.open(url, "model=gpt-realtime-2.1")
        await ws.wait("session.created")
        ws.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"turn_detection": None}},
                },
            }
        )
        ws.send({"type": "input_audio_buffer.commit", "event_id": "evt_empty"})
        ws.send({"type": "session.update", "session": {"voice": "alloy"}})
        ws.send({"type": "session.update", "session": {"type": "realtime", "voice": "alloy"}})
        ws.send({"type": "response.audio.delta"})
        for event in append_events(speech):
            ws.send(event)
        ws.send({"type": "input_audio_buffer.commit"})
        ws.send({"type": "response.create"})
        done = await ws.wait("response.done")
        await ws.close()

    errors = [e["error"] for e in ws.of("error")]
    assert [e["code"] for e in errors] == [
        "input_audio_buffer_commit_empty",
        "missing_required_parameter",
        "invalid_value",
        "invalid_value",
    ]
    assert errors[0]["event_id"] == "evt_empty"
    assert errors[1]["param"] == "session.type"
    assert "session.audio.output.voice" in errors[2]["message"]
    assert errors[3]["param"] == "type"
    assert not ws.of("input_audio_buffer.speech_started")
    committed = ws.of("input_audio_buffer.committed")[0]
    assert done["response"]["output"][0]["content"][0]["text"].startswith("I heard ")
    assert ws.of("conversation.item.added")[0]["item"]["id"] == committed["item_id"]
    assert_conformant(ws.events)


async def test_sideband_joins_a_webrtc_call() -> None:
    async with running_backend() as (backend, url):
        client = RtcClient()
        await client.connect(url, {"type": "realtime", "output_modalities": ["text"]})
        await client.wait("session.created", timeout=15)
        sideband = await WsClient.open(url, f"call_id={client.call_id}")
        await asyncio.sleep(0.2)
        sideband.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "instructions": "Authoritative instructions."},
            }
        )
        updated = await client.wait("session.updated")
        client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Yo"}],
                },
            }
        )
        client.send({"type": "response.create"})
        await client.wait("response.done")
        await sideband.wait("response.done")
        await sideband.close()
        await client.close()
        engine = backend.sessions[client.call_id]

    assert updated["session"]["instructions"] == "Authoritative instructions."
    assert engine.session["instructions"] == "Authoritative instructions."
    assert sideband.types()[0] == "session.updated"
    assert sideband.types() == client.types()[client.types().index("session.updated") :]
    assert_conformant(sideband.events, sideband.sent)


async def test_sideband_to_unknown_call_is_refused() -> None:
    async with running_backend() as (_, url):
        with pytest.raises(Exception, match="404"):
            await WsClient.open(url, "call_id=rtc_nope")


async def test_ephemeral_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_backend() as (_, url), httpx.AsyncClient() as http:
        minted = await http.post(
            f"{url}/realtime/client_secrets",
            headers={"Authorization": "Bearer sk-anything"},
            json={
                "expires_after": {"anchor": "created_at", "seconds": 10},
                "session": {"type": "realtime", "instructions": "From the key."},
            },
        )
        assert minted.status_code == 200
        secret = minted.json()
        assert secret["value"].startswith("ek_")
        assert secret["session"]["instructions"] == "From the key."

        client = RtcClient()
        await client.pc.setLocalDescription(await client.pc.createOffer())
        answered = await http.post(
            f"{url}/realtime/calls",
            content=client.pc.localDescription.sdp,
            headers={
                "Authorization": f"Bearer {secret['value']}",
                "Content-Type": "application/sdp",
            },
        )
        assert answered.status_code == 201
        await client.accept(answered.text, answered.headers["location"])
        created = await client.wait("session.created", timeout=15)
        assert created["session"]["instructions"] == "From the key."
        await client.close()

        later = time.time() + 11
        monkeypatch.setattr(time, "time", lambda: later)
        expired = await http.post(
            f"{url}/realtime/calls",
            content=OFFER,
            headers={
                "Authorization": f"Bearer {secret['value']}",
                "Content-Type": "application/sdp",
            },
        )
        unknown = await http.post(
            f"{url}/realtime/calls",
            content=OFFER,
            headers={"Authorization": "Bearer ek_unknown", "Content-Type": "application/sdp"},
        )
        too_long = await http.post(
            f"{url}/realtime/client_secrets",
            headers={"Authorization": "Bearer sk-x"},
            json={"expires_after": {"anchor": "created_at", "seconds": 9000}},
        )

    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "expired_api_key"
    assert unknown.status_code == 401
    assert too_long.status_code == 400
    assert too_long.json()["error"]["param"] == "expires_after.seconds"
    assert_conformant(client.events)


async def test_http_errors_and_cors() -> None:
    async with running_backend() as (_, url), httpx.AsyncClient() as http:
        no_key = await http.post(f"{url}/realtime/calls", files={"sdp": (None, OFFER)})
        bad_session = await http.post(
            f"{url}/realtime/calls",
            headers={"Authorization": "Bearer sk-x"},
            files={"sdp": (None, OFFER), "session": (None, '{"modalities": ["audio"]}')},
        )
        not_sdp = await http.post(
            f"{url}/realtime/calls",
            headers={"Authorization": "Bearer sk-x"},
            files={"sdp": (None, "hello"), "session": (None, "{}")},
        )
        preflight = await http.request(
            "OPTIONS",
            f"{url}/realtime/calls",
            headers={
                "Origin": "http://127.0.0.1:8888",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        hangup = await http.post(
            f"{url}/realtime/calls/rtc_nope/hangup", headers={"Authorization": "Bearer sk-x"}
        )

    assert no_key.status_code == 401
    assert set(no_key.json()["error"]) == {"message", "type", "param", "code"}
    assert bad_session.status_code == 400
    assert bad_session.json()["error"]["param"] == "session.modalities"
    assert "session.output_modalities" in bad_session.json()["error"]["message"]
    assert not_sdp.status_code == 400
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8888"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert hangup.status_code == 404


async def test_hangup_ends_the_call() -> None:
    async with running_backend() as (backend, url), httpx.AsyncClient() as http:
        client = RtcClient()
        await client.connect(url)
        await client.wait("session.created", timeout=15)
        response = await http.post(
            f"{url}/realtime/calls/{client.call_id}/hangup",
            headers={"Authorization": "Bearer sk-x"},
        )
        assert response.status_code == 200
        assert backend.sessions[client.call_id].record.closed
        await client.close()


async def test_four_sessions_at_once(speech: np.ndarray) -> None:
    async with running_backend() as (backend, url):
        clients = [RtcClient() for _ in range(4)]
        await asyncio.gather(*(c.connect(url) for c in clients))
        await asyncio.gather(*(c.wait("session.created", timeout=20) for c in clients))
        for c in clients:
            c.say(speech)
        done = await asyncio.gather(
            *(c.wait("output_audio_buffer.stopped", timeout=60) for c in clients)
        )
        for c in clients:
            await c.close()

    assert len({d["response_id"] for d in done}) == 4
    assert len({c.call_id for c in clients}) == 4
    for c in clients:
        assert len(c.of("input_audio_buffer.speech_started")) == 1
        assert c.remote_energy > 0
        assert backend.sessions[c.call_id].record.audio_in_rms > 0.005
        assert_conformant(c.events)


async def test_faults_from_a_scenario_and_options(tmp_path: Path) -> None:
    steps = [
        {"say": "First.", "error": {"type": "server_error", "code": "injected", "message": "boom"}},
        {
            "say": "This one stops halfway through the sentence and waits.",
            "fault": "stop_mid_response",
        },
        {"say": "Bye.", "fault": "close_peer"},
    ]
    async with running_backend(scenario=steps) as (backend, url):
        client = RtcClient()
        await client.connect(url, {"type": "realtime", "output_modalities": ["text"]})
        await client.wait("session.created", timeout=15)
        client.send({"type": "response.create"})
        await client.wait("response.done")
        client.send({"type": "response.create"})
        await client.wait("response.output_text.delta", count=3)
        await asyncio.sleep(0.5)
        stalled = len(client.events)
        client.send({"type": "response.cancel"})
        second = await client.wait("response.done", count=2)
        client.send({"type": "response.create"})
        await wait_closed(backend, client.call_id)
        await client.close()

    (error,) = client.of("error")
    assert error["error"]["code"] == "injected"
    assert second["response"]["status"] == "cancelled"
    text = second["response"]["output"][0]["content"][0]["text"]
    assert text.startswith("This one stops")
    assert not text.endswith("waits.")
    assert client.types()[stalled - 1] == "response.output_text.delta"
    assert_conformant(client.events)

    async with (
        running_backend(
            http_error={
                "status": 429,
                "code": "insufficient_quota",
                "message": "You exceeded your current quota.",
            },
        ) as (_, url),
        httpx.AsyncClient() as http,
    ):
        refused = await http.post(
            f"{url}/realtime/calls",
            headers={"Authorization": "Bearer sk-x"},
            files={"sdp": (None, OFFER)},
        )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "insufficient_quota"

    async with running_backend(drop_data_channel_after=1, answer_delay=0.3) as (_, url):
        client = RtcClient()
        started = time.monotonic()
        await client.connect(url)
        assert time.monotonic() - started >= 0.3
        await client.wait("session.created", timeout=15)
        await wait_until_closed_channel(client)
        await client.close()


async def wait_closed(backend: object, call_id: str | None) -> None:
    from tests.local.harness import wait_until

    assert call_id
    await wait_until(lambda: backend.sessions[call_id].record.closed, 15)  # type: ignore[attr-defined]


async def wait_until_closed_channel(client: RtcClient) -> None:
    from tests.local.harness import wait_until

    await wait_until(lambda: client.channel.readyState == "closed", 15)


def test_scenario_files_are_checked(tmp_path: Path) -> None:
    from rt_notebook.local.responders import load_scenario

    good = tmp_path / "good.json"
    good.write_text(json.dumps({"steps": ["Hi", {"call": "f", "arguments": {}}]}))
    assert len(load_scenario(good)) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"sya": "typo"}]))
    with pytest.raises(ValueError, match="sya"):
        load_scenario(bad)


async def test_models_are_openais_names_and_the_one_asked_for_is_reported() -> None:
    async with running_backend() as (_, url), httpx.AsyncClient() as http:
        with pytest.raises(Exception, match="400"):  # OpenAI refuses a model it does not list
            await WsClient.open(url, "model=gpt-realtime-9")
        refused = await http.post(
            f"{url}/realtime/client_secrets",
            headers={"Authorization": "Bearer sk-anything"},
            json={"session": {"type": "realtime", "model": "gpt-4.1"}},
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "model_not_found"
        assert "`gpt-4.1` does not exist" in refused.json()["error"]["message"]

        ws = await WsClient.open(url, "model=gpt-realtime-2.1-mini")
        created = await ws.wait("session.created")
        assert created["session"]["model"] == "gpt-realtime-2.1-mini"
        ws.send(
            {
                "type": "session.update",
                "event_id": "evt_bad_transcriber",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"transcription": {"model": "whisper-9"}}},
                },
            }
        )
        error = (await ws.wait("error"))["error"]
        await ws.close()
        default = await WsClient.open(url, "")
        default_model = (await default.wait("session.created"))["session"]["model"]
        await default.close()
    assert error["code"] == "invalid_value"
    assert error["param"] == "session.audio.input.transcription.model"
    assert "'gpt-transcribe'" in error["message"]
    assert default_model == "gpt-realtime-2.1"
    assert_conformant(ws.events, ws.sent)
