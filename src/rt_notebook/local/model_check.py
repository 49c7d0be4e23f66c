"""The local backend accepts the models OpenAI accepts and refuses the rest as OpenAI does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..wire.models import TRANSCRIPTION_MODELS, is_known, is_known_live
from ..wire.session_config import SessionConfigError, check_models, transcription_model

__all__ = ["live_model_refusal", "model_refusal"]


def model_refusal(session: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(code, message, param)`` when OpenAI would refuse the session's models, else None.

    Refused: a realtime or transcription model OpenAI does not list, and one past its
    shutdown date.
    """
    model = session.get("model")
    if isinstance(model, str) and not is_known(model, "realtime"):
        return (
            "model_not_found",
            f"The model `{model}` does not exist or you do not have access to it.",
            "session.model",
        )
    transcriber = transcription_model(session)
    if transcriber is not None and not is_known(transcriber, "transcription"):
        supported = ", ".join(f"'{name}'" for name in TRANSCRIPTION_MODELS)
        return (
            "invalid_value",
            f"Invalid value: '{transcriber}'. Supported values are: {supported}.",
            "session.audio.input.transcription.model",
        )
    try:
        check_models(session)
    except SessionConfigError as exc:
        return ("model_not_found", exc.message, exc.param or "session.model")
    return None


def live_model_refusal(session: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(code, message, param)`` when OpenAI would refuse a Live session's model, else None."""
    model = session.get("model")
    if isinstance(model, str) and not is_known_live(model):
        return (
            "model_not_found",
            f"The model `{model}` does not exist or you do not have access to it.",
            "session.model",
        )
    return None
