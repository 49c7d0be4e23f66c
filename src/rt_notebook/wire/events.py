"""Events as the kernel sees them: the wire JSON, its direction and the browser's timestamp."""

from __future__ import annotations

import importlib
import json
import math
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .typed_events import TypedEvent

from .widget_protocol import Direction as Direction

# Server events are not trusted: every reader takes fields through these, so a wrong type,
# a list where an object belongs or an unhashable id reads as "absent" instead of raising.


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``."""
    return value if isinstance(value, dict) else {}


def as_dicts(value: object) -> list[dict[str, Any]]:
    """The JSON objects in ``value`` if it is a list, else ``[]``."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    """``value`` if it is a string, else ``None``."""
    return value if isinstance(value, str) else None


def as_number(value: object, default: float = 0.0) -> float:
    """``value`` as a finite float if it is a JSON number (not a bool), else ``default``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    try:
        number = float(value)
    except OverflowError:
        return default
    return number if math.isfinite(number) else default


def as_count(value: object) -> int:
    """A token or byte count: a non-negative integer below 10**12, else 0."""
    number = as_number(value)
    return int(number) if 0 <= number < 1e12 else 0


@dataclass(frozen=True)
class RealtimeEvent:
    """One event on the ``oai-events`` channel (or WebSocket), in either direction.

    Fields of the wire event read as attributes: ``event.delta``, ``event.item_id``,
    ``event.response`` (``None`` when the event has no such field). The events the kit acts on
    also read typed, through openai-python's models: ``event.typed``. Unknown event types are
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

    @cached_property
    def typed(self) -> TypedEvent | None:
        """openai-python's model of this event (``ResponseDoneEvent``, …) for the types the
        kit acts on (``rt_notebook.wire.typed_events.MODELS``); ``None`` for other types and
        for an event that does not fit its model (``raw`` still has it)."""
        from .typed_events import parse

        return parse(self.raw)

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


_LATEST_MS = 1e14  # epoch milliseconds in the year 5138: later timestamps are junk


class EventLog:
    """Every event of a session, in order, with a few ways to look at them."""

    def __init__(self) -> None:
        self._events: list[RealtimeEvent] = []

    def append(self, raw: dict[str, Any], t: object, direction: Direction) -> RealtimeEvent:
        """Record an event and return it; a timestamp that is not a plausible epoch ms is now."""
        t = as_number(t, default=-1.0)
        if not 0.0 <= t < _LATEST_MS:
            t = time.time() * 1000.0
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


_TYPED_EVENTS = f"{__package__}.typed_events"
_preloading = threading.Lock()


def preload_typed_events() -> None:
    """Import openai-python's models on a background thread, once: the import takes a good
    part of a second, and the first typed event of a call should not wait for it (one that
    comes sooner waits for the import to finish)."""
    if _TYPED_EVENTS in sys.modules or not _preloading.acquire(blocking=False):
        return
    threading.Thread(
        target=importlib.import_module,
        args=(_TYPED_EVENTS,),
        name="rt_notebook-preload",
        daemon=True,
    ).start()
