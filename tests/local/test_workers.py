"""The local backend over worker processes: one front port, calls spread, ids routed home."""

from __future__ import annotations

import httpx
import pytest
from tornado.httpclient import HTTPClientError

from rt_notebook.local.workers import serve_workers
from tests.local.harness import LiveWsClient, RtcClient, WsClient, wait_until

TEXT_ONLY = {
    "type": "realtime",
    "output_modalities": ["text"],
    "audio": {"input": {"turn_detection": None}},
}


def user_text(text: str) -> dict[str, object]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


async def test_calls_spread_over_workers_and_come_home() -> None:
    async with serve_workers(2) as (pool, url):
        clients = [RtcClient(), RtcClient()]
        for client in clients:
            answer = await client.connect(url, TEXT_ONLY)
            assert answer.status_code == 201
        for client in clients:
            await client.wait("session.created", timeout=20)
        owners = sorted(pool.owners.values())
        assert owners == [0, 1]  # one call on each worker
        stats = await pool.stats()
        assert [len(s["calls"]) for s in stats] == [1, 1]
        assert len({s["pid"] for s in stats}) == 2

        first = clients[0]
        call_id = next(k for k, v in pool.owners.items() if v == 0)
        sideband = await WsClient.open(url, f"call_id={call_id}")  # relayed to worker 0
        first.send(user_text("Hello from a class"))
        first.send({"type": "response.create"})
        done = await first.wait("response.done", timeout=30)
        assert done["response"]["status"] == "completed"
        await sideband.wait("response.done", timeout=30)

        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": "Bearer sk-x"}
        ) as http:
            listed = (await http.get("/local/sessions")).json()["data"]
            assert len(listed) == 2
            hung = await http.post(f"/realtime/calls/{call_id}/hangup")
            assert hung.status_code < 300
            missing = await http.post("/realtime/calls/rtc_nobody/hangup")
            assert missing.status_code == 404
        await sideband.close()
        for client in clients:
            await client.close()


async def test_websocket_sessions_and_ephemeral_keys_through_the_front() -> None:
    async with serve_workers(2) as (pool, url):
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": "Bearer sk-x"}
        ) as http:
            minted = await http.post("/realtime/client_secrets", json={"session": TEXT_ONLY})
        assert minted.status_code == 200
        key = minted.json()["value"]
        assert key in pool.secrets
        session = await WsClient.open(url, "model=gpt-realtime-2.1", key=key)
        await session.wait("session.created", timeout=20)
        session.send(user_text("Hi"))
        session.send({"type": "response.create"})
        done = await session.wait("response.done", timeout=30)
        assert done["response"]["status"] == "completed"
        await session.close()
        with pytest.raises(HTTPClientError) as refused:  # as one process refuses it
            await WsClient.open(url, "model=gpt-realtime-2.1", key="ek_unknown")
        assert refused.value.code == 401
        assert b"invalid_api_key" in (refused.value.response.body or b"")


async def test_live_sessions_through_the_front() -> None:
    async with serve_workers(2) as (pool, url):
        client = RtcClient()
        answer = await client.connect_live(url, local={"scenario": ["Hello, class."]})
        assert answer.status_code == 201
        session_id = answer.json()["session"]["id"]
        assert session_id in pool.owners  # learned from the JSON answer
        await client.wait("session.started", timeout=20)
        sideband = await LiveWsClient.connect(url, f"/live/sessions/{session_id}/attach")
        await sideband.wait("session.started", timeout=10)
        socket = await LiveWsClient.start(url)  # the primary WebSocket, relayed
        await wait_until(lambda: socket.frames, 10, "output frames through the front")
        client.send({"type": "session.close"})
        await client.wait("session.closed", timeout=20)
        await sideband.close()
        await socket.close()
        await client.close()
    assert socket.of("session.started")[0]["session"]["id"].startswith("live_")
