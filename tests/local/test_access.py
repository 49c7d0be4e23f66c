"""The standalone backend lets in only its own pages, and with --api-key only one key;
ended calls free their engine and peer connection, and records stay bounded."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from typing import Any

import httpx
import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from rt_notebook.local.access import Access, normalize_origin
from rt_notebook.local.backend import EndedSession, LocalOptions, LocalRealtime
from rt_notebook.local.server import serve, serve_private
from tests.conftest import OFFER
from tests.local.harness import RtcClient, WsClient, wait_until

FOREIGN = "https://evil.example"
SDK_HEADERS = "authorization,content-type,x-openai-agents-sdk"


def preflight(origin: str, headers: str = SDK_HEADERS) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


async def test_foreign_pages_are_refused_everywhere() -> None:
    async with serve(LocalRealtime()) as (_, url), httpx.AsyncClient() as http:
        asked = await http.request("OPTIONS", f"{url}/realtime/calls", headers=preflight(FOREIGN))
        auth = {"Authorization": "Bearer sk-any", "Origin": FOREIGN}
        sessions = await http.get(f"{url}/local/sessions", headers=auth)
        minted = await http.post(f"{url}/realtime/client_secrets", headers=auth, json={})
        call = await http.post(f"{url}/realtime/calls", headers=auth, files={"sdp": (None, OFFER)})
        null = await http.get(f"{url}/local/sessions", headers={**auth, "Origin": "null"})
        with pytest.raises(HTTPClientError) as socket:
            await websocket_connect(
                HTTPRequest(
                    url.replace("http", "ws") + "/realtime?model=gpt-realtime",
                    headers=auth,
                )
            )
    for refused in (asked, sessions, minted, call, null):
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
    assert sessions.json()["error"]["code"] == "origin_not_allowed"
    assert "--allow-origin https://evil.example" in sessions.json()["error"]["message"]
    assert socket.value.code == 403


async def test_a_rebound_host_name_is_refused() -> None:
    async with serve(LocalRealtime()) as (_, url), httpx.AsyncClient() as http:
        rebound = await http.get(
            f"{url}/local/sessions",
            headers={"Authorization": "Bearer sk-any", "Host": "evil.example:80"},
        )
    assert rebound.status_code == 403
    assert rebound.json()["error"]["code"] == "host_not_allowed"


@pytest.mark.parametrize("origin", ["http://127.0.0.2:9000", "http://localhost:3000"])
async def test_loopback_pages_get_the_headers_they_ask_for(origin: str) -> None:
    async with serve(LocalRealtime()) as (_, url), httpx.AsyncClient() as http:
        asked = await http.request("OPTIONS", f"{url}/realtime/calls", headers=preflight(origin))
        minted = await http.post(
            f"{url}/realtime/client_secrets",
            headers={"Authorization": "Bearer sk-any", "Origin": origin},
            json={},
        )
    assert asked.status_code == 204
    assert asked.headers["access-control-allow-origin"] == origin
    assert asked.headers["access-control-allow-headers"] == SDK_HEADERS
    assert "Origin" in asked.headers["vary"]
    assert minted.status_code == 200
    assert minted.headers["access-control-allow-origin"] == origin


async def test_allow_origin_lets_one_more_page_in() -> None:
    access = Access.create(["HTTPS://App.Example:8443/"])
    async with (
        serve(LocalRealtime(), access=access) as (_, url),
        httpx.AsyncClient() as http,
    ):
        allowed = await http.request(
            "OPTIONS",
            f"{url}/realtime/calls",
            headers={
                **preflight("https://app.example:8443"),
                "Access-Control-Request-Private-Network": "true",
            },
        )
        other = await http.request(
            "OPTIONS", f"{url}/realtime/calls", headers=preflight("https://app.example")
        )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-private-network"] == "true"
    assert other.status_code == 403


def test_origins_are_checked() -> None:
    assert normalize_origin("http://[::1]:8888") == "http://[::1]:8888"
    for bad in ("myhost", "ftp://x", "http://x/path", "http://u@x"):
        with pytest.raises(ValueError, match="origin"):
            normalize_origin(bad)
    assert not Access().origin_allowed("http://127.0.0.1.evil.example")
    assert Access().origin_allowed("http://app.localhost:3000")


async def test_session_records_need_a_key() -> None:
    async with serve(LocalRealtime()) as (_, url), httpx.AsyncClient() as http:
        anonymous = await http.get(f"{url}/local/sessions")
        one = await http.get(f"{url}/local/sessions/rtc_x")
    assert anonymous.status_code == one.status_code == 401


async def test_api_key_mode_accepts_one_key_and_its_ephemeral_keys() -> None:
    access = Access.create(api_key="sk-only-this")
    async with (
        serve(LocalRealtime(), access=access) as (_, url),
        httpx.AsyncClient() as http,
    ):
        good, bad = {"Authorization": "Bearer sk-only-this"}, {"Authorization": "Bearer sk-other"}
        refused = [
            await http.get(f"{url}/local/sessions", headers=bad),
            await http.post(f"{url}/realtime/client_secrets", headers=bad, json={}),
            await http.post(f"{url}/realtime/calls", headers=bad, files={"sdp": (None, OFFER)}),
            await http.post(f"{url}/realtime/calls/rtc_x/hangup", headers=bad),
            await http.post(
                f"{url}/realtime/calls",
                headers={"Authorization": "Bearer ek_forged", "Content-Type": "application/sdp"},
                content=OFFER,
            ),
        ]
        minted = await http.post(f"{url}/realtime/client_secrets", headers=good, json={})
        ek = minted.json()["value"]
        with_ek = await http.get(f"{url}/local/sessions", headers={"Authorization": f"Bearer {ek}"})
        ws = await WsClient.open(url, "model=gpt-realtime", key=ek)
        created = await ws.wait("session.created")
        await ws.close()
        with pytest.raises(HTTPClientError) as wrong_socket:
            await WsClient.open(url, "model=gpt-realtime", key="sk-other")
        listed = await http.get(f"{url}/local/sessions", headers=good)
    assert [r.status_code for r in refused] == [401] * 5
    assert refused[0].json()["error"]["code"] == "invalid_api_key"
    assert with_ek.status_code == 401  # an ephemeral key is for a call, not for records
    assert created["type"] == "session.created"
    assert wrong_socket.value.code == 401
    assert listed.status_code == 200
    assert len(listed.json()["data"]) == 1


async def test_ended_sessions_free_their_engines_and_records_are_bounded() -> None:
    backend = LocalRealtime(LocalOptions(max_records=3))
    async with serve(backend) as (_, url):
        engines: list[weakref.ref[Any]] = []
        for _ in range(5):
            ws = await WsClient.open(url, "model=gpt-realtime")
            await ws.wait("session.created")
            engines.append(weakref.ref(backend.sessions[next(reversed(backend.sessions))]))
            await ws.close()
        client = RtcClient()
        await client.connect(url)
        await client.wait("session.created", timeout=15)
        call = weakref.ref(backend._calls[client.call_id])
        peer = weakref.ref(backend._calls[client.call_id].pc)
        await client.close()
        await wait_until(lambda: client.call_id not in backend._calls, 15)
        kept = dict(backend.sessions)
    await asyncio.sleep(0)
    gc.collect()
    assert len(kept) == 3
    assert all(isinstance(s, EndedSession) for s in kept.values())
    assert client.call_id in kept
    assert kept[client.call_id].record.closed
    assert [e() for e in engines] == [None] * 5
    assert call() is None
    assert peer() is None


async def test_ephemeral_keys_are_bounded() -> None:
    backend = LocalRealtime(LocalOptions(max_secrets=3))
    keys = [(await backend.create_client_secret({}, 60))["value"] for _ in range(5)]
    assert len(backend._secrets) == 3
    assert list(backend._secrets) == keys[2:]
    json.dumps(backend.secret_session(keys[-1]))


async def test_a_kernel_private_backend_takes_only_its_own_key() -> None:
    async with serve_private(LocalRealtime()) as (url, key), httpx.AsyncClient() as http:
        other = await http.get(f"{url}/local/sessions", headers={"Authorization": "Bearer sk-x"})
        mine = await http.get(f"{url}/local/sessions", headers={"Authorization": f"Bearer {key}"})
    assert (other.status_code, mine.status_code) == (401, 200)


async def test_huge_bodies_are_cut_off_unread() -> None:
    async with serve(LocalRealtime()) as (_, url):
        port = int(url.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /v1/realtime/client_secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer sk-x\r\nContent-Length: 104857600\r\n\r\n"
        )
        answer = await asyncio.wait_for(reader.read(1024), 10)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400")
