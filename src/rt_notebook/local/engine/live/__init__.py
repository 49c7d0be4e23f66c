"""The local backend's GPT-Live engine: the Realtime coordinator's sibling (see :mod:`.core`)."""

from .core import DEFAULT_LIVE_INSTRUCTIONS, LiveEngine, Source
from .dispatch import LIVE

LIVE_CLIENT_EVENTS = tuple(LIVE)
"""The client event types the Live engine knows."""

__all__ = ["DEFAULT_LIVE_INSTRUCTIONS", "LIVE_CLIENT_EVENTS", "LiveEngine", "Source"]
