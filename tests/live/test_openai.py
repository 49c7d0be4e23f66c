"""Against the real OpenAI Realtime API: run only when OPENAI_API_KEY is set.

These are the few checks that cannot be proven locally: that OpenAI accepts exactly what
rt_notebook sends (the multipart exchange, client secrets, the WebSocket session config), and
that its events validate against openai-python's models as our local backend's do.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

import rt_notebook as rt
from tests.local.harness import RtcClient
from tests.protocol import assert_conformant

KEY = os.environ.get("OPENAI_API_KEY")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not KEY, reason="needs OPENAI_API_KEY (talks to OpenAI)"),
]


@pytest.fixture
def rt_config() -> dict[str, Any]:
    return {"api_key": KEY, "backend": "openai", "allowed_models": ["gpt-realtime-2.1"]}


async def test_sdp_exchange_and_a_text_turn(jp_fetch: Any) -> None:
    client = RtcClient()
    await client.pc.setLocalDescription(await client.pc.createOffer())
    session = {
        "type": "realtime",
        "model": "gpt-realtime-2.1",
        "output_modalities": ["text"],
        "instructions": "Answer with one word.",
    }
    response = await jp_fetch(
        "api",
        "rt-notebook",
        "calls",
        method="POST",
        body=json.dumps({"sdp": client.pc.localDescription.sdp, "session": session}),
    )
    answer = json.loads(response.body)
    assert answer["call_id"].startswith("rtc_")
    await client.accept(answer["sdp"], f"/x/{answer['call_id']}")
    await client.wait("session.created", timeout=30)
    client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Say hello."}],
            },
        }
    )
    client.send({"type": "response.create"})
    done = await client.wait("response.done", timeout=60)
    await client.close()
    assert done["response"]["status"] == "completed"
    assert done["response"]["usage"]["total_tokens"] > 0
    assert_conformant(client.events, client.sent)


async def test_client_secret(jp_fetch: Any) -> None:
    response = await jp_fetch(
        "api",
        "rt-notebook",
        "client-secrets",
        method="POST",
        body=json.dumps({"session": {"model": "gpt-realtime-2.1"}, "expires_after_seconds": 60}),
    )
    secret = json.loads(response.body)
    assert secret["value"].startswith("ek_")
    assert KEY not in response.body.decode()


async def test_headless_session_and_batch() -> None:
    async with rt.HeadlessSession(
        model="gpt-realtime-2.1",
        instructions="Answer in one word.",
        session={"output_modalities": ["text"]},
    ) as s:
        assert s.backend == "openai"
        reply = await s.ask("What colour is the sky on a clear day?")
    assert reply
    assert s.cost()["cost_usd"] > 0
    table = await rt.run_batch(
        ["Say yes.", "Say no."],
        progress=False,
        model="gpt-realtime-2.1",
        session={"output_modalities": ["text"]},
    )
    assert all(row["error"] is None for row in table)
