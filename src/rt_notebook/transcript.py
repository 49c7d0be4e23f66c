"""The conversation as turns (who said what, when), built from the event stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .events import RealtimeEvent


@dataclass
class Turn:
    """One user or assistant message."""

    role: Literal["user", "assistant"]
    """Who spoke."""
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

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the turn's fields."""
        return asdict(self)


class Transcript:
    """Turns in conversation order; partial text is replaced by final text as it arrives."""

    def __init__(self) -> None:
        self._turns: dict[str, Turn] = {}
        self._speech_start: dict[str, float] = {}
        self._speech_stop: dict[str, float] = {}

    def __iter__(self) -> Iterator[Turn]:
        return iter(self._turns.values())

    def __len__(self) -> int:
        return len(self._turns)

    def __getitem__(self, index: int) -> Turn:
        return list(self._turns.values())[index]

    def __repr__(self) -> str:
        lines = [f"{t.role:>9}: {t.text}" for t in self]
        return "\n".join(lines) if lines else "<empty transcript>"

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every turn as a dict."""
        return [turn.to_dict() for turn in self]

    def update(self, event: RealtimeEvent) -> None:
        """Fold one server event into the turns."""
        if event.direction != "server":
            return
        kind, t = event.type, event.time
        if kind == "input_audio_buffer.speech_started":
            self._speech_start[str(event.item_id)] = t
        elif kind == "input_audio_buffer.speech_stopped":
            self._speech_stop[str(event.item_id)] = t
        elif kind == "conversation.item.added":
            self._item_added(event.item or {}, t)
        elif kind == "conversation.item.input_audio_transcription.delta":
            turn = self._turns.get(str(event.item_id))
            if turn is not None and not turn.final:
                turn.text += event.delta or ""
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._finalize(str(event.item_id), event.transcript or "")
        elif kind in ("response.output_audio_transcript.delta", "response.output_text.delta"):
            turn = self._turns.get(str(event.item_id))
            if turn is not None and not turn.final:
                turn.text += event.delta or ""
                if turn.start is None:
                    turn.start = t
        elif kind == "response.output_audio_transcript.done":
            self._finalize(str(event.item_id), event.transcript or "")
        elif kind == "response.output_text.done":
            self._finalize(str(event.item_id), event.text or "")
        elif kind == "response.done":
            self._response_done(event.response or {}, t)

    def _item_added(self, item: dict[str, Any], t: float) -> None:
        role = item.get("role")
        item_id = item.get("id")
        if item.get("type") != "message" or role not in ("user", "assistant") or not item_id:
            return
        content = item.get("content") or []
        spoken = any(p.get("type") in ("input_audio", "output_audio") for p in content)
        text = " ".join(str(p.get("text") or p.get("transcript") or "") for p in content).strip()
        turn = Turn(role=role, item_id=item_id, text=text, modality="audio" if spoken else "text")
        if role == "user":
            turn.start = self._speech_start.get(item_id, t)
            turn.end = self._speech_stop.get(item_id, t)
            turn.final = not spoken
        self._turns.setdefault(item_id, turn)

    def _finalize(self, item_id: str, text: str) -> None:
        turn = self._turns.get(item_id)
        if turn is not None:
            turn.text, turn.final = text, True

    def _response_done(self, response: dict[str, Any], t: float) -> None:
        for item in response.get("output") or []:
            turn = self._turns.get(str(item.get("id")))
            if turn is None:
                continue
            turn.end = t
            turn.response_id = response.get("id")
            turn.interrupted = item.get("status") == "incomplete" or response.get("status") in (
                "cancelled",
                "incomplete",
            )
            if turn.modality == "text" and any(
                p.get("type") == "output_audio" for p in item.get("content") or []
            ):
                turn.modality = "audio"
