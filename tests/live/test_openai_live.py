"""Against OpenAI's GPT-Live API: one WebSocket turn, run only when OPENAI_API_KEY is set.

The same steps run against the local backend in tests/local/test_live_websocket.py, so this
proves that what the local backend does for a Live client is what OpenAI does, event for event
(every event strictly valid against openai.types.live).
"""

from __future__ import annotations

import os

import pytest

from rt_notebook.wire.signaling import env_credentials
from tests.local.harness import live_text_turn
from tests.protocol import assert_live_conformant

KEY = os.environ.get("OPENAI_API_KEY")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not KEY, reason="needs OPENAI_API_KEY (talks to OpenAI)"),
]


async def test_one_live_websocket_turn() -> None:
    credentials = env_credentials()
    client = await live_text_turn(credentials.base_url, credentials.api_key or "")
    assert client.of("session.started")[0]["session"]["model"].startswith("gpt-live-")
    assert client.of("session.commentary.appended")[0]["client_event_id"] == "ask"
    assert client.of("session.output_transcript.delta")
    assert client.frames  # continuous output audio
    closed = client.of("session.closed")[0]
    assert closed["reason"] == "close_requested"
    assert closed["usage"]["seconds"] >= 0
    assert assert_live_conformant(client.events + client.frames[:50], client.sent)
