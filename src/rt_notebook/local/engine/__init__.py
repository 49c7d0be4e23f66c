"""The local backend's protocol engine: one session, split into rooms (see :mod:`.core`).

Protocol-neutral rooms, for any protocol that streams audio: :mod:`.audio_in` (input buffer and
VAD), :mod:`.audio_formats` (PCM16/G.711), :mod:`.speech_out` (paced speech and text, cancellable).
The Realtime ones: :mod:`.dispatch` (the client event table), :mod:`.turns`, :mod:`.responses`,
:mod:`.conversation`, :mod:`.audio_out`, :mod:`.usage`, and :mod:`.core` (the coordinator).

GPT-Live is the sibling coordinator in :mod:`.live`, with its own table and event shapes
(``session.start``, ``session.input_audio.append``, timed transcript deltas, ``response.event``,
``session.closed``), reusing the neutral rooms and :class:`~rt_notebook.local.playback.Playback`.
"""

from .core import SessionEngine, SessionRecord, Transport
from .defaults import DEFAULT_INSTRUCTIONS, default_session
from .dispatch import REALTIME
from .errors import ClientError
from .ids import new_id
from .options import EngineOptions

CLIENT_EVENTS = tuple(REALTIME)
"""The client event types the Realtime engine accepts."""

__all__ = [
    "CLIENT_EVENTS",
    "DEFAULT_INSTRUCTIONS",
    "ClientError",
    "EngineOptions",
    "SessionEngine",
    "SessionRecord",
    "Transport",
    "default_session",
    "new_id",
]
