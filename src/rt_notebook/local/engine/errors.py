"""Refusing a client event: the error every room raises and the coordinator turns into ``error``."""

from __future__ import annotations

import json
from typing import Any, Protocol

from ...errors import RealtimeError
from ...wire.signaling import check_depth


class ClientError(Exception):
    """A client event the server refuses; becomes an ``error`` event."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


class Emit(Protocol):
    """Send one server event: its type and fields (the coordinator adds ``event_id``)."""

    def __call__(self, kind: str, /, **fields: Any) -> None: ...


def require(event: dict[str, Any], name: str, kind: type) -> Any:
    """A required field of a client event, of the given type."""
    value = event.get(name)
    if value is None:
        raise ClientError(
            "missing_required_parameter", f"Missing required parameter: '{name}'.", name
        )
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ClientError("invalid_type", f"'{name}' must be of type {kind.__name__}.", name)
    return value


def read_event(text: str | bytes) -> dict[str, Any]:
    """A client event as received on the wire: a JSON object, or ``invalid_json``."""
    try:
        event = json.loads(text)
        check_depth(event, "event")
    except (ValueError, RecursionError, RealtimeError):
        raise ClientError(
            "invalid_json", "The event is not valid JSON (or nests too deep)."
        ) from None
    if not isinstance(event, dict):
        raise ClientError("invalid_json", "An event must be a JSON object with a 'type'.")
    return event
