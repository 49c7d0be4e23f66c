"""Authentication, XSRF, and a scan proving the API key leaks nowhere."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import respx
from tornado.httpclient import HTTPClientError, HTTPResponse

from tests.conftest import ANSWER, FAKE_KEY, OFFER, OPENAI

ROUTES = ["calls", "client-secrets"]


@pytest.fixture
def openai_mock() -> Any:
    with respx.mock(base_url=OPENAI, assert_all_called=False) as mock:
        mock.post("/realtime/calls").mock(
            return_value=httpx.Response(201, text=ANSWER, headers={"Location": "/x/rtc_1"})
        )
        mock.post("/realtime/client_secrets").mock(
            return_value=httpx.Response(200, json={"value": "ek_1", "expires_at": 1})
        )
        yield mock


@pytest.mark.parametrize("route", ROUTES)
async def test_unauthenticated_post_is_403_and_nothing_goes_upstream(
    jp_fetch: Any, openai_mock: Any, route: str
) -> None:
    with pytest.raises(HTTPClientError) as exc:
        await jp_fetch(
            "api",
            "rt-notebook",
            route,
            method="POST",
            body=json.dumps({"sdp": OFFER}),
            headers={"Authorization": ""},
        )
    assert exc.value.code == 403
    assert not openai_mock.calls


@pytest.mark.parametrize("route", ROUTES)
async def test_cookie_auth_needs_xsrf(
    jp_serverapp: Any, jp_base_url: str, http_server_client: Any, openai_mock: Any, route: str
) -> None:
    async def raw_fetch(path: str, **kwargs: Any) -> HTTPResponse:
        response: HTTPResponse = await http_server_client.fetch(path, raise_error=False, **kwargs)
        return response

    base = jp_base_url
    token = jp_serverapp.identity_provider.token
    login = await raw_fetch(f"{base}?token={token}", follow_redirects=False)
    cookies = "; ".join(c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie"))
    xsrf = next(c.split("=", 1)[1] for c in cookies.split("; ") if c.startswith("_xsrf="))
    body = json.dumps({"sdp": OFFER})

    refused = await raw_fetch(
        f"{base}api/rt-notebook/{route}", method="POST", body=body, headers={"Cookie": cookies}
    )
    assert refused.code == 403
    assert b"xsrf" in refused.body.lower()
    assert not openai_mock.calls

    accepted = await raw_fetch(
        f"{base}api/rt-notebook/{route}",
        method="POST",
        body=body,
        headers={"Cookie": cookies, "X-XSRFToken": xsrf},
    )
    assert accepted.code in (200, 201), accepted.body
    assert len(openai_mock.calls) == 1


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_key_never_leaks(jp_fetch: Any, jp_serverapp: Any) -> None:
    """Drive every endpoint through success and failure; the key is only ever upstream."""
    collect = _Collect()
    loggers = [logging.getLogger(), jp_serverapp.log, logging.getLogger("tornado.access")]
    for logger in loggers:
        logger.addHandler(collect)
    seen: list[str] = []

    async def hit(route: str, body: object) -> None:
        try:
            response = await jp_fetch(
                "api", "rt-notebook", route, method="POST", body=json.dumps(body)
            )
        except HTTPClientError as exc:
            response = exc.response
        seen.append(str(response.headers) + response.body.decode())

    upstreams = [
        httpx.Response(201, text=ANSWER, headers={"Location": "/v1/realtime/calls/rtc_1"}),
        httpx.Response(200, json={"value": "ek_1", "expires_at": 1}),
        httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {FAKE_KEY}"}}),
        httpx.Response(401, text=f"Bearer {FAKE_KEY} is not valid"),
        httpx.Response(
            429, json={"error": {"message": f"quota for {FAKE_KEY}", "code": "insufficient_quota"}}
        ),
        httpx.Response(500, text=f"crash dump: Authorization: Bearer {FAKE_KEY}"),
        httpx.ConnectError(f"cannot connect with {FAKE_KEY}"),
        httpx.ReadTimeout("slow"),
    ]
    try:
        for upstream in upstreams:
            with respx.mock(base_url=OPENAI) as mock:
                kind = "side_effect" if isinstance(upstream, Exception) else "return_value"
                mock.post("/realtime/calls").mock(**{kind: upstream})
                mock.post("/realtime/client_secrets").mock(**{kind: upstream})
                await hit("calls", {"sdp": OFFER, "session": {"instructions": "x"}})
                await hit("client-secrets", {"session": {}})
                for request, _ in mock.calls:
                    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
        await hit("calls", {"sdp": "", "session": {"voice": FAKE_KEY}})
        status = await jp_fetch("api", "rt-notebook", "status")
        seen.append(str(status.headers) + status.body.decode())
    finally:
        for logger in loggers:
            logger.removeHandler(collect)

    assert len(seen) == 2 * len(upstreams) + 2
    assert collect.lines, "the scan must have seen log lines"
    everything = "\n".join(seen + collect.lines)
    assert FAKE_KEY not in everything
    assert FAKE_KEY[:16] not in everything
