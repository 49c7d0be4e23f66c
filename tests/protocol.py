"""Conformance: events validated by openai-python's models as a tagged union, no extra fields."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Union, get_args

from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import BaseModel, Field, TypeAdapter


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
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}" for key in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found += extras(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += extras(item, f"{path}.{key}")
    return found


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
