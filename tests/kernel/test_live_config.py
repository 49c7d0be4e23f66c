"""GPT-Live session configs (rt_notebook.wire.live_config) and the protocol chosen by model name
(rt_notebook.wire.protocols): Live's shapes strictly, and each protocol's fields refused by the
other with the way to say it there."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rt_notebook.wire.live_config import (
    apply_live_update,
    live_voices,
    prepare_live_session,
    validate_live_session,
    validate_live_update,
)
from rt_notebook.wire.protocols import choose_protocol, protocol_for_model
from rt_notebook.wire.session_config import SessionConfigError, validate_session
from tests.protocol import assert_live_client_event

RESPONSES = {
    "type": "responses",
    "responses": {
        "model": "gpt-5.6-terra",
        "tools": [
            {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
        ],
    },
}
FULL = {
    "model": "gpt-live-1",
    "instructions": "Be brief.",
    "audio": {"format": {"type": "audio/pcm", "rate": 24000}, "output": {"voice": "shida"}},
    "delegation": RESPONSES,
    "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    "store": False,
    "safety_identifier": "user-7",
    "triggers": [
        {
            "type": "decisions",
            "event_type": "session.input_transcript.delta",
            "decisions": {"questions": [{"type": "predicate", "instructions": "Angry?"}]},
        }
    ],
}


@pytest.mark.parametrize(
    ("model", "protocol"),
    [
        ("gpt-live-1", "live"),
        ("gpt-live-1.1", "live"),
        ("gpt-live-2-2027-01-01", "live"),
        ("gpt-live-transcribe", "realtime"),
        ("gpt-realtime-2.1", "realtime"),
        (None, "realtime"),
    ],
)
def test_the_model_name_chooses_the_protocol(model: str | None, protocol: str) -> None:
    assert protocol_for_model(model) == protocol
    assert choose_protocol(model) == protocol


def test_an_explicit_protocol_must_agree_with_the_model() -> None:
    assert choose_protocol(None, "live") == "live"
    assert choose_protocol("gpt-live-1", "live") == "live"
    with pytest.raises(ValueError, match="gpt-live-1"):
        choose_protocol("gpt-live-1", "realtime")
    with pytest.raises(ValueError, match="GPT-Live model"):
        choose_protocol("gpt-realtime-2.1", "live")
    with pytest.raises(ValueError, match="realtime"):
        choose_protocol(None, "beta")


def test_a_full_live_config_passes_and_is_a_valid_session_start() -> None:
    checked = validate_live_session(FULL, transport="websocket")
    assert checked == FULL
    assert_live_client_event({"type": "session.start", "session": checked})


def test_webrtc_takes_idle_settings_but_no_audio_format() -> None:
    webrtc = {"model": "gpt-live-1", "idle_timeout_s": 30, "wake_policy": {"type": "speech"}}
    assert validate_live_session(webrtc, transport="webrtc") == webrtc
    with pytest.raises(SessionConfigError, match="WebRTC negotiates") as err:
        validate_live_session(FULL, transport="webrtc")
    assert err.value.param == "session.audio.format"
    with pytest.raises(SessionConfigError, match="WebRTC sessions only"):
        validate_live_session(webrtc, transport="websocket")
    with pytest.raises(SessionConfigError, match="wake_policy"):
        validate_live_session({**webrtc, "wake_policy": {"type": "speech", "vad_threshold": 2}})


@pytest.mark.parametrize(
    ("session", "param", "says"),
    [
        ({"type": "realtime"}, "session.type", "remove it"),
        ({"voice": "marin"}, "session.voice", "session.audio.output.voice"),
        ({"tools": []}, "session.tools", '"delegation"'),
        ({"tool_choice": "auto"}, "session.tool_choice", "delegation.responses.tool_choice"),
        ({"output_modalities": ["text"]}, "session.output_modalities", "always answers"),
        ({"audio": {"input": {"turn_detection": None}}}, "session.audio.input", "owns turns"),
        ({"audio": {"output": {"speed": 1.2}}}, "session.audio.output.speed", "no speed"),
        ({"audio": {"output": {"format": {}}}}, "session.audio.output.format", "audio.format"),
        ({"max_output_tokens": 9}, "session.max_output_tokens", "delegation.responses"),
        ({"truncation": "auto"}, "session.truncation", "context"),
    ],
)
def test_realtime_fields_name_the_live_way(session: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(SessionConfigError, match="Realtime field") as err:
        validate_live_session({"model": "gpt-live-1", **session})
    assert err.value.param == param
    assert says in err.value.message


@pytest.mark.parametrize(
    ("session", "param", "says"),
    [
        ({"delegation": RESPONSES}, "session.delegation", "session.tools"),
        ({"triggers": []}, "session.triggers", "no Decisions"),
        ({"input": []}, "session.input", "conversation.item.create"),
        ({"idle_timeout_s": 5}, "session.idle_timeout_s", "idle_timeout_ms"),
        ({"audio": {"format": {"type": "audio/pcm"}}}, "session.audio.format", "input.format"),
        ({"model": "gpt-live-1"}, "session.model", "Live protocol"),
    ],
)
def test_live_fields_name_the_realtime_way(session: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(SessionConfigError, match="GPT-Live") as err:
        validate_session(session)
    assert err.value.param == param
    assert says in err.value.message


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({}, "session.model"),
        ({"model": "gpt-realtime-2.1"}, "session.model"),
        (
            {"model": "gpt-live-1", "audio": {"output": {"voice": "nova"}}},
            "session.audio.output.voice",
        ),
        (
            {"model": "gpt-live-1", "audio": {"format": {"type": "audio/pcm", "rate": 44100}}},
            "session.audio.format.rate",
        ),
        (
            {"model": "gpt-live-1", "delegation": {"type": "responses", "responses": {}}},
            "session.delegation.responses.model",
        ),
        (
            {
                "model": "gpt-live-1",
                "delegation": {
                    "type": "responses",
                    "responses": {"model": "m", "tools": [{"type": "function", "nam": "f"}]},
                },
            },
            "session.delegation.responses.tools[0].name",
        ),
        (
            {"model": "gpt-live-1", "delegation": {"type": "client", "speed": 1}},
            "session.delegation.speed",
        ),
        ({"model": "gpt-live-1", "instructions": 7}, "session.instructions"),
        (
            {"model": "gpt-live-1", "input": [{"role": "system", "content": [{"text": "x"}]}]},
            "session.input[0].role",
        ),
        (
            {"model": "gpt-live-1", "input": [{"role": "user", "content": []}]},
            "session.input[0].content",
        ),
        (
            {"model": "gpt-live-1", "input": [{"role": "user", "content": [{"text": "x"}]}] * 129},
            "session.input",
        ),
        ({"model": "gpt-live-1", "triggers": FULL["triggers"] * 2}, "session.triggers"),
        ({"session": {}}, "session.session"),
    ],
)
def test_bad_live_configs_name_the_field(session: dict[str, Any], param: str) -> None:
    with pytest.raises(SessionConfigError) as err:
        validate_live_session(session)
    assert err.value.param == param


def test_custom_and_built_in_voices() -> None:
    assert len(live_voices()) == 23
    for voice in ("shida", "willow", {"id": "voice_1"}):
        validate_live_session({"model": "gpt-live-1", "audio": {"output": {"voice": voice}}})


def test_updates_change_only_delegation_and_triggers() -> None:
    assert validate_live_update({"triggers": []}) == {"triggers": []}
    update = {"delegation": {"type": "responses", "responses": {"tool_choice": "none"}}}
    assert validate_live_update(update) == update
    for field, says in [
        ("instructions", "cannot change"),
        ("type", "no type"),
        ("voice", "Realtime field"),
    ]:
        with pytest.raises(SessionConfigError, match=says) as err:
            validate_live_update({field: "x"})
        assert err.value.param == f"session.{field}"


def test_an_update_merges_into_the_delegation_of_the_same_type() -> None:
    current = validate_live_session(FULL)
    merged = apply_live_update(
        current, {"delegation": {"type": "responses", "responses": {"tool_choice": "none"}}}
    )
    assert merged["delegation"]["responses"]["tool_choice"] == "none"
    assert merged["delegation"]["responses"]["tools"] == RESPONSES["responses"]["tools"]
    assert apply_live_update(current, {"triggers": []})["triggers"] == []
    with pytest.raises(SessionConfigError, match="cannot change from 'responses'"):
        apply_live_update(current, {"delegation": {"type": "client"}})
    with pytest.raises(SessionConfigError, match="from 'client'"):
        apply_live_update({"model": "gpt-live-1"}, {"delegation": RESPONSES})


def test_prepare_layers_defaults_request_and_overrides() -> None:
    session = prepare_live_session(
        {"instructions": "Mine."},
        transport="webrtc",
        defaults={"audio": {"output": {"voice": "cedar"}}},
        overrides={"instructions": "Forced."},
    )
    assert session == {
        "model": "gpt-live-1",
        "instructions": "Forced.",
        "audio": {"output": {"voice": "cedar"}},
    }
    with pytest.raises(SessionConfigError, match="not allowed"):
        prepare_live_session(
            {"model": "gpt-live-1.1"}, transport="webrtc", allowed_models=["gpt-live-1"]
        )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "model",
        "audio",
        "delegation",
        "input",
        "triggers",
        "instructions",
        "client",
        "store",
        "idle_timeout_s",
        "wake_policy",
        "voice",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=4), st.sampled_from(["websocket", "webrtc", None]))
def test_any_json_is_accepted_or_refused_with_a_named_field(
    session: dict[str, Any], transport: Any
) -> None:
    for check in (
        lambda: validate_live_session({"model": "gpt-live-1", **session}, transport=transport),
        lambda: validate_live_update(session),
    ):
        param = "session"
        try:
            check()
        except SessionConfigError as err:
            param = err.param or ""
        assert param.startswith("session")


def test_the_live_model_table_matches_openai_python() -> None:
    from openai.types.live import SessionConfig

    from rt_notebook.wire.models import DEFAULT_LIVE_MODEL, LIVE_MODELS, is_known_live

    assert "Literal['gpt-live-1', 'gpt-live-1.1']" in str(SessionConfig.model_fields["model"])
    assert set(LIVE_MODELS) == {"gpt-live-1", "gpt-live-1.1"}
    assert DEFAULT_LIVE_MODEL in LIVE_MODELS
    assert all(protocol_for_model(m) == "live" for m in LIVE_MODELS)
    assert is_known_live("gpt-live-1.1")
    assert not is_known_live("gpt-live-9")
