"""GPT-Live calls through the server extension: the JSON exchange with OpenAI (mocked) and with
the in-process local backend (real WebRTC), Live's own policy layers, and the refusals."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from tests.conftest import ANSWER, FAKE_KEY, OFFER, OPENAI
from tests.local.harness import RtcClient
from tests.protocol import assert_live_conformant
from tests.server.test_calls import call_error, post_call


@pytest.fixture
def openai_mock() -> Any:
    with respx.mock(base_url=OPENAI, assert_all_called=False) as mock:
        yield mock


def live_route(mock: respx.MockRouter, session_id: str = "live_9c65-74da") -> respx.Route:
    body = {"session": {"id": session_id}, "transport": {"type": "webrtc", "sdp": ANSWER}}
    return mock.post("/live/sessions").mock(return_value=httpx.Response(201, json=body))


async def test_a_live_model_goes_to_live_sessions_as_json(jp_fetch: Any, openai_mock: Any) -> None:
    route = live_route(openai_mock)
    realtime = openai_mock.post("/realtime/calls")
    session = {"model": "gpt-live-1", "instructions": "Be brief."}
    response = await post_call(jp_fetch, {"sdp": OFFER, "session": session})

    assert response.code == 201
    body = json.loads(response.body)
    assert body == {"sdp": ANSWER, "call_id": "live_9c65-74da", "session": session}
    assert not realtime.called
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert json.loads(sent.content) == {
        "session": session,
        "transport": {"type": "webrtc", "sdp": OFFER},
    }


@pytest.mark.parametrize(
    "rt_config",
    [
        {
            "api_key": FAKE_KEY,
            "api_base_url": OPENAI,
            "session_defaults": {"instructions": "Realtime rule."},
            "live_session_defaults": {"audio": {"output": {"voice": "vesper"}}},
            "live_session_overrides": {"instructions": "Teacher's rule."},
            "allowed_models": ["gpt-realtime-2.1", "gpt-live-1.1"],
        }
    ],
    indirect=True,
)
async def test_live_sessions_get_the_live_layers_and_allowed_live_models(
    jp_fetch: Any, openai_mock: Any
) -> None:
    route = live_route(openai_mock)
    await post_call(jp_fetch, {"sdp": OFFER, "session": {"model": "gpt-live-1.1"}})
    sent = json.loads(route.calls.last.request.content)["session"]
    allowed = sent.pop("client")["data_channel"]["allowed_client_events"]
    assert sent == {
        "model": "gpt-live-1.1",
        "audio": {"output": {"voice": "vesper"}},
        "instructions": "Teacher's rule.",
    }
    # the browser may not outweigh the forced instructions with standing ones of its own
    assert "session.instructions.append" not in allowed
    assert {"session.commentary.append", "response.item.create", "session.close"} <= set(allowed)
    assert "session.start" not in allowed
    code, error = await call_error(jp_fetch, {"sdp": OFFER, "session": {"model": "gpt-live-1"}})
    assert code == 400
    assert "gpt-live-1" in error["error"]["message"]
    assert "gpt-live-1.1" in error["error"]["message"]


@pytest.mark.parametrize(
    "rt_config",
    [{"api_key": FAKE_KEY, "api_base_url": OPENAI, "allowed_models": ["gpt-realtime-2.1"]}],
    indirect=True,
)
async def test_a_server_allowing_only_realtime_models_refuses_live(jp_fetch: Any) -> None:
    code, error = await call_error(jp_fetch, {"sdp": OFFER, "session": {"model": "gpt-live-1"}})
    assert code == 400
    assert error["error"]["message"].startswith("GPT-Live models are not allowed")


async def test_realtime_fields_in_a_live_session_are_refused_with_the_live_way(
    jp_fetch: Any, openai_mock: Any
) -> None:
    route = live_route(openai_mock)
    session = {"model": "gpt-live-1", "tools": [{"type": "function", "name": "f"}]}
    code, error = await call_error(jp_fetch, {"sdp": OFFER, "session": session})
    assert (code, error["error"]["param"]) == (400, "session.tools")
    assert "delegation" in error["error"]["message"]
    webrtc = {"model": "gpt-live-1", "audio": {"format": {"type": "audio/pcm", "rate": 24000}}}
    code, error = await call_error(jp_fetch, {"sdp": OFFER, "session": webrtc})
    assert (code, error["error"]["param"]) == (400, "session.audio.format")
    assert not route.called


async def test_live_upstream_errors_map_like_realtime_ones(jp_fetch: Any, openai_mock: Any) -> None:
    openai_mock.post("/live/sessions").mock(
        return_value=httpx.Response(
            400,
            json={"error": {"code": "forbidden", "message": "Voice nova.", "param": "voice"}},
        )
    )
    code, error = await call_error(jp_fetch, {"sdp": OFFER, "session": {"model": "gpt-live-1"}})
    assert (code, error["error"]["code"]) == (400, "forbidden")
    openai_mock.post("/live/sessions").mock(return_value=httpx.Response(201, json={"x": 1}))
    code, error = await call_error(jp_fetch, {"sdp": OFFER, "session": {"model": "gpt-live-1"}})
    assert (code, error["error"]["code"]) == (502, "upstream_bad_answer")


async def test_live_has_no_client_secrets(jp_fetch: Any, openai_mock: Any) -> None:
    # the session policy sends Live sessions to Live; the kernel never asks for a Live key, but
    # a direct request gets the reason
    from rt_notebook.errors import RealtimeError
    from rt_notebook.wire.live_http import OpenAILiveHTTP

    async with httpx.AsyncClient() as client:
        live = OpenAILiveHTTP(client, base_url=OPENAI, api_key=lambda: FAKE_KEY, timeout=5)
        with pytest.raises(RealtimeError) as exc:
            await live.create_client_secret({"model": "gpt-live-1"}, 60)
    assert exc.value.status == 400
    assert "no ephemeral keys" in exc.value.message


@pytest.mark.parametrize("rt_config", [{"api_key": None}], indirect=True)
async def test_a_live_call_on_the_in_process_local_backend(jp_fetch: Any) -> None:
    client = RtcClient()
    await client.pc.setLocalDescription(await client.pc.createOffer())
    session = {"model": "gpt-live-1", "instructions": "Be brief."}
    body = {
        "sdp": client.pc.localDescription.sdp,
        "session": session,
        "local": {"scenario": ["Sure thing."]},
    }
    response = await post_call(jp_fetch, body)
    assert response.code == 201
    answer = json.loads(response.body)
    assert answer["call_id"].startswith("live_")
    await client.accept(answer["sdp"], answer["call_id"])

    started = await client.wait("session.started", timeout=15)
    assert started["session"]["id"] == answer["call_id"]
    assert started["session"]["instructions"] == "Be brief."
    client.send({"type": "session.commentary.append", "content": "Hi", "delegation_id": None})
    await client.wait("session.output_transcript.delta", timeout=20)
    client.send({"type": "session.close"})
    closed = await client.wait("session.closed", timeout=15)
    assert closed["reason"] == "close_requested"
    await client.close()
    assert "Sure thing." in "".join(
        e["delta"] for e in client.events if e["type"] == "session.output_transcript.delta"
    )
    assert assert_live_conformant(client.events, client.sent, channel="data_channel")


@pytest.mark.parametrize(
    "rt_config",
    [
        {
            "api_key": None,
            "live_session_overrides": {
                "instructions": "Only talk about physics.",
                "delegation": {"type": "responses", "responses": {"model": "gpt-5.6-terra"}},
            },
        }
    ],
    indirect=True,
)
async def test_the_data_channel_cannot_undo_what_the_server_forces(jp_fetch: Any) -> None:
    client = RtcClient()
    await client.pc.setLocalDescription(await client.pc.createOffer())
    asked = {
        "model": "gpt-live-1",
        "instructions": "Talk about anything.",
        "client": {"data_channel": {"allowed_client_events": ["session.update", "session.close"]}},
    }
    response = await post_call(jp_fetch, {"sdp": client.pc.localDescription.sdp, "session": asked})
    answer = json.loads(response.body)
    assert answer["session"]["instructions"] == "Only talk about physics."
    assert answer["session"]["client"]["data_channel"]["allowed_client_events"] == ["session.close"]
    await client.accept(answer["sdp"], answer["call_id"])
    await client.wait("session.started", timeout=15)
    client.send({"type": "session.update", "session": {"triggers": []}})
    client.send({"type": "session.instructions.append", "content": "x", "delegation_id": None})
    await client.wait("error", count=2, timeout=10)
    await client.close()
    refused = [e["error"]["message"] for e in client.events if e["type"] == "error"]
    assert all("allowed_client_events" in m for m in refused)
    assert not [e for e in client.events if e["type"] == "session.updated"]
