"""Conformance: events validated by openai-python's models as a tagged union, no extra fields.

Realtime (``openai.types.realtime``) and GPT-Live (``openai.types.live``, strict mode).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, Union, get_args

from openai.types import live as _live
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from openai.types.responses import ResponseStreamEvent
from pydantic import Field, TypeAdapter

from rt_notebook.wire.live_config import hosted_tool_option, unknown_fields


def _members(alias: Any) -> tuple[Any, ...]:
    return get_args(get_args(alias)[0])  # Annotated[Union[...], PropertyInfo] -> members


ServerEvents: TypeAdapter[Any] = TypeAdapter(
    Annotated[Union[_members(RealtimeServerEvent)], Field(discriminator="type")]  # noqa: UP007
)
ClientEvents: TypeAdapter[Any] = TypeAdapter(
    Annotated[Union[_members(RealtimeClientEvent)], Field(discriminator="type")]  # noqa: UP007
)

# Fields the server adds to a session that the request model does not declare.
SERVER_SESSION_EXTRAS = {"$.session.id", "$.session.object", "$.session.expires_at"}


def extras(value: Any, path: str = "$") -> list[str]:
    """Paths of every field a model accepted only because its config allows extras."""
    return unknown_fields(value, path)


def assert_server_event(event: dict[str, Any]) -> None:
    """One server event is valid GA, with nothing the models do not know."""
    model = ServerEvents.validate_python(event)
    allowed = (
        SERVER_SESSION_EXTRAS if event["type"] in ("session.created", "session.updated") else set()
    )
    unknown = [p for p in extras(model) if p not in allowed]
    assert not unknown, f"{event['type']} has fields outside the GA models: {unknown}"


def assert_client_event(event: dict[str, Any]) -> None:
    """One client event is valid GA, with nothing the models do not know."""
    model = ClientEvents.validate_python(event)
    unknown = extras(model)
    assert not unknown, f"{event['type']} has fields outside the GA models: {unknown}"


def assert_conformant(
    server: Iterable[dict[str, Any]], client: Iterable[dict[str, Any]] = ()
) -> int:
    """Validate every event; return how many were checked."""
    count = 0
    for event in server:
        assert_server_event(event)
        count += 1
    for event in client:
        assert_client_event(event)
        count += 1
    return count


def assert_in_order(types: Sequence[str], expected: Sequence[str]) -> None:
    """``expected`` occurs in ``types`` as a subsequence (other events may come between)."""
    position = 0
    for kind in types:
        if position < len(expected) and kind == expected[position]:
            position += 1
    assert position == len(expected), (
        f"missing {expected[position]!r} (after {list(expected[:position])}) in {list(types)}"
    )


# ---- GPT-Live (openai.types.live), strict -------------------------------------------------------
#
# Live events are checked as wire JSON in pydantic's strict mode (no "1" for an int, no 1.0 for
# an int), then every field the models only accepted as an extra is refused at any depth. The
# nested Responses event inside ``response.event`` is checked against openai-python's
# ``ResponseStreamEvent`` the same way. Outgoing client events are also checked against the
# TypedDict params, which alone catch a missing required-but-nullable key (``delegation_id``).


def _tagged(members: tuple[Any, ...]) -> TypeAdapter[Any]:
    return TypeAdapter(Annotated[Union[members], Field(discriminator="type")])  # noqa: UP007


LiveServerEvents = _tagged(_members(_live.ServerEvent))
"""The 28 server events of a primary Live WebSocket."""
LiveChannelEvents = _tagged(_members(_live.ConnectServerEvent))
"""A data channel's or a sideband's server events (adds ``session.paused``/``resumed``)."""
LiveClientEvents = _tagged(_members(_live.ClientEvent))
LiveClientKeys = _tagged(get_args(_live.ClientEventParam))
LiveResponseEvents = _tagged(_members(ResponseStreamEvent))
"""The Responses stream events a ``response.event`` carries."""


def _types(members: tuple[Any, ...]) -> frozenset[str]:
    return frozenset(get_args(m.model_fields["type"].annotation)[0] for m in members)


LIVE_SERVER_TYPES = _types(_members(_live.ServerEvent))
LIVE_CHANNEL_TYPES = _types(_members(_live.ConnectServerEvent))
LIVE_CLIENT_TYPES = _types(_members(_live.ClientEvent))

LiveChannel = Literal["websocket", "data_channel", "sideband"]


def _strict(adapter: TypeAdapter[Any], value: dict[str, Any], what: str) -> None:
    model = adapter.validate_json(json.dumps(value), strict=True)
    session = value.get("session")
    unknown = [
        path
        for path in extras(model)
        if not (
            path.startswith("$.session.")
            and hosted_tool_option(path.removeprefix("$.session."), session)
        )
    ]
    assert not unknown, f"{what} has fields outside openai.types.live: {unknown}"


def assert_live_server_event(event: dict[str, Any], channel: LiveChannel = "websocket") -> None:
    """One Live server event is valid for ``channel``, strictly, with nothing unknown."""
    adapter = LiveServerEvents if channel == "websocket" else LiveChannelEvents
    _strict(adapter, event, event.get("type", "?"))
    if event["type"] == "response.event":
        inner = event["event"]
        _strict(LiveResponseEvents, inner, f"response.event {inner.get('type')}")


def assert_live_client_event(event: dict[str, Any]) -> None:
    """One Live client event is valid, strictly, with every required key present."""
    _strict(LiveClientEvents, event, event.get("type", "?"))
    LiveClientKeys.validate_python(event)


def assert_live_conformant(
    server: Iterable[dict[str, Any]],
    client: Iterable[dict[str, Any]] = (),
    channel: LiveChannel = "websocket",
) -> int:
    """Validate every Live event; return how many were checked."""
    count = 0
    for event in server:
        assert_live_server_event(event, channel)
        count += 1
    for event in client:
        assert_live_client_event(event)
        count += 1
    return count
