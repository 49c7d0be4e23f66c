"""With no key, the server extension answers offers in-process with the local backend."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

import rt_notebook as rt
from tests.local.harness import RtcClient
from tests.protocol import assert_conformant


@pytest.mark.parametrize("rt_config", [{"api_key": None}], indirect=True)
async def test_real_sdp_exchange_in_process(jp_fetch: Any) -> None:
    status = json.loads((await jp_fetch("api", "rt-notebook", "status")).body)
    assert status["backend"] == "local"

    client = RtcClient()
    await client.pc.setLocalDescription(await client.pc.createOffer())
    session = {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]}
    response = await jp_fetch(
        "api",
        "rt-notebook",
        "calls",
        method="POST",
        body=json.dumps({"sdp": client.pc.localDescription.sdp, "session": session}),
    )
    assert response.code == 201
    body = json.loads(response.body)
    assert body["call_id"].startswith("rtc_")
    assert body["session"] == {**session, "model": rt.DEFAULT_MODEL}
    await client.accept(body["sdp"], f"/v1/realtime/calls/{body['call_id']}")

    created = await client.wait("session.created", timeout=15)
    assert created["session"]["instructions"] == "Be brief."
    assert created["session"]["output_modalities"] == ["text"]
    client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hi"}],
            },
        }
    )
    client.send({"type": "response.create"})
    done = await client.wait("response.done", timeout=20)
    assert done["response"]["output"][0]["content"][0]["text"] == 'You said: "Hi".'

    sessions = json.loads((await jp_fetch("api", "rt-notebook", "local", "sessions")).body)
    (record,) = sessions["data"]
    assert record["id"] == body["call_id"]
    assert record["client_events"] == 2
    await client.close()
    assert_conformant(client.events, client.sent)


@pytest.mark.parametrize("rt_config", [{"api_key": None}], indirect=True)
async def test_local_backend_refuses_a_bad_session_like_openai(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as exc:
        await jp_fetch(
            "api",
            "rt-notebook",
            "calls",
            method="POST",
            body=json.dumps({"sdp": "v=0\r\nm=audio 9 UDP 0\r\n", "session": {"voice": "alloy"}}),
        )
    assert exc.value.code == 400
    assert json.loads(exc.value.response.body)["error"]["param"] == "session.voice"


@pytest.mark.parametrize("rt_config", [{"api_key": None}], indirect=True)
async def test_a_call_may_bring_its_own_scenario(jp_fetch: Any) -> None:
    client = RtcClient()
    await client.pc.setLocalDescription(await client.pc.createOffer())
    body = {
        "sdp": client.pc.localDescription.sdp,
        "session": {"output_modalities": ["text"]},
        "local": {"scenario": [{"say": "Scripted by the notebook."}]},
    }
    response = await jp_fetch("api", "rt-notebook", "calls", method="POST", body=json.dumps(body))
    answer = json.loads(response.body)
    await client.accept(answer["sdp"], f"/x/{answer['call_id']}")
    await client.wait("session.created", timeout=15)
    client.send({"type": "response.create"})
    done = await client.wait("response.done", timeout=20)
    await client.close()
    assert done["response"]["output"][0]["content"][0]["text"] == "Scripted by the notebook."

    with pytest.raises(HTTPClientError) as exc:
        await jp_fetch(
            "api",
            "rt-notebook",
            "calls",
            method="POST",
            body=json.dumps({**body, "local": {"scenario": [{"sya": "typo"}]}}),
        )
    assert exc.value.code == 400
    error = json.loads(exc.value.response.body)["error"]
    assert error["param"] == "local.scenario"
    assert "step 0" in error["message"]
    assert "sya" in error["message"]
