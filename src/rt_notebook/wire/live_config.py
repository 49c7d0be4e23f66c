"""Validate GPT-Live session configs: ``session.start``, the JSON exchange, ``session.update``.

The shapes are openai-python's ``openai.types.live`` models, checked in strict mode with no
unknown field at any depth (hosted backend tools excepted: the 3.57.0 models leave out their
options). On top: the 23 built-in voices, what each transport accepts, the limits of ``input``
and ``triggers``. Realtime-only fields are refused with the Live way to say it
(``wire/session_config.py`` does the reverse). Errors are :class:`SessionConfigError`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ValidationError

from .models import DEFAULT_LIVE_MODEL, LIVE_MODELS
from .protocols import protocol_for_model
from .session_config import SessionConfigError, display_path, merge_layers

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = [
    "MAX_INPUT_ITEMS",
    "LiveTransport",
    "apply_live_update",
    "compose_live_session",
    "hosted_tool_option",
    "live_voices",
    "prepare_live_session",
    "unknown_fields",
    "validate_live_session",
    "validate_live_update",
]

LiveTransport = Literal["websocket", "webrtc"]
"""A primary WebSocket (``session.start``) or a WebRTC call (``POST /live/sessions``)."""

MAX_INPUT_ITEMS = 128
"""The most startup ``input`` messages Live takes."""

# Realtime (or beta) fields, and how Live says it.
_TOOLS_LIVE = (
    'Live runs tools on a Responses backend: {"delegation": {"type": "responses", '
    '"responses": {"model": "gpt-5.6-terra", "tools": [...]}}}'
)
_REALTIME_ONLY: dict[str, str] = {
    "type": 'Live sessions have no type (that is Realtime\'s "type": "realtime"); remove it',
    "voice": 'use session.audio.output.voice, e.g. {"audio": {"output": {"voice": "marin"}}}',
    "output_modalities": "Live always answers in speech with a transcript; remove it",
    "modalities": "Live always answers in speech with a transcript; remove it",
    "tools": _TOOLS_LIVE,
    "tool_choice": "use session.delegation.responses.tool_choice (tools run on the backend)",
    "parallel_tool_calls": "use session.delegation.responses.parallel_tool_calls",
    "max_output_tokens": "use session.delegation.responses.max_output_tokens (the backend's)",
    "max_response_output_tokens": "use session.delegation.responses.max_output_tokens",
    "reasoning": "use session.delegation.responses.reasoning (the backend reasons)",
    "turn_detection": "the Live model owns turns and barge-in; remove it",
    "input_audio_transcription": "Live always transcribes (session.input_transcript.delta)",
    "transcription": "Live always transcribes (session.input_transcript.delta)",
    "input_audio_format": 'use session.audio.format (WebSocket only), e.g. {"type": '
    '"audio/pcm", "rate": 24000}',
    "output_audio_format": "use session.audio.format (WebSocket only, both directions)",
    "truncation": "Live manages its context itself; remove it",
    "tracing": "Live sessions have no tracing; remove it",
    "prompt": "Live sessions take no stored prompt; use session.instructions",
    "include": "Live sessions have no include; remove it",
    "temperature": "Live sessions have no temperature; remove it",
    "id": "id is set by the server; remove it",
    "object": "object is set by the server; remove it",
    "expires_at": "expires_at is set by the server; remove it",
    "status": "status is set by the server; remove it",
}
_REALTIME_AUDIO: dict[str, str] = {
    "audio.input": "Live's input has no settings (the model owns turns and always "
    "transcribes); the WebSocket format is session.audio.format",
    "audio.output.format": "use session.audio.format (WebSocket only, one format both ways)",
    "audio.output.speed": "Live voices have no speed setting; remove it",
}
_WEBRTC_ONLY = ("idle_timeout_s", "wake_policy")
_UPDATABLE = ("delegation", "triggers")


@functools.cache
def _adapter(kind: Literal["config", "update"]) -> TypeAdapter[Any]:
    from openai.types.live import SessionConfig, SessionUpdateConfig
    from pydantic import TypeAdapter

    return TypeAdapter(SessionConfig if kind == "config" else SessionUpdateConfig)


@functools.cache
def live_voices() -> tuple[str, ...]:
    """The built-in Live voices (23 in openai-python 3.57.0); custom ones are ``{"id": …}``."""
    from openai.types.live import BuiltInVoice

    return tuple(get_args(BuiltInVoice))


def unknown_fields(value: Any, path: str = "$") -> list[str]:
    """Dotted paths of every field a model took only because openai-python's models allow
    extras (they do, everywhere: strictness is the caller's)."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}" for key in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += unknown_fields(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found += unknown_fields(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += unknown_fields(item, f"{path}.{key}")
    return found


def validate_live_session(
    session: object,
    *,
    transport: LiveTransport | None = None,
    prefix: str = "session",
    require_model: bool = True,
) -> dict[str, Any]:
    """Check a Live startup config; return it as plain JSON-ready data.

    ``transport`` adds its rules (WebRTC negotiates the audio format; only WebRTC idles);
    ``None`` takes the fields of either. Without ``require_model`` a missing model is allowed
    (a layer a policy completes).
    """
    data = _object(session, prefix)
    _check_realtime_fields(data, prefix)
    for key in _WEBRTC_ONLY:
        if key in data and transport == "websocket":
            raise SessionConfigError(
                f"{prefix}.{key} is for WebRTC sessions only (it pauses a call's inference); "
                "remove it from a WebSocket session.start",
                f"{prefix}.{key}",
            )
    audio = data.get("audio")
    if transport == "webrtc" and isinstance(audio, Mapping) and "format" in audio:
        raise SessionConfigError(
            f"{prefix}.audio.format is for WebSocket sessions only: WebRTC negotiates its "
            "media format; remove it",
            f"{prefix}.audio.format",
        )
    _check_model(data, prefix, require_model)
    webrtc = {k: data[k] for k in _WEBRTC_ONLY if k in data}
    _check_webrtc_fields(webrtc, prefix)
    checked = {k: v for k, v in data.items() if k not in _WEBRTC_ONLY}
    if "model" not in checked:
        checked["model"] = DEFAULT_LIVE_MODEL  # a stand-in, so the rest can be checked
    _check_against_sdk("config", checked, data, prefix)
    _check_voice(data, prefix)
    _check_g711_rate(data, prefix)
    _check_input(data.get("input"), prefix)
    _check_triggers(data.get("triggers"), prefix)
    return copy.deepcopy(data)


def validate_live_update(update: object, *, prefix: str = "session") -> dict[str, Any]:
    """Check the ``session`` of a Live ``session.update`` (delegation and triggers only)."""
    data = _object(update, prefix)
    for key in data:
        if key in _UPDATABLE:
            continue
        if key in _REALTIME_ONLY and key != "type":
            _check_realtime_fields({key: data[key]}, prefix)
        hint = (
            "Live's session.update has no type; remove it"
            if key == "type"
            else f"{prefix}.{key} cannot change once a Live session has started"
        )
        raise SessionConfigError(
            f"{hint}: only delegation (keeping its type) and triggers can be updated",
            f"{prefix}.{key}",
        )
    _check_against_sdk("update", data, data, prefix)
    _check_triggers(data.get("triggers"), prefix)
    return copy.deepcopy(data)


def apply_live_update(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``session.update`` semantics: the delegation keeps its type and merges field by field
    (``responses``/``decisions`` too); ``triggers`` are replaced (``[]`` disables them).

    Raises :class:`SessionConfigError` when the update changes the delegation's type.
    """
    merged = copy.deepcopy(dict(current))
    if "triggers" in update:
        merged["triggers"] = copy.deepcopy(update["triggers"])
    change = update.get("delegation")
    if change is not None:
        now = merged.get("delegation") or {"type": "client"}
        if change.get("type") != now.get("type"):
            raise SessionConfigError(
                f"session.delegation.type cannot change from {now.get('type')!r} to "
                f"{change.get('type')!r} in a running Live session; start a new session",
                "session.delegation.type",
            )
        merged["delegation"] = merge_layers(now, change)
    return merged


def prepare_live_session(
    requested: object,
    *,
    transport: LiveTransport,
    defaults: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    allowed_models: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """The Live session actually started: defaults < requested < overrides, validated.

    Without a model, the first allowed one (else ``gpt-live-1``).
    """
    asked = validate_live_session(
        {} if requested is None else requested, transport=transport, require_model=False
    )
    merged = merge_layers(defaults, asked, overrides)
    merged.setdefault("model", allowed_models[0] if allowed_models else DEFAULT_LIVE_MODEL)
    if allowed_models and merged["model"] not in allowed_models:
        raise SessionConfigError(
            f"session.model {merged['model']!r} is not allowed on this server; "
            f"use one of: {', '.join(allowed_models)}",
            "session.model",
        )
    return validate_live_session(merged, transport=transport)


# ---- the checks --------------------------------------------------------------------------------


def _object(value: object, prefix: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SessionConfigError(
            f"{prefix} must be a JSON object (a Live session config), not {type(value).__name__}",
            prefix,
        )
    if "session" in value:
        raise SessionConfigError(
            f'{prefix} is wrapped in {{"session": {{...}}}}: send the session object itself',
            f"{prefix}.session",
        )
    return dict(value)


def _check_realtime_fields(data: Mapping[str, Any], prefix: str) -> None:
    for key in data:
        if key in _REALTIME_ONLY:
            raise SessionConfigError(
                f"{prefix}.{key} is a Realtime field, not a Live one: {_REALTIME_ONLY[key]}",
                f"{prefix}.{key}",
            )
    audio = data.get("audio")
    if not isinstance(audio, Mapping):
        return
    output = audio.get("output")
    found = ["audio.input"] if "input" in audio else []
    if isinstance(output, Mapping):
        found += [f"audio.output.{k}" for k in ("format", "speed") if k in output]
    if found:
        raise SessionConfigError(
            f"{prefix}.{found[0]} is a Realtime field, not a Live one: {_REALTIME_AUDIO[found[0]]}",
            f"{prefix}.{found[0]}",
        )


def _check_model(data: Mapping[str, Any], prefix: str, required: bool) -> None:
    model = data.get("model")
    if model is None:
        if required:
            raise SessionConfigError(
                f"{prefix}.model is required for a Live session, e.g. "
                f'{{"model": "{DEFAULT_LIVE_MODEL}"}} (never in the URL)',
                f"{prefix}.model",
            )
        return
    if not isinstance(model, str) or not model:
        raise SessionConfigError(f"{prefix}.model must be a model name", f"{prefix}.model")
    if protocol_for_model(model) != "live":
        raise SessionConfigError(
            f"{prefix}.model {model!r} is not a GPT-Live model: Live sessions use "
            f"{' or '.join(LIVE_MODELS)}; a Realtime model needs a Realtime session",
            f"{prefix}.model",
        )


def _check_webrtc_fields(fields: Mapping[str, Any], prefix: str) -> None:
    timeout = fields.get("idle_timeout_s")
    if "idle_timeout_s" in fields and (
        isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0
    ):
        raise SessionConfigError(
            f"{prefix}.idle_timeout_s must be a positive whole number of seconds",
            f"{prefix}.idle_timeout_s",
        )
    if "wake_policy" not in fields:
        return
    policy = fields["wake_policy"]
    threshold = policy.get("vad_threshold", 0.5) if isinstance(policy, Mapping) else None
    if (
        not isinstance(policy, Mapping)
        or policy.get("type") != "speech"
        or set(policy) - {"type", "vad_threshold"}
        or isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0 <= threshold <= 1
    ):
        raise SessionConfigError(
            f'{prefix}.wake_policy must be {{"type": "speech", "vad_threshold": 0…1}} '
            "(the threshold is optional)",
            f"{prefix}.wake_policy",
        )


def _check_against_sdk(
    kind: Literal["config", "update"], checked: dict[str, Any], data: Mapping[str, Any], prefix: str
) -> None:
    try:
        model = _adapter(kind).validate_python(checked, strict=True)
    except ValidationError as exc:
        raise _explain(exc, data, prefix) from None
    for path in unknown_fields(model):
        where = path.removeprefix("$.")
        if hosted_tool_option(where, checked):
            continue
        raise SessionConfigError(
            f"{prefix}.{where} is not a field of a Live session; remove it", f"{prefix}.{where}"
        )


def hosted_tool_option(path: str, data: Mapping[str, Any]) -> bool:
    """``path`` (dotted, in the session ``data``) is an option of a hosted backend tool
    (``file_search.vector_store_ids``, …): those pass, as the 3.57.0 models declare only
    their type."""
    head = "delegation.responses.tools["
    if not path.startswith(head):
        return False
    index = int(path[len(head) :].split("]", 1)[0])
    tools = data["delegation"]["responses"]["tools"]
    return bool(tools[index].get("type") != "function")


def _explain(exc: ValidationError, data: Mapping[str, Any], prefix: str) -> SessionConfigError:
    """pydantic's most telling error as one sentence: the deepest, preferring a branch whose
    ``type`` matched over a branch refused for its ``type``."""

    def rank(error: Any) -> tuple[int, int]:
        path = display_path(error["loc"], data)
        wrong_branch = error["type"] == "literal_error" and error["loc"][-1] in ("type", "role")
        return (path.count(".") + path.count("["), 0 if wrong_branch else 1)

    err = max(exc.errors(include_url=False), key=rank)
    path = display_path(err["loc"], data)
    param = f"{prefix}.{path}" if path else prefix
    if err["type"] == "missing":
        return SessionConfigError(f"{param} is required", param)
    return SessionConfigError(f"{param}: {err['msg']}", param)


def _check_voice(data: Mapping[str, Any], prefix: str) -> None:
    audio = data.get("audio") or {}
    voice = (audio.get("output") or {}).get("voice")
    if voice is None or isinstance(voice, Mapping) or voice in live_voices():
        return
    raise SessionConfigError(
        f"{prefix}.audio.output.voice must be one of {', '.join(live_voices())}, or "
        f'{{"id": "voice_…"}} for a custom voice (got {voice!r})',
        f"{prefix}.audio.output.voice",
    )


def _check_g711_rate(data: Mapping[str, Any], prefix: str) -> None:
    fmt = (data.get("audio") or {}).get("format") or {}
    if fmt.get("type") in ("audio/pcmu", "audio/pcma") and fmt.get("rate") != 8000:
        raise SessionConfigError(
            f"{prefix}.audio.format.rate must be 8000 for G.711 ({fmt['type']})",
            f"{prefix}.audio.format.rate",
        )


def _check_input(items: object, prefix: str) -> None:
    if not isinstance(items, list):
        return
    if len(items) > MAX_INPUT_ITEMS:
        raise SessionConfigError(
            f"{prefix}.input holds at most {MAX_INPUT_ITEMS} messages (got {len(items)})",
            f"{prefix}.input",
        )
    for i, item in enumerate(items):
        if len(item.get("content") or []) != 1:
            raise SessionConfigError(
                f"{prefix}.input[{i}].content must hold exactly one text part",
                f"{prefix}.input[{i}].content",
            )


def _check_triggers(triggers: object, prefix: str) -> None:
    if not isinstance(triggers, list):
        return
    kinds = [t.get("event_type") for t in triggers]
    for kind in set(kinds):
        if kinds.count(kind) > 1:
            raise SessionConfigError(
                f"{prefix}.triggers holds at most one trigger per event_type ({kind} twice)",
                f"{prefix}.triggers",
            )


def compose_live_session(
    *,
    model: str | None = None,
    voice: str | Mapping[str, Any] | None = None,
    instructions: str | None = None,
    session: Mapping[str, Any] | None = None,
    transport: LiveTransport | None = None,
) -> dict[str, Any]:
    """A Live startup config from convenience keywords, with ``session`` (any Live fields) on
    top; the model defaults to ``gpt-live-1``."""
    composed: dict[str, Any] = {"model": model or LIVE_MODELS[0]}
    if instructions is not None:
        composed["instructions"] = instructions
    if voice is not None:
        composed["audio"] = {"output": {"voice": voice}}
    if session:
        composed = merge_layers(composed, _object(session, "session"))
    return validate_live_session(composed, transport=transport)


_NEVER_ON_THE_CHANNEL = (
    "session.start",
    "session.input_audio.append",
    "session.output_audio.fixture.play",
)
# what a forced field can be changed or outweighed by, from the browser's data channel
_CHANGED_BY = {
    "delegation": "session.update",
    "triggers": "session.update",
    "instructions": "session.instructions.append",
}


@functools.cache
def data_channel_client_events() -> tuple[str, ...]:
    """The client events a browser may send on a Live call's data channel (openai-python's
    ``ClientEvent`` union, less those of the primary WebSocket and the sideband)."""
    from openai.types.live import ClientEvent

    kinds = [
        get_args(m.model_fields["type"].annotation)[0] for m in get_args(get_args(ClientEvent)[0])
    ]
    return tuple(k for k in kinds if k not in _NEVER_ON_THE_CHANNEL)


def lock_overrides(session: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``session`` with its data channel kept from undoing ``overrides``: Live fixes most
    fields at the start, and the client events that could change or outweigh a forced one
    (``session.update`` for delegation and triggers, ``session.instructions.append`` for
    instructions) leave ``client.data_channel.allowed_client_events``."""
    barred = {_CHANGED_BY[key] for key in overrides if key in _CHANGED_BY}
    if not barred:
        return dict(session)
    channel = dict((session.get("client") or {}).get("data_channel") or {})
    asked = channel.get("allowed_client_events", "all")
    allowed = data_channel_client_events() if asked == "all" else asked
    channel["allowed_client_events"] = [k for k in allowed if k not in barred]
    return {**session, "client": {**(session.get("client") or {}), "data_channel": channel}}
