"""The effective session a new Realtime call starts from."""

from __future__ import annotations

import time
from typing import Any

from ...wire.audio import SAMPLE_RATE
from ...wire.models import DEFAULT_MODEL
from .ids import new_id

DEFAULT_INSTRUCTIONS = (
    "You are the rt_notebook local backend, a simulator of the OpenAI Realtime API. "
    "You answer about what you heard or were told."
)
SERVER_VAD: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
"""OpenAI's default turn detection (Realtime's default; how the Live simulation hears turns)."""
_PCM = {"type": "audio/pcm", "rate": SAMPLE_RATE}


def default_session(model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The effective session a new call starts from (what ``session.created`` shows)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": int(time.time()) + 3600,
        "audio": {
            "input": {
                "format": dict(_PCM),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD),
            },
            "output": {"format": dict(_PCM), "voice": "marin", "speed": 1.0},
        },
    }
