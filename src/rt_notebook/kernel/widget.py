"""The anywidget that runs the WebRTC session in the notebook's browser."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_origin

import anywidget
from traitlets import Bool, Dict, Enum, List, TraitType, Unicode, validate

from ..errors import redact
from ..wire.widget_protocol import TRAIT, literal_values

STATIC = Path(__file__).parent.parent / "static"


def synced(name: str) -> TraitType[Any, Any]:
    """The traitlet of the schema's trait ``name`` (its type, default and help), synced."""
    trait = TRAIT[name]
    default = copy.deepcopy(trait.default)
    values = literal_values(trait.type)
    kind: TraitType[Any, Any]
    if values:
        kind = Enum(values, default_value=default, help=trait.doc)
    elif trait.type is bool:
        kind = Bool(default, help=trait.doc)
    elif trait.type is str:
        kind = Unicode(default, help=trait.doc)
    elif get_origin(trait.type) is list:
        kind = List(default_value=default, help=trait.doc)
    else:  # an object, or an object or null
        kind = Dict(default_value=default, allow_none=default is None, help=trait.doc)
    return kind.tag(sync=True)


class RealtimeWidget(anywidget.AnyWidget):
    """Browser half of a :class:`~rt_notebook.RealtimeSession`; its traits are declared in
    :mod:`rt_notebook.wire.widget_protocol` (see docs/widget-protocol.md)."""

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    session_config = synced("session_config")
    protocol = synced("protocol")
    signaling = synced("signaling")
    status = synced("status")
    error = synced("error")
    notice = synced("notice")
    backend = synced("backend")
    call_id = synced("call_id")
    muted = synced("muted")
    push_to_talk = synced("push_to_talk")
    mic_device_id = synced("mic_device_id")
    audio_constraints = synced("audio_constraints")
    record_audio = synced("record_audio")
    local_options = synced("local_options")
    route = synced("route")
    cost = synced("cost")
    voices = synced("voices")
    continuity = synced("continuity")

    @validate("error")
    def _redacted_error(self, proposal: Any) -> Any:
        """Whoever sets it (the browser too), the error holds no key."""
        return redact(proposal["value"])

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once when the widget is closed (from Python)."""
        self._close_callbacks = [*getattr(self, "_close_callbacks", []), callback]

    def close(self) -> None:
        callbacks, self._close_callbacks = getattr(self, "_close_callbacks", []), []
        super().close()
        for callback in callbacks:
            callback()
