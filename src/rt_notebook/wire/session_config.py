"""Validate and compose GA realtime session configs (the flat ``type: "realtime"`` object).

One module serves the server extension, the kernel relay and the Python API, so a session is
judged the same way wherever it is built. Beta-era fields are refused with the GA path to use
instead; unknown fields are refused; enums and ranges are checked.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import RealtimeError
from .models import DEFAULT_MODEL, DEFAULT_TRANSCRIPTION_MODEL, Deprecation, deprecation
from .protocols import protocol_for_model

__all__ = [
    "VOICES",
    "SessionConfigError",
    "apply_update",
    "check_models",
    "compose_session",
    "deep_merge",
    "display_path",
    "merge_layers",
    "prepare_session",
    "validate_session",
]

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
"""The built-in voices; a custom voice is given as ``{"id": "voice_…"}``."""

# Beta-era (or wrongly placed) top-level fields, and the GA path that replaces them.
_BETA_FIELDS: dict[str, str] = {
    "voice": "audio.output.voice",
    "modalities": "output_modalities",
    "input_audio_transcription": "audio.input.transcription",
    "turn_detection": "audio.input.turn_detection",
    "input_audio_format": "audio.input.format",
    "output_audio_format": "audio.output.format",
    "input_audio_noise_reduction": "audio.input.noise_reduction",
    "speed": "audio.output.speed",
    "max_response_output_tokens": "max_output_tokens",
    "transcription": "audio.input.transcription",
    "noise_reduction": "audio.input.noise_reduction",
    "format": "audio.input.format / audio.output.format",
}
_GA_EXAMPLES: dict[str, str] = {
    "audio.output.voice": '{"audio": {"output": {"voice": "marin"}}}',
    "output_modalities": '{"output_modalities": ["audio"]}',
    "audio.input.transcription": '{"audio": {"input": {"transcription": '
    f'{{"model": "{DEFAULT_TRANSCRIPTION_MODEL}"}}}}}}',
    "audio.input.turn_detection": '{"audio": {"input": {"turn_detection": '
    '{"type": "server_vad"}}}}',
    "audio.input.format": '{"audio": {"input": {"format": {"type": "audio/pcm"}}}}',
    "audio.output.format": '{"audio": {"output": {"format": {"type": "audio/pcm"}}}}',
    "audio.input.noise_reduction": '{"audio": {"input": {"noise_reduction": '
    '{"type": "near_field"}}}}',
    "audio.output.speed": '{"audio": {"output": {"speed": 1.0}}}',
    "max_output_tokens": '{"max_output_tokens": 4096}',
}
_REMOVED_FIELDS: dict[str, str] = {
    "temperature": "GA realtime sessions have no temperature; remove it",
    "client_secret": "client_secret belongs to the beta /realtime/sessions API; remove it",
    "object": "object is set by the server; remove it",
    "id": "id is set by the server; remove it",
    "expires_at": "expires_at is set by the server; remove it",
}
# GPT-Live fields, and what a Realtime session does instead.
_LIVE_FIELDS: dict[str, str] = {
    "delegation": "Realtime sessions run tools themselves: use session.tools and "
    "session.tool_choice",
    "triggers": "Realtime sessions have no Decisions triggers; remove it",
    "input": "Realtime sessions start empty: add history with conversation.item.create",
    "store": "Realtime sessions are not stored for forking; remove it",
    "safety_identifier": "Realtime sessions take no safety_identifier; remove it",
    "client": "Realtime data channels are not filtered; remove it (the server extension's "
    "policy keeps what it forces)",
    "idle_timeout_s": "use session.audio.input.turn_detection.idle_timeout_ms",
    "wake_policy": "Realtime sessions do not pause; remove it",
}
_BETA_FORMATS = {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}


class SessionConfigError(ValueError):
    """A session config the Realtime API would refuse, with the field and the fix."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        """What is wrong and how to fix it, ready to show a user."""
        self.param = param
        """The dotted path of the offending field, e.g. ``session.audio.output.voice``."""

    def as_http(self, code: str = "invalid_session") -> RealtimeError:
        """The 400 answer for a request that carried this session."""
        return RealtimeError(400, code, self.message, param=self.param)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _AudioPCM(_Strict):
    type: Literal["audio/pcm"]
    rate: Literal[24000] = 24000


class _AudioPCMU(_Strict):
    type: Literal["audio/pcmu"]


class _AudioPCMA(_Strict):
    type: Literal["audio/pcma"]


_AudioFormat = Annotated[_AudioPCM | _AudioPCMU | _AudioPCMA, Field(discriminator="type")]


class _NoiseReduction(_Strict):
    type: Literal["near_field", "far_field"]
    strength: float | None = Field(default=None, ge=0.0, le=1.0)


class _Transcription(_Strict):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    languages: list[str] | None = None
    keywords: list[str] | None = None
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None


class _ServerVad(_Strict):
    type: Literal["server_vad"]
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(default=None, ge=0, le=10_000)
    silence_duration_ms: int | None = Field(default=None, ge=0, le=10_000)
    idle_timeout_ms: int | None = Field(default=None, ge=0)
    create_response: bool | None = None
    interrupt_response: bool | None = None


class _SemanticVad(_Strict):
    type: Literal["semantic_vad"]
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


_TurnDetection = Annotated[_ServerVad | _SemanticVad, Field(discriminator="type")]


class _AudioInput(_Strict):
    format: _AudioFormat | None = None
    noise_reduction: _NoiseReduction | None = None
    transcription: _Transcription | None = None
    turn_detection: _TurnDetection | None = None


class _VoiceId(_Strict):
    id: str = Field(min_length=1)


class _AudioOutput(_Strict):
    format: _AudioFormat | None = None
    voice: Literal[VOICES] | _VoiceId | None = None  # type: ignore[valid-type]
    speed: float | None = Field(default=None, ge=0.25, le=1.5)


class _Audio(_Strict):
    input: _AudioInput | None = None
    output: _AudioOutput | None = None


class _FunctionTool(_Strict):
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


class _McpTool(_Strict):
    type: Literal["mcp"]
    server_label: str = Field(min_length=1)
    server_url: str | None = None
    connector_id: str | None = None
    authorization: str | None = None
    headers: dict[str, str] | None = None
    allowed_tools: list[str] | dict[str, Any] | None = None
    require_approval: Literal["always", "never"] | dict[str, Any] | None = None
    server_description: str | None = None


_Tool = Annotated[_FunctionTool | _McpTool, Field(discriminator="type")]


class _ToolChoiceFunction(_Strict):
    type: Literal["function"]
    name: str


class _ToolChoiceMcp(_Strict):
    type: Literal["mcp"]
    server_label: str
    name: str | None = None


_ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[_ToolChoiceFunction | _ToolChoiceMcp, Field(discriminator="type")]
)


class _TracingConfig(_Strict):
    workflow_name: str | None = None
    group_id: str | None = None
    metadata: dict[str, Any] | None = None


class _TokenLimits(_Strict):
    post_instructions: int | None = Field(default=None, ge=0)


class _RetentionRatio(_Strict):
    type: Literal["retention_ratio"]
    retention_ratio: float = Field(ge=0.0, le=1.0)
    token_limits: _TokenLimits | None = None


class _Prompt(_Strict):
    id: str
    version: str | None = None
    variables: dict[str, Any] | None = None


class _Reasoning(_Strict):
    effort: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None


class RealtimeSessionConfig(_Strict):
    """The GA ``RealtimeSessionCreateRequest``, strict: no unknown fields."""

    type: Literal["realtime"]
    model: str | None = Field(default=None, min_length=1)
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] | None = Field(
        default=None, min_length=1, max_length=1
    )
    audio: _Audio | None = None
    tools: list[_Tool] | None = None
    tool_choice: _ToolChoice | None = None
    max_output_tokens: Annotated[int, Field(ge=1, le=4096)] | Literal["inf"] | None = None
    tracing: Literal["auto"] | _TracingConfig | None = None
    truncation: Literal["auto", "disabled"] | _RetentionRatio | None = None
    prompt: _Prompt | None = None
    include: list[Literal["item.input_audio_transcription.logprobs"]] | None = None
    parallel_tool_calls: bool | None = None
    reasoning: _Reasoning | None = None


_TOP_FIELDS = frozenset(RealtimeSessionConfig.model_fields)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``top`` over ``base``; nested dicts merge key by key, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merge_layers(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge config layers, lowest precedence first (defaults, request, overrides)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            merged = deep_merge(merged, layer)
    return merged


def validate_session(session: object, *, prefix: str = "session") -> dict[str, Any]:
    """Check a GA realtime session object and return it as plain JSON-ready data.

    A missing ``type`` is filled in as ``"realtime"``. Raises :class:`SessionConfigError`
    naming the field and the fix for a wrapper, a beta-era field, an unknown field, or a value
    out of its enum or range.
    """
    if not isinstance(session, Mapping):
        raise SessionConfigError(
            f"{prefix} must be a JSON object (the flat GA session config), "
            f"not {type(session).__name__}",
            prefix,
        )
    if "session" in session:
        raise SessionConfigError(
            f'{prefix} is wrapped in {{"session": {{...}}}}: send the session object itself '
            '(flat, with "type": "realtime" at the top level)',
            f"{prefix}.session",
        )
    _check_beta_fields(session, prefix)
    data = {"type": "realtime", **session}
    if data["type"] != "realtime":
        raise SessionConfigError(
            f'{prefix}.type must be "realtime" (got {data["type"]!r}); transcription-only '
            "sessions are not supported here",
            f"{prefix}.type",
        )
    try:
        model = RealtimeSessionConfig.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, data, prefix) from None
    return model.model_dump(mode="json", exclude_unset=True)


def _check_beta_fields(session: Mapping[str, Any], prefix: str) -> None:
    for key in session:
        if key in _BETA_FIELDS:
            ga = _BETA_FIELDS[key]
            example = _GA_EXAMPLES.get(ga)
            hint = f", e.g. {example}" if example else ""
            raise SessionConfigError(
                f"{prefix}.{key} is not a GA session field: use {prefix}.{ga} instead{hint}",
                f"{prefix}.{key}",
            )
        if key in _REMOVED_FIELDS:
            raise SessionConfigError(f"{prefix}.{key}: {_REMOVED_FIELDS[key]}", f"{prefix}.{key}")
        if key in _LIVE_FIELDS:
            raise SessionConfigError(
                f"{prefix}.{key} is a GPT-Live field, not a Realtime one: {_LIVE_FIELDS[key]}",
                f"{prefix}.{key}",
            )
    model = session.get("model")
    if isinstance(model, str) and protocol_for_model(model) == "live":
        raise SessionConfigError(
            f"{prefix}.model {model!r} is a GPT-Live model: it speaks the Live protocol "
            "(/v1/live/sessions), not Realtime; use a Realtime model such as gpt-realtime-2.1 "
            "here, or start a Live session",
            f"{prefix}.model",
        )
    audio = session.get("audio")
    if not isinstance(audio, Mapping):
        return
    if "format" in audio:
        raise SessionConfigError(
            f"{prefix}.audio.format is a GPT-Live field: Realtime sets "
            f"{prefix}.audio.input.format and {prefix}.audio.output.format",
            f"{prefix}.audio.format",
        )
    for side in ("input", "output"):
        part = audio.get(side)
        fmt = part.get("format") if isinstance(part, Mapping) else None
        if isinstance(fmt, str):
            ga_type = _BETA_FORMATS.get(fmt, "audio/pcm")
            rate = ', "rate": 24000' if ga_type == "audio/pcm" else ""
            raise SessionConfigError(
                f"{prefix}.audio.{side}.format must be an object: use "
                f'{{"type": "{ga_type}"{rate}}} instead of {fmt!r}',
                f"{prefix}.audio.{side}.format",
            )


def _explain(exc: ValidationError, data: Mapping[str, Any], prefix: str) -> SessionConfigError:
    """Turn pydantic's first error into one sentence a user can act on."""
    # The most specific error wins: for a union, the branch that got furthest into the value.
    errors = [(e, display_path(e["loc"], data)) for e in exc.errors(include_url=False)]
    err, path = max(errors, key=lambda pair: pair[1].count(".") + pair[1].count("["))
    param = f"{prefix}.{path}" if path else prefix
    kind = err["type"]
    if kind == "extra_forbidden":
        field = str(err["loc"][-1])
        where = "session" if "." not in path else f"{prefix}.{path.rsplit('.', 1)[0]}"
        if "." not in path and field not in _TOP_FIELDS:
            known = ", ".join(sorted(_TOP_FIELDS))
            return SessionConfigError(
                f"{param} is not a GA session field; the fields are: {known}", param
            )
        return SessionConfigError(f"{param} is not a field of {where}; remove it", param)
    if path.endswith("voice") or ".voice." in path:
        voices = ", ".join(VOICES)
        return SessionConfigError(
            f'{prefix}.audio.output.voice must be one of {voices}, or {{"id": "voice_…"}} '
            f"for a custom voice (got {_voice(data)!r})",
            f"{prefix}.audio.output.voice",
        )
    if path.endswith("format.rate"):
        return SessionConfigError(f"{param} must be 24000 (PCM16 at 24 kHz)", param)
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        expected = err.get("ctx", {}).get("expected_tags", "")
        return SessionConfigError(f"{param}.type must be one of {expected}", f"{param}.type")
    return SessionConfigError(f"{param}: {err['msg']}", param)


def display_path(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """Dotted path of a pydantic error location, without union branch labels."""
    parts: list[str] = []
    node: Any = data
    for i, step in enumerate(loc):
        if isinstance(node, Mapping) and step in node:
            parts.append(str(step))
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            parts.append(f"[{step}]")
            node = node[step]
        elif i == len(loc) - 1 and isinstance(node, Mapping) and not _is_label(step):
            parts.append(str(step))  # a missing required field
        # anything else is a union branch label such as 'function' or "literal['auto']"
    return ".".join(parts).replace(".[", "[")


def _is_label(step: int | str) -> bool:
    """Pydantic's names for union branches: ``literal['auto']``, ``_ToolChoiceFunction``."""
    return isinstance(step, int) or "[" in step or step.startswith("_")


def _voice(data: Mapping[str, Any]) -> object:
    audio = data.get("audio")
    output = audio.get("output") if isinstance(audio, Mapping) else None
    return output.get("voice") if isinstance(output, Mapping) else None


def prepare_session(
    requested: object,
    *,
    defaults: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    allowed_models: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """The session actually sent upstream: defaults < requested < overrides, validated.

    The model is always explicit: a session without one gets the first of ``allowed_models``
    (when set; the model must then be one of them), else :data:`~rt_notebook.models.DEFAULT_MODEL`.
    A model past its shutdown date is refused here, before any upstream call.
    """
    asked = validate_session({} if requested is None else requested)
    session = validate_session(merge_layers(defaults, asked, overrides))
    model = session.setdefault("model", allowed_models[0] if allowed_models else DEFAULT_MODEL)
    if allowed_models and model not in allowed_models:
        raise SessionConfigError(
            f"session.model {model!r} is not allowed on this server; "
            f"use one of: {', '.join(allowed_models)}",
            "session.model",
        )
    check_models(session)
    return session


def check_models(session: Mapping[str, Any], *, today: date | None = None) -> list[Deprecation]:
    """The deprecations of the models a session names (realtime and transcription).

    Raises :class:`SessionConfigError` for a model past its shutdown date, naming the
    replacement. ``today`` defaults to today in UTC.
    """
    found = [
        notice
        for notice in (
            deprecation(session.get("model"), "realtime"),
            deprecation(transcription_model(session), "transcription"),
        )
        if notice is not None
    ]
    for notice in found:
        if notice.is_shut_down(today):
            raise SessionConfigError(notice.message(today), notice.param)
    return found


def transcription_model(session: Mapping[str, Any]) -> str | None:
    """``audio.input.transcription.model`` of a session, if it names one."""
    audio = session.get("audio")
    audio_in = audio.get("input") if isinstance(audio, Mapping) else None
    config = audio_in.get("transcription") if isinstance(audio_in, Mapping) else None
    model = config.get("model") if isinstance(config, Mapping) else None
    return model if isinstance(model, str) else None


def apply_update(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``session.update`` semantics: present fields replace, except that ``audio.input`` and
    ``audio.output`` merge field by field (so changing the voice keeps the input settings)."""
    merged = copy.deepcopy(dict(current))
    for key, value in update.items():
        if key == "audio" and isinstance(value, Mapping):
            audio = merged.setdefault("audio", {})
            for side, fields in value.items():
                if isinstance(fields, Mapping) and isinstance(audio.get(side), dict):
                    audio[side].update(copy.deepcopy(dict(fields)))
                else:
                    audio[side] = copy.deepcopy(fields)
        elif key != "type":
            merged[key] = copy.deepcopy(value)
    return merged


_UNSET: Any = object()


def compose_session(
    *,
    model: str | None = None,
    voice: str | Mapping[str, Any] | None = None,
    instructions: str | None = None,
    transcription: str | Mapping[str, Any] | None = _UNSET,
    turn_detection: str | Mapping[str, Any] | None = _UNSET,
    session: Mapping[str, Any] | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """A GA session from convenience keywords, with ``session`` (any GA fields) on top.

    ``transcription`` is a model name, a full config, or ``None`` to switch it off;
    ``turn_detection`` is ``"server_vad"``, ``"semantic_vad"``, a full config, or ``None`` for
    manual turns (push-to-talk). With ``partial``, the result is a ``session.update`` body
    holding only what was given.
    """
    composed: dict[str, Any] = {} if partial else {"type": "realtime"}
    if model is not None:
        composed["model"] = model
    if instructions is not None:
        composed["instructions"] = instructions
    audio_in: dict[str, Any] = {}
    if transcription is not _UNSET:
        audio_in["transcription"] = (
            {"model": transcription} if isinstance(transcription, str) else transcription
        )
    if turn_detection is not _UNSET:
        audio_in["turn_detection"] = (
            {"type": turn_detection} if isinstance(turn_detection, str) else turn_detection
        )
    if audio_in:
        composed["audio"] = {"input": audio_in}
    if voice is not None:
        composed.setdefault("audio", {})["output"] = {"voice": voice}
    if session:
        if "session" in session:
            validate_session(session)  # raises the "send the session object itself" error
        composed = (
            apply_update(composed, dict(session)) if partial else merge_layers(composed, session)
        )
    checked = validate_session(composed)
    if partial and "type" not in composed:
        checked.pop("type")
    return checked
