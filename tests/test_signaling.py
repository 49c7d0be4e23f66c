"""The one signaling path: request checks, credentials, backend choice (the adapters' tests are
in tests/server, tests/kernel and tests/hub)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rt_notebook.errors import RealtimeError
from rt_notebook.local.backend import LocalRealtime
from rt_notebook.wire import signaling

OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert signaling.env_credentials() == signaling.Credentials(None, signaling.OPENAI_BASE_URL)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret-1234")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8765/v1")
    found = signaling.env_credentials()
    assert (found.api_key, found.base_url) == ("sk-env-secret-1234", "http://127.0.0.1:8765/v1")
    assert "sk-env" not in repr(found)


@pytest.mark.parametrize(
    ("setting", "key", "chosen"),
    [
        ("auto", None, "local"),
        ("auto", "sk-x", "openai"),
        ("openai", None, "openai"),
        ("local", "sk-x", "local"),
    ],
)
def test_backend_choice(setting: str, key: str | None, chosen: str) -> None:
    assert signaling.choose_backend(setting, key) == chosen


def test_a_call_request_is_checked_once_for_every_adapter() -> None:
    policy = signaling.SessionPolicy(
        defaults={"instructions": "Default."}, overrides={"model": "gpt-realtime-2.1"}
    )
    request = signaling.read_call_request(
        {"sdp": OFFER.replace("\r\n", "\n"), "session": {}, "local": {"scenario": ["Hi"]}},
        policy=policy,
    )
    assert request.sdp == OFFER
    assert (request.session["instructions"], request.session["model"]) == (
        "Default.",
        "gpt-realtime-2.1",
    )
    assert request.scenario == ["Hi"]
    too_big = {"sdp": OFFER + "a=x\r\n" * 20000, "session": {}}
    with pytest.raises(RealtimeError) as refused:
        signaling.read_call_request(too_big)
    assert (refused.value.status, refused.value.code) == (413, "offer_too_large")
    assert str(signaling.MAX_OFFER_BYTES) in refused.value.message


def test_the_local_backend_refuses_to_join_an_unknown_call() -> None:
    with pytest.raises(RealtimeError) as missing:
        asyncio.run(LocalRealtime().join_call("rtc_nope", 1.0))
    assert (missing.value.status, missing.value.code) == (404, "call_not_found")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=64),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {},
            optional={
                "sdp": st.one_of(st.just(OFFER), JSON),
                "session": st.one_of(st.just({"instructions": "x"}), JSON),
                "local": st.one_of(st.just({"scenario": [{"say": "Hi"}]}), JSON),
            },
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_body_reads_as_a_request_or_a_4xx(body: bytes) -> None:
    outcome: Any
    try:
        outcome = signaling.read_json_object(body, limit=signaling.SESSION_BODY_ALLOWANCE)
        outcome = signaling.read_call_request(outcome)
    except RealtimeError as error:
        outcome = error
    if isinstance(outcome, RealtimeError):
        assert (400 <= outcome.status < 500, bool(outcome.code)) == (True, True)
    else:
        assert outcome.sdp.startswith("v=0\r\n")
