"""Which of OpenAI's two voice APIs a session speaks: Realtime or GPT-Live.

The one place that decides it from a model name: ``gpt-live-<version>`` models speak Live
(``/v1/live/sessions``), every other model speaks Realtime (``/v1/realtime``).
"""

from __future__ import annotations

import re

from .models import LIVE_MODELS
from .widget_protocol import WireProtocol

__all__ = ["WireProtocol", "choose_protocol", "protocol_for_model"]

# Any gpt-live-<version> is Live (gpt-live-1, gpt-live-1.1, gpt-live-2-2027-01-01), also one
# this release does not list yet; not gpt-live-transcribe (a transcription model).
_LIVE_MODEL = re.compile(r"gpt-live-\d[\w.-]*")


def protocol_for_model(model: str | None) -> WireProtocol:
    """``"live"`` for a GPT-Live model, else ``"realtime"`` (also for no model)."""
    return "live" if model and _LIVE_MODEL.fullmatch(model) else "realtime"


def choose_protocol(model: str | None = None, protocol: str | None = None) -> WireProtocol:
    """The protocol of a session: ``protocol`` when given, else the model's.

    Raises ``ValueError`` for an unknown protocol, or one the model does not speak (a
    ``gpt-live-*`` model refuses ``/realtime``, a Realtime model is unknown to Live).
    """
    implied = protocol_for_model(model)
    if protocol is None:
        return implied
    if protocol not in ("realtime", "live"):
        raise ValueError(f'protocol must be "realtime" or "live", not {protocol!r}')
    if model and protocol != implied:
        raise ValueError(
            f"model {model!r} speaks the {implied} protocol, not {protocol}: "
            + (
                f"use a GPT-Live model ({', '.join(LIVE_MODELS)}) for protocol='live'"
                if protocol == "live"
                else "use a Realtime model (e.g. gpt-realtime-2.1) for protocol='realtime'"
            )
        )
    return protocol  # type: ignore[return-value]
