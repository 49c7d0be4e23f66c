"""rt_notebook: realtime voice sessions with the OpenAI Realtime API inside Jupyter."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import RealtimeError

if TYPE_CHECKING:
    from .analysis.recorded import RecordedSession, load_session
    from .analysis.transcript import Transcript, Turn
    from .analysis.usage import PRICES, LivePrices, Prices, TranscriptionPrices
    from .sessions.batch import run_batch
    from .sessions.browser import RealtimeSession
    from .sessions.headless import HeadlessSession
    from .sessions.live import LiveUnsupported
    from .sessions.registry import disconnect_all, sessions
    from .sessions.tools import FunctionTool, function_tool
    from .wire.events import RealtimeEvent
    from .wire.models import DEFAULT_MODEL, DEFAULT_TRANSCRIPTION_MODEL, ModelDeprecationWarning
    from .wire.session_config import SessionConfigError, compose_session, validate_session

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "PRICES",
    "FunctionTool",
    "HeadlessSession",
    "LivePrices",
    "LiveUnsupported",
    "ModelDeprecationWarning",
    "Prices",
    "RealtimeError",
    "RealtimeEvent",
    "RealtimeSession",
    "RecordedSession",
    "SessionConfigError",
    "Transcript",
    "TranscriptionPrices",
    "Turn",
    "__version__",
    "compose_session",
    "disconnect_all",
    "function_tool",
    "load_session",
    "run_batch",
    "sessions",
    "validate_session",
]

# Everything loads on first use: the server extension never imports the widget, and
# ``import rt_notebook`` imports no pydantic, numpy or aiortc.
_LAZY = {
    "RealtimeSession": "sessions.browser",
    "HeadlessSession": "sessions.headless",
    "run_batch": "sessions.batch",
    "disconnect_all": "sessions.registry",
    "RecordedSession": "analysis.recorded",
    "load_session": "analysis.recorded",
    "PRICES": "analysis.usage",
    "Prices": "analysis.usage",
    "TranscriptionPrices": "analysis.usage",
    "LivePrices": "analysis.usage",
    "LiveUnsupported": "sessions.live",
    "DEFAULT_MODEL": "wire.models",
    "DEFAULT_TRANSCRIPTION_MODEL": "wire.models",
    "ModelDeprecationWarning": "wire.models",
    "RealtimeEvent": "wire.events",
    "FunctionTool": "sessions.tools",
    "function_tool": "sessions.tools",
    "Transcript": "analysis.transcript",
    "Turn": "analysis.transcript",
    "SessionConfigError": "wire.session_config",
    "compose_session": "wire.session_config",
    "validate_session": "wire.session_config",
}


def __getattr__(name: str) -> Any:
    if name == "sessions":  # the package, callable: rt.sessions() lists the live sessions
        return importlib.import_module(".sessions", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'rt_notebook' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import RealtimeExtension

    return [{"module": "rt_notebook.server.app", "app": RealtimeExtension}]
