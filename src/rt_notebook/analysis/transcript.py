"""The conversation as turns (who said what, when), built from the event stream."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..wire.events import RealtimeEvent, as_dict, as_dicts, as_number, as_str
from .live_turns import LIVE_TRANSCRIPT_EVENTS, LiveTurnGrouper
from .tables import Table

if TYPE_CHECKING:
    from openai.lib.live import TranscriptSegment, TranscriptSegmentClosedEvent


@dataclass
class Turn:
    """One user or assistant message, or one tool call (``role="tool"``)."""

    role: Literal["user", "assistant", "tool"]
    """Who spoke (``"tool"``: the model called a tool, and the kernel answered)."""
    item_id: str
    """The conversation item's id."""
    text: str = ""
    """What was said or written (input transcription for user speech, when configured)."""
    start: float | None = None
    """Epoch seconds: speech start (user audio), item creation, or first audio (assistant)."""
    end: float | None = None
    """Epoch seconds: speech stop (user), or when the response finished (assistant)."""
    final: bool = False
    """True once the text is final (``*.done``/``completed``); partials are replaced."""
    interrupted: bool = False
    """True when the assistant was cut off (cancelled or barged in on)."""
    modality: Literal["audio", "text"] = "text"
    """Whether the turn was spoken or typed."""
    response_id: str | None = None
    """The response that produced an assistant turn."""
    full_text: str = ""
    """Assistant turns: everything generated, even the part cut off before it was played."""
    audio_ms: float | None = None
    """Milliseconds of audio: the user's speech, or the assistant's playback in the browser."""
    tool_name: str | None = None
    """Tool calls: the tool's name."""
    call_id: str | None = None
    """Tool calls: the call's id."""
    arguments: str | None = None
    """Tool calls: the model's JSON arguments."""
    output: str | None = None
    """Tool calls: the ``function_call_output`` sent back (``final`` once it was sent)."""

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the turn's fields."""
        return asdict(self)


SPEAKING_RATE_WPS = 2.7
"""Words per second assumed when estimating how much of an interrupted reply was heard."""


class Transcript:
    """Turns in conversation order; partial text is replaced by final text as it arrives.

    An interrupted assistant turn keeps what was generated in ``full_text`` and, in ``text``,
    what was heard: the words that fit in the time it played (``conversation.item.truncate``'s
    ``audio_end_ms`` when the client sent one, else playback start to ``cleared``) at
    ``SPEAKING_RATE_WPS``.
    """

    def __init__(self, *, live_clock: bool = False) -> None:
        """``live_clock``: a running session's transcript, whose GPT-Live grouping settles to
        the wall clock whenever it is read (the latest deltas wait for the grouper's 50 ms
        window or a pause otherwise; a replay settles on its events' times alone)."""
        self.live_clock = live_clock
        self._live_lock = threading.RLock()
        self._turns: dict[str, Turn] = {}
        self._speech_start: dict[str, float] = {}
        self._speech_stop: dict[str, float] = {}
        self._speech_ms: dict[str, list[float]] = {}
        self._response_items: dict[str, list[str]] = {}
        self._playback_start: dict[str, float] = {}
        self._played_ms: dict[str, float] = {}
        self._live: LiveTurnGrouper | None = None
        self._live_t0: float | None = None
        self._live_ids: dict[str, str] = {}
        self._live_seen: dict[str, float] = {}  # when each Live turn's first text arrived

    def __iter__(self) -> Iterator[Turn]:
        self._settle_now()
        # a snapshot: events may add turns on another thread while a cell iterates
        return iter(list(self._turns.values()))

    def __len__(self) -> int:
        self._settle_now()
        return len(self._turns)

    def __getitem__(self, index: int) -> Turn:
        self._settle_now()
        return list(self._turns.values())[index]

    def _settle_now(self) -> None:
        if self.live_clock and self._live is not None:
            with self._live_lock:  # the reader's thread may not be the events' thread
                self._live.advance(time.time() * 1000.0)

    def __repr__(self) -> str:
        lines = [f"{t.role:>9}: {t.text}" for t in self]
        return "\n".join(lines) if lines else "<empty transcript>"

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every turn as a dict."""
        return [turn.to_dict() for turn in self]

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per turn (``pip install pandas``)."""
        return Table(self.to_dicts()).to_dataframe()

    def to_jsonl(self, path: str | Path) -> Path:
        """Write one JSON object per turn; returns the path."""
        path = Path(path)
        path.write_text(self.jsonl())
        return path

    def jsonl(self) -> str:
        """One JSON object per turn, one a line."""
        return "".join(json.dumps(turn) + "\n" for turn in self.to_dicts())

    def to_markdown(self) -> str:
        """The conversation as Markdown, one paragraph per turn."""
        lines = []
        for turn in self:
            when = time.strftime("%H:%M:%S", time.localtime(turn.start)) if turn.start else ""
            cut = " *(interrupted)*" if turn.interrupted else ""
            lines.append(f"**{turn.role}** {when}: {turn.text}{cut}".replace("  ", " "))
        return "\n\n".join(lines) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_markdown() if self._turns else "*empty transcript*"

    def update(self, event: RealtimeEvent) -> None:
        """Fold one event into the turns; fields of the wrong type read as absent."""
        kind, t = event.type, event.time
        item_id = as_str(event.item_id)
        if event.direction == "client":
            if kind == "conversation.item.create":
                self._tool_output(as_dict(event.item), t)
            elif kind == "conversation.item.truncate" and item_id:
                self._played_ms[item_id] = as_number(event.audio_end_ms)
                self._truncate(item_id)
            elif kind == "session.commentary.append" and event.delegation_id is None:
                self._typed_live(event)
            return
        if kind in LIVE_TRANSCRIPT_EVENTS or kind == "session.started":
            self._update_live(event)
            return
        if self._live is not None:  # the grouper's clock moves with every event
            with self._live_lock:
                self._live.advance(event.t)
        if kind == "input_audio_buffer.speech_started" and item_id:
            self._speech_start[item_id] = t
            self._speech_ms[item_id] = [as_number(event.audio_start_ms), 0.0]
        elif kind == "input_audio_buffer.speech_stopped" and item_id:
            self._speech_stop[item_id] = t
            self._speech_ms.setdefault(item_id, [0.0, 0.0])[1] = as_number(event.audio_end_ms)
        elif kind == "conversation.item.added":
            self._item_added(as_dict(event.item), t)
        elif kind in ("conversation.item.done", "response.output_item.done"):
            if as_dict(event.item).get("type") == "function_call":
                self._tool_call(as_dict(event.item), t)
        elif kind == "response.function_call_arguments.done":
            self._tool_call(
                {"id": item_id, "call_id": event.call_id, "name": event.name,
                 "arguments": event.arguments},
                t,
            )  # fmt: skip
        elif kind == "conversation.item.input_audio_transcription.delta":
            turn = self._turns.get(item_id or "")
            if turn is not None and not turn.final:
                turn.text += as_str(event.delta) or ""
        elif kind == "conversation.item.input_audio_transcription.completed":
            heard = event.typed
            if (
                heard is not None
                and heard.type == "conversation.item.input_audio_transcription.completed"
            ):
                self._finalize(heard.item_id, heard.transcript)
            elif item_id:  # not as the model has it: take what is there
                self._finalize(item_id, as_str(event.transcript) or "")
        elif kind in ("response.output_audio_transcript.delta", "response.output_text.delta"):
            turn = self._turns.get(item_id or "")
            if turn is not None and not turn.final:
                turn.text += as_str(event.delta) or ""
                if turn.start is None:
                    turn.start = t
        elif kind == "response.output_audio_transcript.done" and item_id:
            self._finalize(item_id, as_str(event.transcript) or "")
        elif kind == "response.output_text.done" and item_id:
            self._finalize(item_id, as_str(event.text) or "")
        elif kind == "response.output_item.added":
            added = as_str(as_dict(event.item).get("id"))
            if added:
                self._response_items.setdefault(str(event.response_id), []).append(added)
        elif kind == "output_audio_buffer.started":
            self._playback_start[str(event.response_id)] = t
            for added in self._response_items.get(str(event.response_id), []):
                turn = self._turns.get(added)
                if turn is not None and turn.start is None:
                    turn.start = t  # heard from here, whether or not deltas came first
        elif kind in ("output_audio_buffer.stopped", "output_audio_buffer.cleared"):
            self._playback_end(str(event.response_id), t, cut=kind.endswith("cleared"))
        elif kind == "response.done":
            self._response_done(as_dict(event.response), t)

    # ---- GPT-Live: timed deltas grouped into turns (analysis/live_turns.py) ------------------

    def settle(self, t_ms: float) -> None:
        """GPT-Live: let the grouping's clock reach ``t_ms`` (epoch ms), closing what is due."""
        if self._live is not None:
            self._live.advance(t_ms)

    def _update_live(self, event: RealtimeEvent) -> None:
        with self._live_lock:
            self._update_live_locked(event)

    def _update_live_locked(self, event: RealtimeEvent) -> None:
        if event.type == "session.started":
            self._live_t0 = self._live_t0 if self._live_t0 is not None else event.time
            return
        if self._live is None:
            self._live = LiveTurnGrouper(self._live_segment, self._live_closed)
        if self._live_t0 is None:
            self._live_t0 = event.time
        self._live.push(event)

    def _live_segment(self, segment: TranscriptSegment) -> None:
        # the grouper's ids count its instances: ours count segments, alike on every replay
        key = self._live_ids.setdefault(segment.id, f"live_segment_{len(self._live_ids)}")
        if key not in self._live_seen and self._live is not None:
            arrived = self._live.arrival(segment)
            self._live_seen[key] = (arrived if arrived is not None else self._live.clock_ms) / 1e3
        turn = self._turns.setdefault(
            key, Turn(role=segment.speaker, item_id=key, modality="audio")
        )
        t0 = self._live_t0 or 0.0
        turn.text = segment.text
        turn.start = t0 + segment.start_ms / 1000.0
        turn.end = t0 + segment.end_ms / 1000.0
        turn.audio_ms = float(segment.end_ms - segment.start_ms)
        if turn.role == "assistant":
            turn.full_text = segment.text

    def first_seen(self, item_id: str) -> float | None:
        """GPT-Live: when a turn's first text arrived (epoch seconds, the events' clock)."""
        return self._live_seen.get(item_id)

    def _live_closed(self, closed: TranscriptSegmentClosedEvent) -> None:
        self._live_segment(closed.segment)
        self._turns[self._live_ids[closed.segment.id]].final = True

    def _typed_live(self, event: RealtimeEvent) -> None:
        """Typed text (``send_text``): a commentary append the model answers aloud."""
        key = as_str(event.event_id) or f"text_{event.seq}"
        text = as_str(event.content) or ""
        self._turns.setdefault(
            key,
            Turn(role="user", item_id=key, text=text, start=event.time, end=event.time, final=True),
        )

    def _tool_call(self, item: dict[str, Any], t: float) -> None:
        """A ``function_call`` item: a tool turn, its arguments complete once they are."""
        item_id = as_str(item.get("id"))
        if not item_id:
            return
        turn = self._turns.setdefault(item_id, Turn(role="tool", item_id=item_id, start=t))
        if turn.role != "tool":
            return
        turn.tool_name = as_str(item.get("name")) or turn.tool_name
        turn.call_id = as_str(item.get("call_id")) or turn.call_id
        turn.arguments = as_str(item.get("arguments")) or turn.arguments
        if turn.output is None:
            turn.text = f"{turn.tool_name or '?'}({turn.arguments or ''})"

    def _tool_output(self, item: dict[str, Any], t: float) -> None:
        """The kernel's ``function_call_output``: the tool turn it answers is final."""
        call_id = as_str(item.get("call_id"))
        if item.get("type") != "function_call_output" or not call_id:
            return
        for turn in self._turns.values():
            if turn.role == "tool" and turn.call_id == call_id and turn.output is None:
                turn.output = as_str(item.get("output")) or ""
                turn.text = f"{turn.tool_name or '?'}({turn.arguments or ''}) → {turn.output}"
                turn.end, turn.final = t, True
                return

    def _item_added(self, item: dict[str, Any], t: float) -> None:
        if item.get("type") == "function_call":
            self._tool_call(item, t)
            return
        role = item.get("role")
        item_id = as_str(item.get("id"))
        if item.get("type") != "message" or role not in ("user", "assistant") or not item_id:
            return
        content = as_dicts(item.get("content"))
        spoken = any(p.get("type") in ("input_audio", "output_audio") for p in content)
        text = " ".join(as_str(p.get("text")) or as_str(p.get("transcript")) or "" for p in content)
        turn = Turn(
            role=role, item_id=item_id, text=text.strip(), modality="audio" if spoken else "text"
        )
        if role == "user":
            turn.start = self._speech_start.get(item_id, t)
            turn.end = self._speech_stop.get(item_id, t)
            turn.final = not spoken
            span = self._speech_ms.get(item_id)
            if spoken and span and span[1] > span[0]:
                turn.audio_ms = span[1] - span[0]  # on the server's input audio timeline
        self._turns.setdefault(item_id, turn)

    def _finalize(self, item_id: str, text: str) -> None:
        turn = self._turns.get(item_id)
        if turn is not None:
            turn.text, turn.final = text, True
            if turn.role == "assistant":
                turn.full_text = text
                self._truncate(item_id)

    def _playback_end(self, response_id: str, t: float, *, cut: bool) -> None:
        started = self._playback_start.get(response_id)
        for item_id in self._response_items.get(response_id, []):
            turn = self._turns.get(item_id)
            if turn is None or started is None:
                continue
            turn.audio_ms = (t - started) * 1000.0
            if cut:
                turn.interrupted = True
                self._played_ms.setdefault(item_id, turn.audio_ms)
                self._truncate(item_id)

    def _truncate(self, item_id: str) -> None:
        """Keep in ``text`` only the words heard before an interruption."""
        turn, played = self._turns.get(item_id), self._played_ms.get(item_id)
        if turn is None or played is None or not turn.full_text:
            return
        turn.interrupted = True
        words = turn.full_text.split()
        heard = max(0, min(len(words), round(played / 1000.0 * SPEAKING_RATE_WPS)))
        turn.text = " ".join(words[:heard])

    def _response_done(self, response: dict[str, Any], t: float) -> None:
        status = response.get("status")
        for item in as_dicts(response.get("output")):
            turn = self._turns.get(as_str(item.get("id")) or "")
            if turn is None:
                continue
            turn.end = t
            turn.response_id = as_str(response.get("id"))
            if item.get("status") == "incomplete" or status in ("cancelled", "incomplete"):
                turn.interrupted = True
            if turn.modality == "text" and any(
                p.get("type") == "output_audio" for p in as_dicts(item.get("content"))
            ):
                turn.modality = "audio"


def build_transcript(events: Iterable[RealtimeEvent]) -> Transcript:
    """Replay events into a transcript (for recorded sessions)."""
    transcript = Transcript()
    for event in events:
        transcript.update(event)
    return transcript
