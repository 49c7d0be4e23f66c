"""The multipart body the server and the kernel send upstream with an offer (``form_data``)."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tornado import httputil

from rt_notebook.wire.openai_http import OpenAIRealtimeHTTP, form_data
from tests.conftest import FAKE_KEY, OFFER, OPENAI, answer_for


def tornado_parts(body: bytes, content_type: str) -> dict[str, bytes]:
    """The parts as the local backend's handler reads them (tornado's parser)."""
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[Any]] = {}
    httputil.parse_body_arguments(content_type, body, args, files)
    return {**{k: v[0] for k, v in args.items()}, **{k: f[0].body for k, f in files.items()}}


payloads = st.binary(max_size=300) | st.text(max_size=300).map(str.encode)


@given(sdp=payloads, session=payloads)
def test_any_payloads_read_back_exactly(sdp: bytes, session: bytes) -> None:
    body, content_type = form_data(
        {"sdp": ("application/sdp", sdp), "session": ("application/json", session)}
    )
    assert content_type.startswith("multipart/form-data; boundary=")
    assert tornado_parts(body, content_type) == {"sdp": sdp, "session": session}


def test_a_boundary_found_in_a_payload_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["b0undary", "fresh0ne"])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(drawn))
    sdp = b"v=0\r\n--b0undary--\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    body, content_type = form_data({"sdp": ("application/sdp", sdp)})
    assert content_type == "multipart/form-data; boundary=fresh0ne"
    assert tornado_parts(body, content_type) == {"sdp": sdp}


def test_each_part_names_its_content_type() -> None:
    body, _ = form_data({"session": ("application/json", b"{}")})
    head = body.split(b"\r\n\r\n", 1)[0]
    assert b'Content-Disposition: form-data; name="session"' in head
    assert b"Content-Type: application/json" in head


class RecordingTransport(httpx.AsyncBaseTransport):
    """Stands in for OpenAI: keeps each request's body stream as it arrives, unread."""

    def __init__(self) -> None:
        self.requests: list[tuple[httpx.Request, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request, request.stream))
        await request.aread()
        offer = tornado_parts(request.content, request.headers["content-type"])["sdp"]
        return httpx.Response(201, text=answer_for(offer.decode()), headers={"Location": "rtc_1"})


async def test_create_call_sends_the_form_in_one_piece() -> None:
    transport = RecordingTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        api = OpenAIRealtimeHTTP(client, base_url=OPENAI, api_key=lambda: FAKE_KEY, timeout=5)
        answer = await api.create_call(OFFER, {"type": "realtime"})
    assert answer.call_id == "rtc_1"
    ((request, stream),) = transport.requests
    # one body, written at once (httpx's files= streams it in a dozen small writes)
    assert isinstance(stream, httpx.ByteStream)
    assert request.headers["content-length"] == str(len(request.content))
    parts = tornado_parts(request.content, request.headers["content-type"])
    assert parts == {"sdp": OFFER.encode(), "session": b'{"type": "realtime"}'}
