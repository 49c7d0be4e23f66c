"""Against OpenAI's GPT-Live API: a HeadlessSession turn and a backend tool, run only when
OPENAI_API_KEY is set (tests/kernel/test_live_session.py runs the same against the local
backend)."""

from __future__ import annotations

import os

import pytest

import rt_notebook as rt
from rt_notebook.testing import wait_until
from tests.protocol import assert_live_conformant

KEY = os.environ.get("OPENAI_API_KEY")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not KEY, reason="needs OPENAI_API_KEY (talks to OpenAI)"),
]


async def test_a_headless_live_turn_with_a_backend_tool() -> None:
    s = rt.HeadlessSession(
        model="gpt-live-1", instructions="Use the add tool for arithmetic. Answer in one sentence."
    )
    added: list[tuple[int, int]] = []

    @s.tool
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        added.append((a, b))
        return a + b

    def said() -> str:
        deltas = s.events.of("session.output_transcript.delta")
        return "".join(str(e.delta) for e in deltas).replace(",", "").lower()

    async with s:
        s.send_text("Please use the add tool: what is 1234 plus 4321?")
        # the answer may follow a spoken acknowledgement and the backend's work
        await wait_until(lambda: "5555" in said() or "five thousand" in said(), 90, "the sum")
    assert added == [(1234, 4321)]
    sent = [e.type for e in s.events if e.direction == "client"]
    assert sent.count("response.item.create") == 1
    assert sent.count("response.create") == 1
    assert s.cost()["seconds"] > 0
    server = [e.raw for e in s.events if e.direction == "server"]
    client = [e.raw for e in s.events if e.direction == "client"]
    assert assert_live_conformant(server, client)
