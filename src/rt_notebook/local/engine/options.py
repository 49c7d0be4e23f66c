"""What either session coordinator (Realtime or GPT-Live) takes from the backend's settings.

Per-call values (session config, transport, send, call id, playback, fault hook) stay the
coordinators' own arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..responders import ResponderSpec
from ..transcribe import HonestTranscriber, Transcriber

LIVE_SESSION_SECONDS = 7200
"""How long a GPT-Live session lasts before it expires (``expires_at``, then ``session.closed``
with reason ``expired``)."""


@dataclass(frozen=True)
class EngineOptions:
    """How a session behaves, the same for each session of a backend."""

    scenario: ResponderSpec = None
    """Replies: ``None`` (the default responder), scenario steps, a callable or a responder;
    each session makes its own responder from it."""
    transcriber: Transcriber = field(default_factory=HonestTranscriber)
    """Input transcription (shared by the sessions)."""
    drop_after_events: int | None = None
    """Fault: drop the data channel after this many server events."""
    keep_audio: bool = False
    """Keep all input audio in the session record (for tests)."""
    realtime_factor: float = 1.0
    """How much faster than real time replies are paced."""
    live_session_seconds: int = LIVE_SESSION_SECONDS
    """GPT-Live only: the session's lifetime (a Realtime session ends at its config's
    ``expires_at``)."""

    @property
    def speed(self) -> float:
        """``realtime_factor``, kept above zero."""
        return max(self.realtime_factor, 0.01)

    def drops_at(self, server_events: int) -> bool:
        """Whether the data channel drops once this many server events have gone out."""
        return self.drop_after_events is not None and server_events == self.drop_after_events
