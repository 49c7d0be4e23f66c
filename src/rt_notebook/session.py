"""``RealtimeSession``: a realtime voice session in a notebook, its call in the browser."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import ipywidgets

from .core import SessionCore, image_bytes, image_message
from .events import Direction
from .recordings import Recordings
from .session_config import compose_session
from .usage import Prices
from .widget import RealtimeWidget

__all__ = ["RealtimeSession", "image_bytes"]

log = logging.getLogger(__name__)


class RealtimeSession(SessionCore):
    """A realtime session: display it to get the widget, then talk, type, or call methods.

    Every event in both directions reaches Python (``on``), tools run in the kernel, and the
    session keeps the transcript and the timestamped event log.

    Args:
        model: The realtime model, e.g. ``"gpt-realtime"`` (the server's default if unset).
        voice: ``audio.output.voice``, e.g. ``"marin"`` or ``"cedar"``.
        instructions: The system instructions.
        transcription: Input transcription model (on by default); ``None`` switches it off.
        turn_detection: ``"server_vad"`` (default), ``"semantic_vad"``, a full GA config, or
            ``None`` for manual turns.
        session: Any further GA session fields, merged on top (validated; beta-era fields
            are refused with the GA path to use).
        push_to_talk: A hold-to-talk button instead of an open microphone (manual turns).
        signaling: ``"auto"`` (server extension, else the kernel), ``"server"`` or ``"kernel"``.
        audio_constraints: getUserMedia switches (``echoCancellation``, …; all on by default).
        prices: USD per million tokens by model, for ``cost()`` and the budget.
        budget_usd: Stop creating responses and end the call when the cost reaches this.
        record_audio: Send microphone and assistant audio to ``recordings``.
        max_memory_seconds: Audio kept in memory per track; older audio goes to a temp file.
        local_scenario: Scripted replies used when the call lands on the local backend.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        voice: str | None = None,
        instructions: str | None = None,
        transcription: str | None = "gpt-4o-mini-transcribe",
        turn_detection: str | Mapping[str, Any] | None = "server_vad",
        session: Mapping[str, Any] | None = None,
        push_to_talk: bool = False,
        signaling: str = "auto",
        audio_constraints: Mapping[str, bool] | None = None,
        prices: Mapping[str, Prices] | None = None,
        budget_usd: float | None = None,
        record_audio: bool = True,
        max_memory_seconds: float = 600.0,
        local_scenario: list[Any] | None = None,
    ) -> None:
        config = compose_session(
            model=model,
            voice=voice,
            instructions=instructions,
            transcription=transcription,
            turn_detection=None if push_to_talk else turn_detection,
            session=session,
        )
        self.widget = RealtimeWidget(
            session_config=config,
            signaling=signaling,
            push_to_talk=push_to_talk,
            record_audio=record_audio,
        )
        super().__init__(config, prices=prices, budget_usd=budget_usd)
        if local_scenario is not None:
            from .local.responders import check_scenario

            self.widget.local_options = {"scenario": check_scenario(local_scenario)}
        if audio_constraints:
            self.widget.audio_constraints = {**self.widget.audio_constraints, **audio_constraints}
        self.output = ipywidgets.Output(layout={"max_height": "20em", "overflow": "auto"})
        """Where handler and tool output (prints, figures, errors) appears, under the widget."""
        self.recordings = Recordings(max_memory_seconds=max_memory_seconds)
        """Microphone and assistant audio as numpy arrays (when ``record_audio``)."""
        self._relay: Any = None
        self.widget.on_msg(self._on_frontend_message)

    # ---- display and state ------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return ipywidgets.VBox([self.widget, self.output])._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<RealtimeSession {self.status} {self._config.get('model', '')}>"

    @property
    def status(self) -> str:
        """idle, connecting, connected, interrupted, closed or error."""
        return str(self.widget.status)

    @property
    def error(self) -> dict[str, Any] | None:
        """The last error shown in the widget, ``{code, message, fix}``."""
        return self.widget.error

    # ---- connection -------------------------------------------------------------------

    def connect(self) -> None:
        """Start the call, as the Connect button does."""
        self.widget.send({"kind": "connect"})

    def disconnect(self) -> None:
        """End the call, as the Disconnect button does."""
        self.widget.send({"kind": "disconnect"})

    def send_image(
        self, image: Any, *, text: str | None = None, detail: str = "auto", respond: bool = True
    ) -> None:
        """Show the model an image: a matplotlib figure, an array, a PNG/JPEG path or bytes.

        The bytes cross the comm as a binary buffer; the browser makes the data URL.
        """
        data, mime = image_bytes(image)
        binary = {"path": ["item", "content", 0, "image_url"], "mime": mime}
        event = image_message("", text, detail)
        self.widget.send({"kind": "send", "event": event, "binary": binary}, [data])
        if respond:
            self.create_response()

    def interrupt(self) -> None:
        """Stop the assistant: ``response.cancel`` (if one is active) and clear playback."""
        if self._sequencer.active:
            self.send({"type": "response.cancel"})
        self.send({"type": "output_audio_buffer.clear"})

    # ---- the transport: the widget's comm ---------------------------------------------

    def _transmit(self, event: dict[str, Any]) -> None:
        self.widget.send({"kind": "send", "event": event})

    def _config_changed(self, config: dict[str, Any]) -> None:
        self.widget.session_config = config

    def _stop(self, code: str, message: str, fix: str) -> None:
        self.widget.error = {"code": code, "message": message, "fix": fix}
        self.disconnect()

    @contextlib.contextmanager
    def _output(self) -> Iterator[None]:
        with self.output:
            yield

    def _show_error(self, text: str) -> None:
        self.output.append_stderr(text)

    def _on_frontend_message(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "events":
            for entry in content.get("batch") or []:
                if isinstance(entry, dict) and isinstance(entry.get("event"), dict):
                    direction: Direction = "client" if entry.get("dir") == "client" else "server"
                    self._receive(entry["event"], float(entry.get("t") or 0.0), direction)
        elif kind == "audio":
            self.recordings.receive(content, buffers)
        elif kind == "offer":
            from .relay import KernelRelay

            if self._relay is None:
                self._relay = KernelRelay(self.widget)
            self._relay.handle_offer(content)
        else:
            log.debug("rt_notebook: ignoring frontend message %r", kind)
