"""The files the widget's Download buttons ask the kernel for: one session's transcript,
event log and recordings, as bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..wire.widget_protocol import DownloadKind

if TYPE_CHECKING:
    from .browser import RealtimeSession

MIMES = {"md": "text/markdown", "jsonl": "application/jsonl", "wav": "audio/wav"}


class NothingToDownload(Exception):
    """The file asked for has no content yet (e.g. nothing was recorded)."""


def session_file(session: RealtimeSession, what: DownloadKind) -> tuple[str, str, bytes]:
    """``(file name, MIME type, bytes)`` of ``what`` for this session."""
    stem = f"rt_notebook-{session.widget.call_id or 'session'}"
    if what == "transcript.md":
        data = session.transcript.to_markdown().encode()
    elif what == "transcript.jsonl":
        data = session.transcript.jsonl().encode()
    elif what == "events.jsonl":
        data = session.events_jsonl().encode()
    else:
        track = session.recordings.mic if what == "mic.wav" else session.recordings.assistant
        if not track.num_samples:
            raise NothingToDownload(
                f"Nothing recorded on the {track.name} track yet"
                + ("" if session.widget.record_audio else " (record_audio=False)")
            )
        data = track.wav_bytes()
    if not data and what != "events.jsonl":
        raise NothingToDownload("The transcript is empty so far")
    return f"{stem}-{what}", MIMES[what.rsplit(".", 1)[1]], data
