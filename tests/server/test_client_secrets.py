"""POST api/rt-notebook/client-secrets: ephemeral keys minted with the server's key."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from tornado.httpclient import HTTPClientError

import rt_notebook as rt
from tests.conftest import FAKE_KEY, OPENAI

SECRET = {
    "value": "ek_68af0000aaaa",
    "expires_at": 1756310470,
    "session": {"type": "realtime", "object": "realtime.session", "id": "sess_1"},
}


@pytest.fixture
def secrets_route() -> Any:
    with respx.mock(base_url=OPENAI, assert_all_called=False) as mock:
        yield mock.post("/realtime/client_secrets").mock(
            return_value=httpx.Response(200, json=SECRET)
        )


async def mint(jp_fetch: Any, body: object) -> Any:
    return await jp_fetch(
        "api", "rt-notebook", "client-secrets", method="POST", body=json.dumps(body)
    )


async def test_mints_a_key_with_the_asked_expiry(jp_fetch: Any, secrets_route: Any) -> None:
    response = await mint(
        jp_fetch, {"session": {"model": "gpt-realtime-2.1"}, "expires_after_seconds": 120}
    )
    assert response.code == 200
    assert json.loads(response.body) == SECRET
    request = secrets_route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert json.loads(request.content) == {
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "session": {"type": "realtime", "model": "gpt-realtime-2.1"},
    }


@pytest.mark.parametrize("rt_config", [{"client_secret_ttl_seconds": 300}], indirect=True)
async def test_default_expiry_is_the_configured_ttl(jp_fetch: Any, secrets_route: Any) -> None:
    await mint(jp_fetch, {})
    body = json.loads(secrets_route.calls.last.request.content)
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 300}
    assert body["session"] == {"type": "realtime", "model": rt.DEFAULT_MODEL}


@pytest.mark.parametrize("rt_config", [{"client_secret_ttl_seconds": 300}], indirect=True)
@pytest.mark.parametrize("seconds", [5, 301, "60", 1.5, True])
async def test_expiry_out_of_bounds(jp_fetch: Any, secrets_route: Any, seconds: object) -> None:
    with pytest.raises(HTTPClientError) as exc:
        await mint(jp_fetch, {"expires_after_seconds": seconds})
    assert exc.value.code == 400
    error = json.loads(exc.value.response.body)["error"]
    assert error["param"] == "expires_after_seconds"
    assert "10 to 300" in error["message"]
    assert not secrets_route.called


async def test_session_is_validated(jp_fetch: Any, secrets_route: Any) -> None:
    with pytest.raises(HTTPClientError) as exc:
        await mint(jp_fetch, {"session": {"voice": "marin"}})
    assert exc.value.code == 400
    assert json.loads(exc.value.response.body)["error"]["param"] == "session.voice"
    assert not secrets_route.called


async def test_upstream_rejection(jp_fetch: Any, secrets_route: Any) -> None:
    secrets_route.mock(return_value=httpx.Response(401, json={"error": {"message": "bad key"}}))
    with pytest.raises(HTTPClientError) as exc:
        await mint(jp_fetch, {})
    assert exc.value.code == 502
    assert json.loads(exc.value.response.body)["error"]["code"] == "openai_key_rejected"


async def test_malformed_upstream_answer(jp_fetch: Any, secrets_route: Any) -> None:
    secrets_route.mock(return_value=httpx.Response(200, json={"client_secret": {"value": "x"}}))
    with pytest.raises(HTTPClientError) as exc:
        await mint(jp_fetch, {})
    assert exc.value.code == 502
    assert json.loads(exc.value.response.body)["error"]["code"] == "upstream_bad_answer"
