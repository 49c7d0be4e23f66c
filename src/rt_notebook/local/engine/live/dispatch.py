"""The Live client events: an explicit table of event type → handler, and where each may come
from. A handler checks the event's fields and hands the work to a room; anything it refuses
raises :class:`ClientError` (the coordinator turns it into ``error``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ....wire.audio import SAMPLE_RATE, from_pcm16
from ....wire.live_config import apply_live_update, validate_live_session, validate_live_update
from ....wire.session_config import SessionConfigError
from ...model_check import live_model_refusal
from ..conversation import message_item
from ..errors import ClientError, require
from ..ids import new_id
from .audio import b64decode

if TYPE_CHECKING:
    from .core import LiveEngine

Event = dict[str, Any]
Handler = Callable[["LiveEngine", Event], None]

MAX_APPEND_TOKENS = 500
"""The longest append Live takes (o200k tokens; counted here as 4 characters a token)."""
MAX_FIXTURE_S = 30


def _client_event_id(event: Event) -> str | None:
    value = event.get("event_id")
    return value if isinstance(value, str) else None


def session_start(engine: LiveEngine, event: Event) -> None:
    if engine.started:
        raise ClientError("invalid_value", "The session has already started.", "type")
    try:
        session = validate_live_session(require(event, "session", dict), transport="websocket")
    except SessionConfigError as exc:  # a startup error ends the connection
        refusal: tuple[str, str, str | None] | None = ("invalid_value", exc.message, exc.param)
    else:
        refusal = live_model_refusal(session)
    if refusal is not None:
        code, message, param = refusal
        engine.error(code, message, param, _client_event_id(event))
        engine.on_fault("close")
        return
    engine.begin(session, _client_event_id(event))


def session_update(engine: LiveEngine, event: Event) -> None:
    try:
        update = validate_live_update(require(event, "session", dict))
        engine.session = apply_live_update(engine.session_config(), update)
    except SessionConfigError as exc:
        raise ClientError("invalid_value", exc.message, exc.param) from None
    engine.emit(
        "session.updated", session=engine.resource(), client_event_id=_client_event_id(event)
    )


def audio_append(engine: LiveEngine, event: Event) -> None:
    pcm = engine.format.decode(require(event, "audio", str))
    engine.feed_audio(pcm)


def mute(engine: LiveEngine, event: Event) -> None:
    engine.muted = True
    engine.emit("session.input_audio.muted", client_event_id=_client_event_id(event))


def unmute(engine: LiveEngine, event: Event) -> None:
    engine.muted = False
    engine.emit("session.input_audio.unmuted", client_event_id=_client_event_id(event))


def fixture_play(engine: LiveEngine, event: Event) -> None:
    raw = b64decode(require(event, "audio", str))
    if len(raw) % 2:
        raise ClientError("invalid_value", "A fixture is PCM16: an even number of bytes.", "audio")
    if len(raw) // 2 > MAX_FIXTURE_S * SAMPLE_RATE:
        raise ClientError(
            "invalid_value", f"A fixture lasts at most {MAX_FIXTURE_S} s (PCM16, 24 kHz).", "audio"
        )
    if engine.output.fixture:
        raise ClientError("invalid_value", "A fixture is already playing.", "type")
    engine.replies.interrupt()
    engine.emit("session.output_audio.fixture.playing", client_event_id=_client_event_id(event))
    engine.output.play_fixture(from_pcm16(raw))


def _append(kind: str) -> Handler:
    def handle(engine: LiveEngine, event: Event) -> None:
        content = require(event, "content", str)
        if "delegation_id" not in event:
            raise ClientError(
                "missing_required_parameter",
                "Missing required parameter: 'delegation_id' (null when answering no delegation).",
                "delegation_id",
            )
        delegation_id = event["delegation_id"]
        if delegation_id is not None and not isinstance(delegation_id, str):
            raise ClientError(
                "invalid_type", "'delegation_id' must be a string or null.", "delegation_id"
            )
        if math.ceil(len(content) / 4) > MAX_APPEND_TOKENS:
            raise ClientError(
                "invalid_value",
                f"content is longer than {MAX_APPEND_TOKENS} tokens; send it in pieces.",
                "content",
            )
        if engine.output.fixture:
            raise ClientError("invalid_value", "Appends are refused while a fixture plays.", "type")
        engine.delegations.answer_client(delegation_id, kind)
        now = engine.clock_ms()
        engine.emit(
            f"session.{kind}.appended",
            start_ms=now,
            end_ms=now,
            client_event_id=_client_event_id(event),
        )
        if kind == "commentary" and delegation_id is not None:
            engine.replies.say(content)  # the app's answer to its delegation, spoken
        elif kind == "commentary":
            engine.history.append(
                message_item(
                    new_id("item"), "user", "completed", [{"type": "input_text", "text": content}]
                )
            )
            engine.replies.respond(heard=content)
        else:  # instructions and thinking: context the model keeps, said to nobody
            engine.history.append(
                message_item(
                    new_id("item"), "system", "completed", [{"type": "input_text", "text": content}]
                )
            )

    return handle


def unsupported(engine: LiveEngine, event: Event) -> None:
    raise ClientError(
        "unsupported_by_local_backend",
        f"The local backend does not simulate {event.get('type')} (Decisions and SIP are "
        "OpenAI-only).",
        "type",
    )


def response_item_create(engine: LiveEngine, event: Event) -> None:
    engine.delegations.add_item(require(event, "item", dict))


def response_create(engine: LiveEngine, event: Event) -> None:
    engine.delegations.create()


def session_close(engine: LiveEngine, event: Event) -> None:
    engine.spawn(engine.close_session(_client_event_id(event)))


LIVE: Mapping[str, Handler] = {
    "session.start": session_start,
    "session.update": session_update,
    "session.input_audio.append": audio_append,
    "session.input_audio.mute": mute,
    "session.input_audio.unmute": unmute,
    "session.output_audio.fixture.play": fixture_play,
    "session.instructions.append": _append("instructions"),
    "session.thinking.append": _append("thinking"),
    "session.commentary.append": _append("commentary"),
    "decision.create": unsupported,
    "decision.item.create": unsupported,
    "decision.item.delete": unsupported,
    "response.item.create": response_item_create,
    "response.create": response_create,
    "session.close": session_close,
    "transport.dtmf.send": unsupported,
}
"""Live client events (openai.types.live's 15, and the sideband's DTMF), in its order."""

NEVER_ON: Mapping[str, frozenset[str]] = {
    "websocket": frozenset({"transport.dtmf.send"}),
    "data_channel": frozenset(
        {
            "session.start",
            "session.input_audio.append",
            "session.output_audio.fixture.play",
            "transport.dtmf.send",
        }
    ),
    "sideband": frozenset({"session.start", "session.input_audio.append"}),
}
"""Client events a source may not send (the primary WebSocket, a data channel, a sideband)."""
