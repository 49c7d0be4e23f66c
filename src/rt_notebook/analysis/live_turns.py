"""GPT-Live's timed transcript deltas grouped into turns, by openai-python's own grouper.

Live has no conversation items or responses: the server interleaves
``session.input_transcript.delta`` and ``session.output_transcript.delta`` with ``start_ms`` and
``end_ms`` on the session's clock. ``openai.lib.live.TranscriptGrouper`` turns them into
segments (speaker changes, backchannels, inactivity); here it runs on the events' own clock
instead of a timer thread, so a live session and its replay from a saved log group alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ..wire.events import RealtimeEvent, as_str

if TYPE_CHECKING:
    from openai.lib.live import TranscriptSegment, TranscriptSegmentClosedEvent

LIVE_TRANSCRIPT_EVENTS = (
    "session.input_transcript.delta",
    "session.output_transcript.delta",
    "session.closed",
)
"""The events the grouper reads."""


@dataclass(frozen=True)
class _Delta:
    """The fields of a transcript event the grouper reads (it takes attributes)."""

    type: str
    event_id: Any
    delta: Any = None
    start_ms: Any = None
    end_ms: Any = None


_MAX_ARRIVALS = 1000  # fragments not yet in a segment (a few are, at any time)


class _Timer:
    def __init__(self, owner: LiveTurnGrouper) -> None:
        self._owner = owner

    def cancel(self) -> None:
        if self._owner._due is not None and self._owner._due[2] is self:
            self._owner._due = None


def _grouper_base() -> type[Any]:
    from openai.lib.live import TranscriptGrouper

    return TranscriptGrouper


class LiveTurnGrouper:
    """Feeds transcript events to openai-python's ``TranscriptGrouper``; calls ``on_update``
    with each segment snapshot and ``on_closed`` when a segment is final."""

    def __init__(
        self,
        on_update: Callable[[TranscriptSegment], None],
        on_closed: Callable[[TranscriptSegmentClosedEvent], None],
    ) -> None:
        self.clock_ms = 0.0
        """The events' clock: the browser's (or kernel's) receive time, in milliseconds."""
        self._due: tuple[float, Callable[[], None], _Timer] | None = None
        owner = self

        class Grouper(_grouper_base()):  # type: ignore[misc]
            # the SDK's two clock hooks (its sync and async adapters override just these)
            def _now(self) -> float:
                return owner.clock_ms

            def _call_later(self, delay_ms: int, callback: Callable[[], None]) -> _Timer:
                timer = _Timer(owner)
                owner._due = (owner.clock_ms + delay_ms, callback, timer)
                return timer

        self.arrivals: dict[tuple[str, Any], float] = {}
        """When a fragment arrived (epoch ms), by (speaker, ``start_ms``), until a segment
        that starts with it takes it (:meth:`arrival`)."""
        self._grouper = Grouper()
        self._grouper.on("segment.updated", on_update)
        self._grouper.on("segment.closed", on_closed)
        self.closed = False

    def push(self, event: RealtimeEvent) -> None:
        """One event (others are ignored); deadlines that passed meanwhile fire first."""
        if self.closed or event.type not in LIVE_TRANSCRIPT_EVENTS:
            return
        self.advance(event.t)
        raw = event.raw
        delta = _Delta(
            event.type,
            as_str(raw.get("event_id")),
            raw.get("delta"),
            raw.get("start_ms"),
            raw.get("end_ms"),
        )
        speaker = "user" if event.type == "session.input_transcript.delta" else "assistant"
        self.arrivals.setdefault((speaker, delta.start_ms), event.t)
        while len(self.arrivals) > _MAX_ARRIVALS:
            del self.arrivals[next(iter(self.arrivals))]
        self._grouper.push(cast(Any, delta))
        self.closed = event.type == "session.closed"

    def arrival(self, segment: TranscriptSegment) -> float | None:
        """When the first fragment of ``segment`` arrived (epoch ms), once."""
        return self.arrivals.pop((segment.speaker, segment.start_ms), None)

    def advance(self, t_ms: float) -> None:
        """Move the clock to ``t_ms``, firing the grouper's timer if it is due."""
        self.clock_ms = max(self.clock_ms, t_ms)
        while self._due is not None and self._due[0] <= self.clock_ms:
            callback = self._due[1]
            self._due = None
            callback()
