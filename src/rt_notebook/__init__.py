"""rt_notebook: realtime voice sessions with the OpenAI Realtime API inside Jupyter."""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .errors import RealtimeError
from .session_config import SessionConfigError, validate_session

__all__ = ["RealtimeError", "SessionConfigError", "__version__", "validate_session"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import RealtimeExtension

    return [{"module": "rt_notebook.server.app", "app": RealtimeExtension}]
