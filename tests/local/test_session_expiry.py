"""The local backend's sessions expire like OpenAI's: ``expires_at`` says when, and then the
session ends with a ``session_expired`` error (``--session-seconds`` makes that seconds)."""

from __future__ import annotations

import time

from rt_notebook.local.backend import LocalOptions, LocalRealtime
from rt_notebook.local.server import serve
from tests.local.harness import RtcClient, wait_until
from tests.protocol import assert_conformant


async def test_a_webrtc_session_ends_at_its_expires_at() -> None:
    backend = LocalRealtime(LocalOptions(session_seconds=2))
    async with serve(backend) as (_, url):
        client = RtcClient()
        await client.connect(url)
        created = await client.wait("session.created", timeout=15)
        started = time.time()
        expires_at = created["session"]["expires_at"]
        assert started + 0.5 < expires_at <= started + 2.5
        error = await client.wait("error", timeout=10)
        assert error["error"]["code"] == "session_expired"
        assert time.time() >= expires_at - 0.5
        await wait_until(lambda: backend.sessions[client.call_id].record.closed, 10)
        assert_conformant([error])
        await client.close()


async def test_sessions_last_an_hour_by_default() -> None:
    backend = LocalRealtime(LocalOptions())
    session = backend.session_config({})
    assert abs(session["expires_at"] - (time.time() + 3600)) < 5
