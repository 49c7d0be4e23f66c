"""POST api/rt-notebook/calls: the SDP exchange through a real jupyter server, OpenAI mocked."""

from __future__ import annotations

import datetime
import email.parser
import email.policy
import json
from typing import Any

import httpx
import pytest
import respx
from tornado.httpclient import HTTPClientError

import rt_notebook as rt
from tests.conftest import ANSWER, FAKE_KEY, OFFER, OPENAI

LOCATION = "/v1/realtime/calls/rtc_u1_9c6574da8b8a41a18da9308f4ad974ce"


@pytest.fixture
def openai_mock() -> Any:
    with respx.mock(base_url=OPENAI, assert_all_called=False) as mock:
        yield mock


def answer_route(mock: respx.MockRouter, **kwargs: Any) -> respx.Route:
    response = kwargs.pop("response", None) or httpx.Response(
        201, text=ANSWER, headers={"Location": LOCATION, "Content-Type": "application/sdp"}
    )
    return mock.post("/realtime/calls").mock(return_value=response, **kwargs)


async def post_call(jp_fetch: Any, body: object, **kwargs: Any) -> Any:
    return await jp_fetch(
        "api", "rt-notebook", "calls", method="POST", body=json.dumps(body), **kwargs
    )


async def call_error(jp_fetch: Any, body: object, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as exc:
        await post_call(jp_fetch, body, **kwargs)
    assert exc.value.response is not None
    return exc.value.code, json.loads(exc.value.response.body)


def multipart_parts(request: httpx.Request) -> dict[str, tuple[str, bytes]]:
    """Parse a multipart/form-data body into {name: (content type, payload)}."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[name] = (part.get_content_type(), part.get_payload(decode=True))
    return parts


async def test_offer_becomes_answer_with_call_id(jp_fetch: Any, openai_mock: Any) -> None:
    route = answer_route(openai_mock)
    session = {"type": "realtime", "model": "gpt-realtime-2.1", "instructions": "Hi"}
    response = await post_call(jp_fetch, {"sdp": OFFER, "session": session})

    assert response.code == 201
    body = json.loads(response.body)
    assert body == {
        "sdp": ANSWER,
        "call_id": "rtc_u1_9c6574da8b8a41a18da9308f4ad974ce",
        "session": session,
    }
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    assert list(parts) == ["sdp", "session"]
    assert parts["sdp"] == ("application/sdp", OFFER.encode())
    assert parts["session"][0] == "application/json"
    assert json.loads(parts["session"][1]) == session


async def test_offer_with_lf_endings_is_sent_with_crlf(jp_fetch: Any, openai_mock: Any) -> None:
    route = answer_route(openai_mock)
    await post_call(jp_fetch, {"sdp": OFFER.replace("\r\n", "\n"), "session": {}})
    assert multipart_parts(route.calls.last.request)["sdp"][1] == OFFER.encode()


async def test_missing_session_sends_a_minimal_ga_session(jp_fetch: Any, openai_mock: Any) -> None:
    route = answer_route(openai_mock)
    body = json.loads((await post_call(jp_fetch, {"sdp": OFFER})).body)
    minimal = {"type": "realtime", "model": rt.DEFAULT_MODEL}  # never the server's default
    assert body["session"] == minimal
    assert json.loads(multipart_parts(route.calls.last.request)["session"][1]) == minimal


@pytest.mark.parametrize(
    "location",
    ["https://api.openai.com/v1/realtime/calls/rtc_abc?x=1", "/v1/realtime/calls/rtc_abc/"],
)
async def test_call_id_is_last_rtc_segment(jp_fetch: Any, openai_mock: Any, location: str) -> None:
    answer_route(
        openai_mock, response=httpx.Response(201, text=ANSWER, headers={"Location": location})
    )
    body = json.loads((await post_call(jp_fetch, {"sdp": OFFER})).body)
    assert body["call_id"] == "rtc_abc"


@pytest.mark.parametrize(
    "rt_config",
    [
        {
            "session_defaults": {
                "model": "gpt-realtime-2.1",
                "instructions": "default instructions",
                "audio": {"output": {"voice": "cedar"}, "input": {"noise_reduction": None}},
            },
            "session_overrides": {
                "instructions": "Teacher's instructions win.",
                "audio": {"output": {"speed": 1.2}},
            },
        }
    ],
    indirect=True,
)
async def test_defaults_under_and_overrides_on_top(jp_fetch: Any, openai_mock: Any) -> None:
    route = answer_route(openai_mock)
    asked = {
        "instructions": "Ignore the teacher.",
        "audio": {"output": {"voice": "marin", "speed": 0.5}},
    }
    body = json.loads((await post_call(jp_fetch, {"sdp": OFFER, "session": asked})).body)
    expected = {
        "type": "realtime",
        "model": "gpt-realtime-2.1",
        "instructions": "Teacher's instructions win.",
        "audio": {"output": {"voice": "marin", "speed": 1.2}, "input": {"noise_reduction": None}},
    }
    assert body["session"] == expected
    assert json.loads(multipart_parts(route.calls.last.request)["session"][1]) == expected


@pytest.mark.parametrize(
    "rt_config", [{"allowed_models": ["gpt-realtime-2.1-mini", "gpt-realtime-2.1"]}], indirect=True
)
async def test_allowed_models(jp_fetch: Any, openai_mock: Any) -> None:
    route = answer_route(openai_mock)
    status, body = await call_error(
        jp_fetch, {"sdp": OFFER, "session": {"model": "gpt-4o-realtime-preview"}}
    )
    assert status == 400
    assert body["error"]["param"] == "session.model"
    assert "gpt-realtime-2.1-mini, gpt-realtime-2.1" in body["error"]["message"]
    assert not route.called

    ok = json.loads((await post_call(jp_fetch, {"sdp": OFFER, "session": {}})).body)
    assert ok["session"]["model"] == "gpt-realtime-2.1-mini"


@pytest.mark.parametrize(
    ("session", "param", "fix"),
    [
        ({"session": {"type": "realtime"}}, "session.session", "send the session object itself"),
        ({"voice": "alloy"}, "session.voice", "session.audio.output.voice"),
        ({"modalities": ["audio"]}, "session.modalities", "session.output_modalities"),
        (
            {"input_audio_transcription": {"model": "whisper-1"}},
            "session.input_audio_transcription",
            "session.audio.input.transcription",
        ),
        ({"turn_detection": None}, "session.turn_detection", "session.audio.input.turn_detection"),
        (
            {"input_audio_format": "pcm16"},
            "session.input_audio_format",
            "session.audio.input.format",
        ),
        (
            {"audio": {"output": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "session.audio.output.format.rate",
            "24000",
        ),
        ({"audio": {"output": {"voice": "robot"}}}, "session.audio.output.voice", "marin"),
        ({"audio": {"output": {"speed": 2.0}}}, "session.audio.output.speed", "1.5"),
        ({"output_modalities": ["audio", "text"]}, "session.output_modalities", "at most 1"),
        ({"max_output_tokens": 0}, "session.max_output_tokens", "greater than or equal to 1"),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}}},
            "session.audio.input.turn_detection.threshold",
            "less than or equal to 1",
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "loud_vad"}}}},
            "session.audio.input.turn_detection.type",
            "'server_vad', 'semantic_vad'",
        ),
        ({"colour": "blue"}, "session.colour", "not a GA session field"),
        ({"type": "transcription"}, "session.type", '"realtime"'),
        ("not an object", "session", "JSON object"),
    ],
)
async def test_invalid_session_names_field_and_fix(
    jp_fetch: Any, openai_mock: Any, session: object, param: str, fix: str
) -> None:
    route = answer_route(openai_mock)
    status, body = await call_error(jp_fetch, {"sdp": OFFER, "session": session})
    assert status == 400
    assert body["error"]["code"] == "invalid_session"
    assert body["error"]["param"] == param
    assert fix in body["error"]["message"]
    assert not route.called


@pytest.mark.parametrize(
    ("sdp", "status", "code"),
    [
        ("", 400, "invalid_sdp"),
        ("   ", 400, "invalid_sdp"),
        (None, 400, "invalid_sdp"),
        (42, 400, "invalid_sdp"),
        ("hello there", 400, "invalid_sdp"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video 9 RTP 96\r\n", 400, "invalid_sdp"),
    ],
)
async def test_bad_offers_are_refused(
    jp_fetch: Any, openai_mock: Any, sdp: object, status: int, code: str
) -> None:
    route = answer_route(openai_mock)
    got, body = await call_error(jp_fetch, {"sdp": sdp})
    assert (got, body["error"]["code"], body["error"]["param"]) == (status, code, "sdp")
    assert not route.called


@pytest.mark.parametrize("rt_config", [{"max_offer_bytes": 1024}], indirect=True)
async def test_oversized_offer_is_413(jp_fetch: Any, openai_mock: Any) -> None:
    route = answer_route(openai_mock)
    big = OFFER + "a=x-padding:" + "x" * 2000 + "\r\n"
    status, body = await call_error(jp_fetch, {"sdp": big})
    assert status == 413
    assert "1024" in body["error"]["message"]
    assert not route.called


async def test_body_must_be_json(jp_fetch: Any, openai_mock: Any) -> None:
    with pytest.raises(HTTPClientError) as exc:
        await jp_fetch("api", "rt-notebook", "calls", method="POST", body="sdp=v%3D0")
    assert exc.value.code == 400
    assert json.loads(exc.value.response.body)["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("rt_config", [{"api_key": None, "backend": "openai"}], indirect=True)
async def test_no_key_with_openai_backend_is_503(jp_fetch: Any, openai_mock: Any) -> None:
    route = answer_route(openai_mock)
    status, body = await call_error(jp_fetch, {"sdp": OFFER})
    assert status == 503
    assert body["error"]["code"] == "no_api_key"
    assert "OPENAI_API_KEY" in body["error"]["message"]
    assert "api_key_file" in body["error"]["message"]
    assert not route.called


UPSTREAM_ERRORS = [
    (
        httpx.Response(
            401,
            json={
                "error": {
                    "message": f"Incorrect API key provided: {FAKE_KEY}.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        ),
        502,
        "openai_key_rejected",
        "The server's OpenAI key was rejected (401)",
    ),
    (
        httpx.Response(
            403,
            json={
                "error": {
                    "message": "Project does not have access.",
                    "type": "invalid_request_error",
                }
            },
        ),
        502,
        "openai_key_rejected",
        "Project does not have access.",
    ),
    (
        httpx.Response(
            429,
            json={
                "error": {
                    "message": "You exceeded your current quota.",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            },
        ),
        429,
        "openai_quota_exceeded",
        "quota",
    ),
    (
        httpx.Response(
            429,
            headers={"Retry-After": "7"},
            json={
                "error": {
                    "message": "Rate limit reached for requests",
                    "code": "rate_limit_exceeded",
                }
            },
        ),
        429,
        "openai_rate_limited",
        "Wait a moment",
    ),
    (httpx.Response(500, text="Internal Server Error"), 502, "openai_server_error", "(500)"),
    (httpx.Response(503, text="overloaded"), 502, "openai_server_error", "Try again"),
    (
        httpx.Response(
            400,
            json={
                "error": {
                    "message": "Invalid model",
                    "param": "session.model",
                    "code": "invalid_value",
                }
            },
        ),
        400,
        "invalid_value",
        "Invalid model",
    ),
    (httpx.Response(404, text="nope"), 502, "upstream_not_found", "api_base_url"),
    (httpx.Response(201, text="<html>not sdp</html>"), 502, "upstream_bad_answer", "SDP"),
]


@pytest.mark.parametrize(("upstream", "status", "code", "text"), UPSTREAM_ERRORS)
async def test_upstream_errors_are_mapped(
    jp_fetch: Any, openai_mock: Any, upstream: httpx.Response, status: int, code: str, text: str
) -> None:
    answer_route(openai_mock, response=upstream)
    got, body = await call_error(jp_fetch, {"sdp": OFFER})
    assert (got, body["error"]["code"]) == (status, code)
    assert text in body["error"]["message"]
    assert FAKE_KEY not in json.dumps(body)


async def test_upstream_retry_after_is_passed_on(jp_fetch: Any, openai_mock: Any) -> None:
    answer_route(openai_mock, response=httpx.Response(429, headers={"Retry-After": "7"}))
    with pytest.raises(HTTPClientError) as exc:
        await post_call(jp_fetch, {"sdp": OFFER})
    assert exc.value.response.headers["Retry-After"] == "7"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (httpx.ReadTimeout("timed out"), 504, "upstream_timeout"),
        (httpx.ConnectError("connection refused"), 502, "upstream_unreachable"),
    ],
)
async def test_timeouts_and_network_errors(
    jp_fetch: Any, openai_mock: Any, error: Exception, status: int, code: str
) -> None:
    answer_route(openai_mock, side_effect=error)
    got, body = await call_error(jp_fetch, {"sdp": OFFER})
    assert (got, body["error"]["code"]) == (status, code)


@pytest.mark.parametrize("rt_config", [{"rate_limit_per_minute": 2}], indirect=True)
async def test_per_user_rate_limit(jp_fetch: Any, openai_mock: Any) -> None:
    route = answer_route(openai_mock)
    for _ in range(2):
        await post_call(jp_fetch, {"sdp": OFFER})
    with pytest.raises(HTTPClientError) as exc:
        await post_call(jp_fetch, {"sdp": OFFER})
    assert exc.value.code == 429
    assert json.loads(exc.value.response.body)["error"]["code"] == "rate_limited"
    assert int(exc.value.response.headers["Retry-After"]) > 0
    assert route.call_count == 2


@pytest.mark.parametrize(
    "rt_config", [{"api_key": None, "api_key_file": "{tmp_path}/openai.key"}], indirect=True
)
async def test_key_file_is_reread_without_restart(
    jp_fetch: Any, openai_mock: Any, tmp_path: Any
) -> None:
    key_file = tmp_path / "openai.key"
    route = answer_route(openai_mock)
    status = json.loads((await jp_fetch("api", "rt-notebook", "status")).body)
    assert status["backend"] == "local"  # no key yet: auto means the local backend

    key_file.write_text("sk-first-key-000000\n")
    await post_call(jp_fetch, {"sdp": OFFER})
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-first-key-000000"

    key_file.write_text("sk-second-key-1111111\n")
    await post_call(jp_fetch, {"sdp": OFFER})
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-second-key-1111111"


@pytest.mark.parametrize("rt_config", [{"rate_limit_per_minute": 2}], indirect=True)
async def test_rate_limit_keys_by_identity_not_anonymous(
    jp_serverapp: Any, jp_base_url: str, http_server_client: Any, openai_mock: Any
) -> None:
    """Two browsers logged in with the token are two Jupyter users: one's burst does not
    refuse the other. Token-only requests (a fresh anonymous user each) share the token's."""
    answer_route(openai_mock)
    token = jp_serverapp.identity_provider.token

    async def login() -> dict[str, str]:
        page = await http_server_client.fetch(
            f"{jp_base_url}?token={token}", follow_redirects=False, raise_error=False
        )
        cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("Set-Cookie"))
        xsrf = next(c.split("=", 1)[1] for c in cookies.split("; ") if c.startswith("_xsrf="))
        return {"Cookie": cookies, "X-XSRFToken": xsrf}

    async def status(headers: dict[str, str]) -> int:
        response = await http_server_client.fetch(
            f"{jp_base_url}api/rt-notebook/calls",
            method="POST",
            body=json.dumps({"sdp": OFFER}),
            headers=headers,
            raise_error=False,
        )
        return int(response.code)

    alice, bob = await login(), await login()
    by_token = {"Authorization": f"token {token}"}
    assert [await status(alice) for _ in range(3)] == [201, 201, 429]
    assert [await status(bob) for _ in range(3)] == [201, 201, 429]
    assert [await status(by_token) for _ in range(3)] == [201, 201, 429]


async def test_a_shut_down_model_is_refused_before_any_upstream_call(
    jp_fetch: Any, openai_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rt_notebook.wire import models

    route = answer_route(openai_mock)
    monkeypatch.setattr(models, "utc_today", lambda: datetime.date(2027, 1, 20))
    status, body = await call_error(jp_fetch, {"sdp": OFFER, "session": {"model": "gpt-realtime"}})
    assert status == 400
    assert body["error"]["param"] == "session.model"
    assert "shut down by OpenAI on 2027-01-20" in body["error"]["message"]
    assert "'gpt-realtime-2.1'" in body["error"]["message"]
    assert not route.called
    ok = json.loads((await post_call(jp_fetch, {"sdp": OFFER})).body)  # the default is current
    assert ok["session"]["model"] == "gpt-realtime-2.1"
