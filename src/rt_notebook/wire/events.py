"""Events as the kernel sees them: the wire JSON, its direction and the browser's timestamp."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["server", "client"]


@dataclass(frozen=True)
class RealtimeEvent:
    """One event on the ``oai-events`` channel (or WebSocket), in either direction.

    Fields of the wire event read as attributes: ``event.delta``, ``event.item_id``,
    ``event.response`` (``None`` when the event has no such field). Unknown event types are
    kept as they are; nothing here ever raises on unexpected input.
    """

    raw: dict[str, Any]
    """The event exactly as it crossed the wire (a JSON object)."""
    t: float = 0.0
    """When the browser sent or received it, in epoch milliseconds."""
    direction: Direction = "server"
    """``"server"`` for events from the API, ``"client"`` for events sent to it."""
    seq: int = field(default=0, compare=False)
    """Position in the session's event log."""

    @property
    def type(self) -> str:
        """The wire event type, e.g. ``response.output_audio_transcript.delta``."""
        kind = self.raw.get("type")
        return kind if isinstance(kind, str) else "unknown"

    @property
    def time(self) -> float:
        """When it happened, in epoch seconds."""
        return self.t / 1000.0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.raw.get(name)

    def get(self, key: str, default: Any = None) -> Any:
        """A field of the wire event."""
        return self.raw.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """``{"t", "direction", "event"}``: one line of a JSONL log."""
        return {"t": self.t, "direction": self.direction, "event": self.raw}

    def __repr__(self) -> str:
        text = json.dumps(self.raw, default=str)
        return f"<{self.direction} {self.type} {text[:120]}{'…' if len(text) > 120 else ''}>"


class EventLog:
    """Every event of a session, in order, with a few ways to look at them."""

    def __init__(self) -> None:
        self._events: list[RealtimeEvent] = []

    def append(self, raw: dict[str, Any], t: float, direction: Direction) -> RealtimeEvent:
        """Record an event and return it."""
        event = RealtimeEvent(raw=raw, t=t, direction=direction, seq=len(self._events))
        self._events.append(event)
        return event

    def __iter__(self) -> Iterator[RealtimeEvent]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> RealtimeEvent:
        return self._events[index]

    def of(self, *types: str) -> list[RealtimeEvent]:
        """The events of the given wire types."""
        return [e for e in self._events if e.type in types]

    def types(self) -> list[str]:
        """The type of every event, in order."""
        return [e.type for e in self._events]

    def clear(self) -> None:
        """Forget everything (a new connection keeps the old log unless cleared)."""
        self._events.clear()

    def __repr__(self) -> str:
        return f"<EventLog: {len(self._events)} events>"
