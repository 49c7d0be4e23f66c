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
    from .kernel.batch import run_batch
    from .kernel.browser import RealtimeSession
    from .kernel.headless import HeadlessSession
    from .kernel.live import LiveUnsupported
    from .kernel.registry import disconnect_all, sessions
    from .kernel.tools import FunctionTool, function_tool
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
    "RealtimeSession": "kernel.browser",
    "HeadlessSession": "kernel.headless",
    "run_batch": "kernel.batch",
    "disconnect_all": "kernel.registry",
    "sessions": "kernel.registry",
    "RecordedSession": "analysis.recorded",
    "load_session": "analysis.recorded",
    "PRICES": "analysis.usage",
    "Prices": "analysis.usage",
    "TranscriptionPrices": "analysis.usage",
    "LivePrices": "analysis.usage",
    "LiveUnsupported": "kernel.live",
    "DEFAULT_MODEL": "wire.models",
    "DEFAULT_TRANSCRIPTION_MODEL": "wire.models",
    "ModelDeprecationWarning": "wire.models",
    "RealtimeEvent": "wire.events",
    "FunctionTool": "kernel.tools",
    "function_tool": "kernel.tools",
    "Transcript": "analysis.transcript",
    "Turn": "analysis.transcript",
    "SessionConfigError": "wire.session_config",
    "compose_session": "wire.session_config",
    "validate_session": "wire.session_config",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'rt_notebook' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .errors import redact_every_log_record
    from .server.app import RealtimeExtension

    redact_every_log_record()  # before Jupyter logs its configs, the key among them

    return [{"module": "rt_notebook.server.app", "app": RealtimeExtension}]
