"""openai-python's models for the server events the kit itself acts on.

Imported on first use (``RealtimeEvent.typed``; sessions preload it on a background thread):
importing openai-python takes a good part of a second, which ``import rt_notebook`` must not.

The kit reads the fields of these events (tool calls, usage, transcripts, errors, the session)
through the models, so a field's name and type are openai-python's, checked by mypy. Every
other event, and one of these that does not fit its model, stays a plain dict: nothing here
raises on unexpected input.
"""

from __future__ import annotations

from typing import Any, Union

from openai.types.realtime.conversation_item_input_audio_transcription_completed_event import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
)
from openai.types.realtime.realtime_error_event import RealtimeErrorEvent
from openai.types.realtime.response_done_event import ResponseDoneEvent
from openai.types.realtime.response_function_call_arguments_done_event import (
    ResponseFunctionCallArgumentsDoneEvent,
)
from openai.types.realtime.session_created_event import SessionCreatedEvent
from openai.types.realtime.session_updated_event import SessionUpdatedEvent
from pydantic import ValidationError

__all__ = [
    "ConversationItemInputAudioTranscriptionCompletedEvent",
    "RealtimeErrorEvent",
    "ResponseDoneEvent",
    "ResponseFunctionCallArgumentsDoneEvent",
    "SessionCreatedEvent",
    "SessionUpdatedEvent",
    "TypedEvent",
    "parse",
]

TypedEvent = Union[  # noqa: UP007 (a runtime alias: Python 3.10 has no | between classes here)
    SessionCreatedEvent,
    SessionUpdatedEvent,
    ResponseDoneEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ConversationItemInputAudioTranscriptionCompletedEvent,
    RealtimeErrorEvent,
]
"""The server events the kit acts on."""

MODELS: dict[str, type[TypedEvent]] = {
    "session.created": SessionCreatedEvent,
    "session.updated": SessionUpdatedEvent,
    "response.done": ResponseDoneEvent,
    "response.function_call_arguments.done": ResponseFunctionCallArgumentsDoneEvent,
    "conversation.item.input_audio_transcription.completed": (
        ConversationItemInputAudioTranscriptionCompletedEvent
    ),
    "error": RealtimeErrorEvent,
}
"""Wire type → model, for the events in :data:`TypedEvent`."""


def parse(raw: dict[str, Any]) -> TypedEvent | None:
    """The event as its model, or ``None``: not one the kit acts on, or it does not fit."""
    kind = raw.get("type")
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return None
    try:
        return model.model_validate(raw)
    except (ValidationError, ValueError, TypeError, RecursionError):
        return None
