"""The kernel's live sessions: ``rt.sessions()`` lists them, ``rt.disconnect_all()`` ends them.

A session registers when it is created and leaves when it is closed; the registry holds it
weakly, so a session nobody references can still go away.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import SessionCore

_lock = threading.Lock()
_live: weakref.WeakValueDictionary[int, SessionCore] = weakref.WeakValueDictionary()
_order = 0


def register(session: SessionCore) -> None:
    global _order
    with _lock:
        _order += 1
        _live[_order] = session


def forget(session: SessionCore) -> None:
    with _lock:
        for key, value in list(_live.items()):
            if value is session:
                del _live[key]


def sessions() -> list[SessionCore]:
    """The kernel's sessions not closed yet, oldest first."""
    with _lock:
        return [session for _, session in sorted(_live.items())]


def disconnect_all() -> int:
    """End every session's call (as Disconnect does); how many there were."""
    live = sessions()
    for session in live:
        session.end_call()
    return len(live)
