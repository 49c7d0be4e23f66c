"""``RealtimeSession``: a realtime voice session in a notebook, its call in the browser."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import ipywidgets

from ..errors import redact, redacting_logger
from ..wire.events import as_dicts
from ..wire.protocols import WireProtocol, choose_protocol
from ..wire.scenario import check_scenario
from ..wire.session_config import VOICES, SessionConfigError
from ..wire.sideband import Sideband
from ..wire.widget_protocol import (
    BinaryTarget,
    CostFigures,
    Direction,
    DownloadKind,
    KernelMessage,
    Route,
    Status,
    TurnMode,
    WidgetError,
    literal_values,
)
from . import registry
from .capture import captured_into
from .core import SessionCore, image_bytes, image_message
from .options import RealtimeOptions, config_errors_at_caller, resolve, signature
from .recordings import Recordings
from .subshells import (
    frontend_subshell,
    keep_status_idle,
    restore_routing,
    route_to_frontend_subshell,
)
from .widget import RealtimeWidget

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["RealtimeSession"]

log = redacting_logger(__name__)


class RealtimeSession(SessionCore):
    """A realtime session: display it to get the widget, then talk, type, or call methods.

    Every event in both directions reaches Python (``on``), tools run in the kernel, and the
    session keeps the transcript and the timestamped event log.

    Keywords (all optional, see :class:`~rt_notebook.kernel.options.RealtimeOptions`):
    ``model``, ``voice``, ``instructions``, ``transcription``, ``turn_detection``,
    ``session``, ``prices``, ``budget_usd``, ``local_scenario``, ``push_to_talk``,
    ``signaling``, ``audio_constraints``, ``record_audio``, ``max_memory_seconds``,
    ``sideband``, ``events_during_cells``.
    """

    @config_errors_at_caller
    def __init__(self, **keywords: Unpack[RealtimeOptions]) -> None:
        options = resolve("RealtimeSession", RealtimeOptions, keywords)
        if options["push_to_talk"]:
            if choose_protocol(options["model"], options["protocol"]) == "live":
                raise ValueError(
                    "push_to_talk is not available in a GPT-Live session: the Live model owns "
                    "turns (mute the microphone instead)"
                )
            options["turn_detection"] = None
        super().__init__(cast(RealtimeOptions, options))
        sideband = bool(options["sideband"])
        self.widget = RealtimeWidget(
            session_config=self._config,
            protocol=self.protocol,
            signaling="kernel" if sideband else options["signaling"],
            push_to_talk=options["push_to_talk"],
            record_audio=options["record_audio"],
            notice="\n".join(self.notices),
            voices=list(VOICES),
        )
        if options["local_scenario"] is not None:
            scenario = check_scenario(options["local_scenario"])
            self.widget.local_options = {"scenario": scenario}
        if options["audio_constraints"]:
            constraints = options["audio_constraints"]
            self.widget.audio_constraints = {**self.widget.audio_constraints, **constraints}
        self.output = ipywidgets.Output(layout={"max_height": "20em", "overflow": "auto"})
        """Where handler and tool output (prints, figures, errors) appears, under the widget."""
        self.recordings = Recordings(max_memory_seconds=options["max_memory_seconds"])
        """Microphone and assistant audio as numpy arrays (when ``record_audio``)."""
        self._relay: Any = None
        self._wants_sideband = sideband
        self.sideband: Sideband | None = None
        """The authoritative connection to the current call, when one is attached."""
        self._message_handlers: dict[str, Callable[[dict[str, Any], list[bytes]], None]] = {
            "events": self._on_events,
            "audio": self._on_audio,
            "offer": self._on_offer,
            "download": self._on_download,
            "configure": self._on_configure,
        }
        """What the kernel does with each of the widget's messages, by ``kind``."""
        self.widget.on_msg(self._on_frontend_message)
        self.widget.on_close(self._closed)
        self._comm_id = str(getattr(self.widget.comm, "comm_id", "") or "")
        keep_status_idle(self._comm_id)
        self._events_during_cells = False
        self._main_shell_batches = 0
        self.events_during_cells = bool(options["events_during_cells"])

    @property
    def events_during_cells(self) -> bool:
        """Whether the call's events are handled (and handlers and tools run) on the widgets'
        kernel subshell while a cell runs: settable; ``True`` where this kernel and frontend
        allow it, else it stays ``False`` and the session says why (``notices``)."""
        return self._events_during_cells

    @events_during_cells.setter
    def events_during_cells(self, value: bool) -> None:
        if not value:
            restore_routing(self.widget.comm)
            self._events_during_cells = False
            return
        why_not = route_to_frontend_subshell(self.widget.comm)
        if why_not is None:
            self._events_during_cells = True
        else:
            self._events_wait_for_cells(why_not)

    def _events_wait_for_cells(self, why: str) -> None:
        """Say (once) that ``events_during_cells`` was asked for and is not possible here."""
        self._events_during_cells = False
        message = f"events_during_cells: {why}, so events wait for a busy cell."
        if message not in self.notices:
            log.info("rt_notebook: %s", message)
            self.notices.append(message)
            self._notices_changed()

    # ---- display and state ------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return ipywidgets.VBox([self.widget, self.output])._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<RealtimeSession {self.status} {self._config.get('model', '')}>"

    @property
    def status(self) -> Status:
        """idle, connecting, connected, interrupted, closed or error."""
        return cast(Status, self.widget.status)

    @property
    def error(self) -> WidgetError | None:
        """The last error shown in the widget, ``{code, message, fix}``."""
        return cast("WidgetError | None", self.widget.error)

    @property
    def muted(self) -> bool:
        """Whether the microphone is off (the widget's Mute button); settable."""
        return bool(self.widget.muted)

    @muted.setter
    def muted(self, value: bool) -> None:
        self.widget.muted = bool(value)

    @property
    def signaling_path(self) -> Route:
        """Who set up the current call: ``"server"`` (the server extension), ``"kernel"``
        (asked for), ``"kernel-fallback"`` (the server extension is missing, so the kernel
        relays the offer), or ``""`` before a call."""
        return cast(Route, self.widget.route)

    # ---- connection -------------------------------------------------------------------

    def connect(self) -> None:
        """Start the call, as the Connect button does; a failure is also reported under the
        cell that called this (the widget may be scrolled away)."""
        self._report_connection()
        self._send_widget({"kind": "connect"})

    def _report_connection(self) -> None:
        """Show in the calling cell's output why this connection attempt failed, if it does."""
        try:
            from IPython.core.interactiveshell import InteractiveShell
            from IPython.display import display
        except ImportError:
            return
        if not InteractiveShell.initialized():
            return  # plain Python: the error is in s.error
        handle = display({"text/plain": ""}, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        if handle is None:
            return

        def watch(change: dict[str, Any]) -> None:
            error = self.widget.error if change["name"] in ("error", "status") else None
            if self.widget.status == "error" and error:
                fix = f"\nFix: {error['fix']}" if error.get("fix") else ""
                text = f"Could not connect: {error['message']}{fix}"
                handle.update({"text/plain": text}, raw=True)
            if self.widget.status in ("connected", "closed") or (
                self.widget.status == "error" and error
            ):
                self.widget.unobserve(watch, names=["status", "error"])

        self.widget.observe(watch, names=["status", "error"])

    def disconnect(self) -> None:
        """End the call, as the Disconnect button does."""
        self._send_widget({"kind": "disconnect"})

    def end_call(self) -> None:
        self.disconnect()

    def close(self) -> None:
        """End the call and close the widget: the browser releases the microphone and the
        connection, and the session leaves ``rt.sessions()``. The transcript, events and
        recordings stay readable."""
        if self.widget.comm is not None:
            self.disconnect()
        self.widget.close()  # the browser's model is destroyed with its comm: the call ends
        self.output.close()

    def _closed(self) -> None:
        keep_status_idle(self._comm_id, keep=False)
        registry.forget(self)

    def send_image(
        self, image: Any, *, text: str | None = None, detail: str = "auto", respond: bool = True
    ) -> None:
        """Show the model an image: a matplotlib figure, an array, a PNG/JPEG path or bytes.

        The bytes cross the comm as a binary buffer; the browser makes the data URL.
        """
        data, mime = image_bytes(image)
        binary: BinaryTarget = {"path": ["item", "content", 0, "image_url"], "mime": mime}
        event = image_message("", text, detail)
        self._send_widget({"kind": "send", "event": event, "binary": binary}, [data])
        if respond:
            self.create_response()

    def interrupt(self) -> None:
        """Stop the assistant: ``response.cancel`` (if one is active) and clear playback."""
        self._realtime_only(
            "interrupt",
            "the Live model owns barge-in and no client event cancels, truncates or clears "
            "its output (mute the microphone, or just speak)",
        )
        if self._sequencer.active:
            self.send({"type": "response.cancel"})
        self.send({"type": "output_audio_buffer.clear"})

    def attach_sideband(self, sideband: Sideband | None) -> None:
        """Send session updates, tool outputs and response requests through ``sideband``."""
        self.sideband = sideband

    # ---- the transport: the widget's comm ---------------------------------------------

    def _send_widget(self, message: KernelMessage, buffers: list[bytes] | None = None) -> None:
        self.widget.send(message, buffers)

    def _transmit(self, event: dict[str, Any]) -> None:
        if self.sideband is not None and _authoritative(event, self.protocol):
            self.sideband.send(event)
            self._receive(event, time.time() * 1000.0, "client")  # the browser never sees it
            return
        self._send_widget({"kind": "send", "event": event})

    def _send_replay(self, events: list[dict[str, Any]]) -> None:
        self._send_widget({"kind": "replay", "events": events})

    def _config_changed(self, config: dict[str, Any]) -> None:
        self.widget.session_config = config

    def _notices_changed(self) -> None:
        widget = getattr(self, "widget", None)  # None while the core's __init__ runs
        if widget is not None:
            widget.notice = "\n".join(self.notices)

    def _stop(self, code: str, message: str, fix: str) -> None:
        error: WidgetError = {"code": code, "message": message, "fix": fix}
        self.widget.error = error
        self.disconnect()

    @contextlib.contextmanager
    def _output(self) -> Iterator[None]:
        with captured_into(lambda: self.output):  # widget messages only when there is output
            yield

    def _output_across_awaits(self) -> contextlib.AbstractContextManager[Any]:
        # An async handler or tool may run for long: its output shows as it comes, not only
        # when it ends (the Output widget, entered once per call)
        return cast("contextlib.AbstractContextManager[Any]", self.output)

    def _show_error(self, text: str) -> None:
        self.output.append_stderr(redact(text))

    def _on_frontend_message(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        handler = self._message_handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            log.debug("rt_notebook: ignoring frontend message %r", kind)
            return
        if kind == "events" and self.events_during_cells:
            self._check_events_thread()
        handler(content, buffers)

    def _check_events_thread(self) -> None:
        """A frontend that sends widget messages without a subshell gets them on the main
        shell, behind a busy cell, however the comm routes. (JupyterLab sends a new widget's
        first messages so, until its subshell has started: a few in a row tell.)"""
        if threading.current_thread() is not threading.main_thread() or frontend_subshell():
            self._main_shell_batches = 0
            return
        self._main_shell_batches += 1
        if self._main_shell_batches >= _MAIN_SHELL_BATCHES:
            self._events_wait_for_cells("this frontend sends widget messages to the main shell")

    def _on_events(self, content: dict[str, Any], _buffers: list[bytes]) -> None:
        priced = False
        for entry in as_dicts(content.get("batch")):
            if isinstance(entry.get("event"), dict):  # each on its own: none costs the rest
                direction: Direction = "client" if entry.get("dir") == "client" else "server"
                event = self._receive(entry["event"], entry.get("t"), direction)
                priced = priced or event.type == "response.done"
        if priced:
            self._show_cost()

    def _show_cost(self) -> None:
        """The widget's running cost: this session's tokens and USD so far."""
        try:
            totals = self.cost()
        except Exception:
            log.warning("rt_notebook: could not price the session", exc_info=True)
            return
        figures: CostFigures = {
            "input_tokens": int(totals.get("input_tokens") or 0),
            "output_tokens": int(totals.get("output_tokens") or 0),
            "usd": float(totals.get("cost_usd") or 0.0),
            "estimated": bool(totals.get("estimated")),
        }
        self.widget.cost = figures

    def _on_download(self, content: dict[str, Any], _buffers: list[bytes]) -> None:
        from .downloads import NothingToDownload, session_file

        ident, what = str(content.get("id", "")), content.get("what")
        if what not in literal_values(DownloadKind):
            return
        try:
            name, mime, data = session_file(self, cast(DownloadKind, what))
        except NothingToDownload as exc:
            error: WidgetError = {"code": "nothing_to_download", "message": str(exc)}
            self._send_widget({"kind": "file", "id": ident, "error": error})
            return
        self._send_widget({"kind": "file", "id": ident, "name": name, "mime": mime}, [data])

    def _on_configure(self, content: dict[str, Any], _buffers: list[bytes]) -> None:
        """The widget's settings form: the same validation as ``update``; errors shown there."""
        if self.status in ("connecting", "connected", "interrupted"):
            return
        fields: dict[str, Any] = {}
        if isinstance(content.get("voice"), str) and content["voice"]:
            fields["voice"] = content["voice"]
        if isinstance(content.get("instructions"), str):
            fields["instructions"] = content["instructions"]
        mode = content.get("turn_mode")
        if mode in literal_values(TurnMode):
            fields["turn_detection"] = None if mode == "push_to_talk" else mode
        try:
            if fields:
                self.update(**fields)
        except SessionConfigError as exc:
            self.widget.error = {
                "code": "invalid_settings",
                "message": str(exc),
                "fix": "Change the setting and Apply again",
            }
            return
        if mode in literal_values(TurnMode):
            self.widget.push_to_talk = mode == "push_to_talk"
        if (self.widget.error or {}).get("code") == "invalid_settings":
            self.widget.error = None

    def _on_audio(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        try:
            with self.lock:  # read with ``s.lock`` while events arrive on a subshell
                self.recordings.receive(content, buffers)
        except Exception:
            log.warning("rt_notebook: unusable audio message", exc_info=True)

    def _on_offer(self, content: dict[str, Any], _buffers: list[bytes]) -> None:
        from .relay import KernelRelay

        if self._relay is None:
            self._relay = KernelRelay(self.widget)
        self._relay.handle_offer(content, self._on_relayed_call)

    def _on_relayed_call(self, answer: dict[str, Any]) -> None:
        if not self._wants_sideband:
            return
        from .relay import join_call

        loop = asyncio.get_running_loop()
        joining = join_call(str(answer["call_id"]), str(answer["backend"]), protocol=self.protocol)

        def joined(done: concurrent.futures.Future[Any]) -> None:
            if done.exception() is None:
                loop.call_soon_threadsafe(self.attach_sideband, done.result())
            else:
                message = f"Could not join the call by sideband: {done.exception()}\n"
                loop.call_soon_threadsafe(self._show_error, message)

        joining.add_done_callback(joined)


RealtimeSession.__signature__ = signature(RealtimeOptions)  # type: ignore[attr-defined]

_MAIN_SHELL_BATCHES = 3
"""Event batches in a row that reach the main shell without a subshell: then the frontend
does not use subshells."""


_LIVE_AUTHORITATIVE = ("session.update", "response.item.create", "response.create")


def _authoritative(event: dict[str, Any], protocol: WireProtocol = "realtime") -> bool:
    """The events a sideband carries: configuration, tool outputs, response control."""
    kind = event.get("type")
    if protocol == "live":
        return kind in _LIVE_AUTHORITATIVE
    if kind in ("session.update", "response.create", "response.cancel"):
        return True
    item = event.get("item") or {}
    return kind == "conversation.item.create" and item.get("type") == "function_call_output"
