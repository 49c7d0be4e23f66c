"""The Realtime client events: an explicit table of event type → handler.

A handler checks the event's fields and hands the work to a room of the engine; anything it
refuses raises :class:`ClientError`. Another protocol gives the engine its own table.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...wire.audio import from_pcm16
from ...wire.session_config import SessionConfigError, apply_update, validate_session
from ..model_check import model_refusal
from .conversation import public
from .errors import ClientError, require

if TYPE_CHECKING:
    from .core import SessionEngine

Event = dict[str, Any]
Handler = Callable[["SessionEngine", Event], None]


def session_update(engine: SessionEngine, event: Event) -> None:
    update = require(event, "session", dict)
    if "type" not in update:
        raise ClientError(
            "missing_required_parameter",
            "Missing required parameter: 'session.type'.",
            "session.type",
        )
    try:
        update = validate_session(update)
    except SessionConfigError as exc:
        raise ClientError("invalid_value", exc.message, exc.param) from None
    if "model" in update and update["model"] != engine.session["model"]:
        raise ClientError(
            "invalid_value",
            "The model cannot be changed once the session has started.",
            "session.model",
        )
    new_voice = update.get("audio", {}).get("output", {}).get("voice")
    if engine.voice_locked and new_voice not in (None, engine.voice()):
        raise ClientError(
            "cannot_update_voice",
            "The voice cannot be changed after the assistant has produced audio.",
            "session.audio.output.voice",
        )
    refusal = model_refusal(apply_update(engine.session, update))
    if refusal is not None:
        raise ClientError(*refusal)
    engine.session = apply_update(engine.session, update)
    engine.input.configure(engine.turn_detection())
    engine.emit("session.updated", session=engine.public_session())


def item_create(engine: SessionEngine, event: Event) -> None:
    engine.conversation.create(require(event, "item", dict), event)


def item_delete(engine: SessionEngine, event: Event) -> None:
    engine.conversation.delete(require(event, "item_id", str))


def item_retrieve(engine: SessionEngine, event: Event) -> None:
    item = engine.conversation.find(require(event, "item_id", str))
    found = public(item)
    if "_pcm" in item:  # retrieve includes the audio, in the session's format
        side = "output" if item.get("role") == "assistant" else "input"
        audio = engine.encode(from_pcm16(item["_pcm"]), side)
        found["content"][0]["audio"] = base64.b64encode(audio).decode()
    engine.emit("conversation.item.retrieved", item=found)


def item_truncate(engine: SessionEngine, event: Event) -> None:
    conversation = engine.conversation
    item = conversation.find(require(event, "item_id", str))  # reported before the other fields
    conversation.truncate(
        item, require(event, "content_index", int), require(event, "audio_end_ms", int)
    )


def audio_append(engine: SessionEngine, event: Event) -> None:
    data = require(event, "audio", str)
    fmt = engine.session["audio"]["input"]["format"]["type"]
    engine.feed_audio(engine.decoder.decode(data, fmt))


def audio_commit(engine: SessionEngine, event: Event) -> None:
    engine.turns.commit()


def audio_clear(engine: SessionEngine, event: Event) -> None:
    engine.turns.clear()


def output_clear(engine: SessionEngine, event: Event) -> None:
    if engine.transport != "webrtc":
        raise ClientError(
            "invalid_value", "output_audio_buffer.clear is only for WebRTC and SIP.", "type"
        )
    engine.output.clear(emit=True)


def response_create(engine: SessionEngine, event: Event) -> None:
    params = event.get("response") or {}
    if not isinstance(params, dict):
        raise ClientError("invalid_value", "response must be an object.", "response")
    modalities = params.get("output_modalities")
    if modalities is not None and modalities not in (["audio"], ["text"]):
        raise ClientError(
            "invalid_value",
            'output_modalities must be ["audio"] or ["text"].',
            "response.output_modalities",
        )
    engine.responses.start(params)


def response_cancel(engine: SessionEngine, event: Event) -> None:
    engine.responses.cancel(event.get("response_id"))


REALTIME: Mapping[str, Handler] = {
    "session.update": session_update,
    "conversation.item.create": item_create,
    "conversation.item.delete": item_delete,
    "conversation.item.retrieve": item_retrieve,
    "conversation.item.truncate": item_truncate,
    "input_audio_buffer.append": audio_append,
    "input_audio_buffer.commit": audio_commit,
    "input_audio_buffer.clear": audio_clear,
    "output_audio_buffer.clear": output_clear,
    "response.create": response_create,
    "response.cancel": response_cancel,
}
"""GA Realtime client events, in the order the API reference lists them."""
