"""The anywidget that runs the WebRTC session in the notebook's browser."""

from __future__ import annotations

from pathlib import Path

import anywidget
from traitlets import Bool, Dict, Enum, Unicode

STATIC = Path(__file__).parent.parent / "static"


class RealtimeWidget(anywidget.AnyWidget):
    """Browser half of a :class:`~rt_notebook.RealtimeSession`; see docs/widget-protocol.md."""

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    session_config = Dict().tag(sync=True)
    """The flat GA session sent with the offer (validated in Python)."""
    signaling = Enum(["auto", "server", "kernel"], default_value="auto").tag(sync=True)
    """How the SDP offer is exchanged: the server extension, the kernel, or whichever works."""
    status = Unicode("idle").tag(sync=True)
    """idle, connecting, connected, interrupted, closed or error (set by the browser)."""
    error = Dict(allow_none=True, default_value=None).tag(sync=True)
    """The last error, ``{code, message, fix}``, or None."""
    backend = Unicode("").tag(sync=True)
    """"openai" or "local" once known."""
    call_id = Unicode("").tag(sync=True)
    """The ``rtc_…`` id of the current call."""
    muted = Bool(False).tag(sync=True)
    """Whether the microphone is muted."""
    push_to_talk = Bool(False).tag(sync=True)
    """Show a hold-to-talk button instead of an open microphone."""
    mic_device_id = Unicode("").tag(sync=True)
    """The chosen microphone (``""`` = the default)."""
    local_options = Dict().tag(sync=True)
    """``{"scenario": [...]}``: scripted replies when the call lands on the local backend."""
    record_audio = Bool(True).tag(sync=True)
    """Send microphone and assistant audio to the kernel (``RealtimeSession.recordings``)."""
    audio_constraints = Dict(
        {"echoCancellation": True, "noiseSuppression": True, "autoGainControl": True}
    ).tag(sync=True)
    """getUserMedia audio constraints."""
