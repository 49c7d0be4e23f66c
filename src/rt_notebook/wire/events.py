"""Events as the kernel sees them: the wire JSON, its direction and the browser's timestamp."""

from __future__ import annotations

import importlib
import json
import math
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .typed_events import TypedEvent

from .widget_protocol import Direction as Direction

# Server events are not trusted: every reader takes fields through these, so a wrong type,
# a list where an object belongs or an unhashable id reads as "absent" instead of raising.


RECONNECTING = "rt_notebook.reconnecting"
"""The widget's (or the headless session's) marker: the call was lost and a new one is being
set up (``attempt``, ``of``, ``reason``)."""
RECONNECTED = "rt_notebook.reconnected"
"""The marker of a new call replacing a lost one (``call_id``, ``previous_call_id``,
``rollover``): the conversation is replayed into it."""


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
    """Every event of a session, in order, with a few ways to look at them.

    Memory is bounded when ``max_memory_events`` is set: beyond it, the oldest events move to
    an anonymous temporary file (JSONL) and are read back when asked for, so an hour-long
    session keeps a few MB of events in memory. Looking events up by type (``of``) uses an
    index and costs what it returns, not the length of the log.
    """

    def __init__(self, *, max_memory_events: int | None = None) -> None:
        if max_memory_events is not None and max_memory_events < 1:
            raise ValueError("max_memory_events must be at least 1 (or None: no limit)")
        self.max_memory_events = max_memory_events
        """Events kept in memory; older ones are on disk (``None``: all in memory)."""
        self._events: list[RealtimeEvent] = []  # the newest, from seq ``_spilled`` on
        self._spilled = 0
        self._offsets = array("q")  # byte offset of each spilled event in ``_file``
        self._file: IO[bytes] | None = None
        self._by_type: dict[str, list[int]] = {}  # seqs of each type

    def append(self, raw: dict[str, Any], t: object, direction: Direction) -> RealtimeEvent:
        """Record an event and return it; a timestamp that is not a plausible epoch ms is now."""
        t = as_number(t, default=-1.0)
        if not 0.0 <= t < _LATEST_MS:
            t = time.time() * 1000.0
        seq = len(self)
        event = RealtimeEvent(raw=raw, t=t, direction=direction, seq=seq)
        self._events.append(event)
        self._by_type.setdefault(event.type, []).append(seq)
        limit = self.max_memory_events
        if limit is not None and len(self._events) >= limit + max(1, limit // 8):
            self._spill(len(self._events) - limit)  # in chunks: one write, one list shift
        return event

    @property
    def spilled(self) -> int:
        """Events moved to disk to keep memory bounded."""
        return self._spilled

    def __iter__(self) -> Iterator[RealtimeEvent]:
        for seq in range(self._spilled):
            yield self._read(seq)
        yield from list(self._events)

    def __len__(self) -> int:
        return self._spilled + len(self._events)

    def __getitem__(self, index: int) -> RealtimeEvent:
        size = len(self)
        seq = index + size if index < 0 else index
        if not 0 <= seq < size:
            raise IndexError("event index out of range")
        return self._events[seq - self._spilled] if seq >= self._spilled else self._read(seq)

    def of(self, *types: str) -> list[RealtimeEvent]:
        """The events of the given wire types, in order."""
        seqs = [seq for kind in dict.fromkeys(types) for seq in self._by_type.get(kind, ())]
        if len(types) > 1:
            seqs.sort()
        return [self[seq] for seq in seqs]

    def types(self) -> list[str]:
        """The type of every event, in order."""
        return [e.type for e in self]

    def clear(self) -> None:
        """Forget everything (a new connection keeps the old log unless cleared)."""
        self._events.clear()
        self._by_type.clear()
        self._offsets = array("q")
        self._spilled = 0
        if self._file is not None:
            self._file.close()
            self._file = None

    def __repr__(self) -> str:
        on_disk = f", {self._spilled} on disk" if self._spilled else ""
        return f"<EventLog: {len(self)} events{on_disk}>"

    def _spill(self, count: int) -> None:
        """Move the oldest ``count`` in-memory events to the file."""
        if self._file is None:
            # closed by clear(); the file lives as long as the log
            self._file = tempfile.TemporaryFile(prefix="rt_notebook-events-")  # noqa: SIM115
        offset = self._file.seek(0, 2)
        lines = []
        for event in self._events[:count]:
            line = json.dumps(event.to_dict(), default=str).encode() + b"\n"
            self._offsets.append(offset)
            offset += len(line)
            lines.append(line)
        self._file.write(b"".join(lines))
        del self._events[:count]
        self._spilled += count

    def _read(self, seq: int) -> RealtimeEvent:
        if self._file is None:
            raise IndexError("event index out of range")
        self._file.seek(self._offsets[seq])
        entry = json.loads(self._file.readline())
        return RealtimeEvent(
            raw=entry["event"], t=entry["t"], direction=entry["direction"], seq=seq
        )


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
