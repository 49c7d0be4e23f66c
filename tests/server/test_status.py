"""GET api/rt-notebook/status, and the extension's configuration."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from traitlets import TraitError

from rt_notebook import __version__
from tests.conftest import FAKE_KEY


async def test_status_reports_backend_without_the_key(jp_fetch: Any) -> None:
    response = await jp_fetch("api", "rt-notebook", "status")
    body = json.loads(response.body)
    assert body == {
        "backend": "openai",
        "backend_setting": "auto",
        "key_configured": True,
        "allowed_models": [],
        "session_defaults": {},
        "overridden_fields": [],
        "default_model": "gpt-realtime-2.1",
        "model_notices": [],
        "version": __version__,
    }
    assert FAKE_KEY not in response.body.decode()


@pytest.mark.parametrize(
    "rt_config",
    [
        {
            "api_key": None,
            "allowed_models": ["gpt-realtime-2.1", "gpt-realtime-2.1-mini"],
            "session_defaults": {"audio": {"output": {"voice": "cedar"}}},
            "session_overrides": {"instructions": "Be brief."},
        }
    ],
    indirect=True,
)
async def test_status_without_key_is_local(jp_fetch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.loads((await jp_fetch("api", "rt-notebook", "status")).body)
    assert body["backend"] == "local"
    assert body["key_configured"] is False
    assert body["allowed_models"] == ["gpt-realtime-2.1", "gpt-realtime-2.1-mini"]
    assert body["session_defaults"] == {"audio": {"output": {"voice": "cedar"}}}
    assert body["overridden_fields"] == ["instructions"]


async def test_status_needs_authentication(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as exc:
        await jp_fetch("api", "rt-notebook", "status", headers={"Authorization": ""})
    assert exc.value.code == 403


def test_key_defaults_to_environment(
    jp_configurable_serverapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-123456")
    from rt_notebook.server.app import RealtimeExtension

    ext = RealtimeExtension()
    assert ext.api_key == "sk-from-env-123456"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert RealtimeExtension().api_key is None


def test_base_url_defaults_to_environment(
    jp_configurable_serverapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rt_notebook.server.app import RealtimeExtension

    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example/v1")
    assert RealtimeExtension().api_base_url == "https://gateway.example/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert RealtimeExtension().api_base_url == "https://api.openai.com/v1"


def test_settings_from_the_command_line(jp_configurable_serverapp: Any) -> None:
    app = jp_configurable_serverapp(
        argv=[
            "--RealtimeExtension.rate_limit_per_minute=2",
            "--RealtimeExtension.backend=local",
            "--RealtimeExtension.client_secret_ttl_seconds=60",
            "--RealtimeExtension.api_base_url=http://127.0.0.1:8765/v1",
        ]
    )
    ext = app.extension_manager.extension_apps["rt_notebook"]
    (rt,) = ext
    assert rt.rate_limit_per_minute == 2
    assert rt.backend == "local"
    assert rt.client_secret_ttl_seconds == 60
    assert rt.api_base_url == "http://127.0.0.1:8765/v1"
    assert rt.active_backend() == "local"


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("client_secret_ttl_seconds", 5, "10-7200"),
        ("client_secret_ttl_seconds", 9000, "10-7200"),
        ("max_offer_bytes", 0, "positive"),
        ("session_defaults", {"voice": "alloy"}, "session_defaults.audio.output.voice"),
        ("session_overrides", {"modalities": ["text"]}, "output_modalities"),
    ],
)
def test_bad_settings_are_refused(trait: str, value: object, message: str) -> None:
    from rt_notebook.server.app import RealtimeExtension

    with pytest.raises(TraitError, match=message):
        RealtimeExtension(**{trait: value})


@pytest.mark.parametrize(
    "rt_config",
    [
        {
            "allowed_models": ["gpt-realtime-mini", "gpt-realtime-2.1"],
            "session_defaults": {"audio": {"input": {"transcription": {"model": "whisper-1"}}}},
        }
    ],
    indirect=True,
)
async def test_status_names_deprecated_models_with_date_and_replacement(jp_fetch: Any) -> None:
    body = json.loads((await jp_fetch("api", "rt-notebook", "status")).body)
    assert body["default_model"] == "gpt-realtime-mini"
    notices = {n["model"]: n for n in body["model_notices"]}
    assert set(notices) == {"gpt-realtime-mini", "whisper-1"}
    mini = notices["gpt-realtime-mini"]
    assert (mini["kind"], mini["shutdown"], mini["replacement"]) == (
        "realtime",
        "2027-01-20",
        "gpt-realtime-2.1-mini",
    )
    assert mini["shut_down"] is False
    assert "2027-01-20" in mini["message"]
    assert (notices["whisper-1"]["kind"], notices["whisper-1"]["shutdown"]) == (
        "transcription",
        "2027-02-26",
    )
