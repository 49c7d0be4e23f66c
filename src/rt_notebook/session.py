"""``RealtimeSession``: a realtime voice session in a notebook, driven from Python."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

import ipywidgets

from .analysis import SessionAnalysis
from .events import Direction, EventLog, RealtimeEvent
from .recordings import Recordings
from .sequencing import ResponseSequencer
from .session_config import apply_update, compose_session, validate_session
from .tools import FunctionTool, as_output, error_output, function_tool
from .transcript import Transcript
from .usage import PRICES, Prices
from .widget import RealtimeWidget

__all__ = ["RealtimeSession"]

log = logging.getLogger(__name__)

Handler = Callable[[RealtimeEvent], Any]
F = TypeVar("F", bound=Callable[..., Any])


class RealtimeSession(SessionAnalysis):
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
        self._config = compose_session(
            model=model,
            voice=voice,
            instructions=instructions,
            transcription=transcription,
            turn_detection=None if push_to_talk else turn_detection,
            session=session,
        )
        self.widget = RealtimeWidget(
            session_config=self._config,
            signaling=signaling,
            push_to_talk=push_to_talk,
            record_audio=record_audio,
        )
        if local_scenario is not None:
            from .local.responders import check_scenario

            self.widget.local_options = {"scenario": check_scenario(local_scenario)}
        if audio_constraints:
            self.widget.audio_constraints = {**self.widget.audio_constraints, **audio_constraints}
        self.output = ipywidgets.Output(layout={"max_height": "20em", "overflow": "auto"})
        """Where handler and tool output (prints, figures, errors) appears, under the widget."""
        self.events = EventLog()
        """Every event in both directions, with the browser's timestamps."""
        self.transcript = Transcript()
        """The conversation as turns."""
        self.tools: dict[str, FunctionTool] = {}
        """Registered tools by name."""
        self.prices = prices or PRICES
        """USD per million tokens, by model (see ``rt_notebook.usage.PRICES``)."""
        self.budget_usd = budget_usd
        """When the session's cost reaches this, no new responses and the call ends."""
        self.recordings = Recordings(max_memory_seconds=max_memory_seconds)
        """Microphone and assistant audio as numpy arrays (when ``record_audio``)."""
        self._handlers: dict[str, list[Handler]] = {}
        self._once: set[int] = set()
        self._sequencer = ResponseSequencer(self._send_now)
        self._tasks: set[asyncio.Task[Any]] = set()
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

    @property
    def config(self) -> dict[str, Any]:
        """The session config the next connection will use (a copy)."""
        return json.loads(json.dumps(self._config))  # type: ignore[no-any-return]

    # ---- connection -------------------------------------------------------------------

    def connect(self) -> None:
        """Start the call, as the Connect button does. The widget must be displayed."""
        self.widget.send({"kind": "connect"})

    def disconnect(self) -> None:
        """End the call, as the Disconnect button does."""
        self.widget.send({"kind": "disconnect"})

    # ---- callbacks ----------------------------------------------------------------------

    @overload
    def on(self, event_type: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event_type: str, handler: F) -> RealtimeSession: ...

    def on(self, event_type: str, handler: F | None = None) -> Any:
        """Call ``handler(event)`` for each event of ``event_type`` (``"*"`` for all).

        Works as a method (returns the session) or a decorator (returns the function).
        """
        if handler is None:

            def decorate(fn: F) -> F:
                self.on(event_type, fn)
                return fn

            return decorate
        self._handlers.setdefault(event_type, []).append(handler)
        return self

    def once(self, event_type: str, handler: Handler) -> RealtimeSession:
        """Like :meth:`on`, for the next matching event only."""
        self._once.add(id(handler))
        return self.on(event_type, handler)

    def off(self, event_type: str, handler: Handler | None = None) -> RealtimeSession:
        """Remove one handler, or every handler of ``event_type``."""
        handlers = self._handlers.get(event_type, [])
        if handler is None:
            handlers.clear()
        elif handler in handlers:
            handlers.remove(handler)
        return self

    # ---- tools ------------------------------------------------------------------------

    @overload
    def tool(
        self, function: F, *, name: str | None = None, description: str | None = None
    ) -> F: ...

    @overload
    def tool(
        self, *, name: str | None = None, description: str | None = None
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        function: F | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Any:
        """Register a Python function as a tool the model can call (decorator or method).

        The JSON schema comes from the type hints and the docstring's ``Args:`` section.
        """
        if function is None:
            return lambda fn: self.tool(fn, name=name, description=description)
        built = function_tool(function, name=name, description=description)
        self.tools[built.name] = built
        self._apply({"tools": [t.to_session_tool() for t in self.tools.values()]})
        return function

    # ---- sending ------------------------------------------------------------------------

    def update(self, **fields: Any) -> None:
        """``session.update`` with GA fields (e.g. ``instructions=…``, ``tools=[…]``).

        Convenience keywords ``voice``, ``transcription`` and ``turn_detection`` are placed
        at their GA paths. The change also applies to later connections.
        """
        convenience = {
            k: fields.pop(k) for k in ("voice", "transcription", "turn_detection") if k in fields
        }
        update = compose_session(session=fields, **convenience, partial=True)
        self._apply(update)

    def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user message and (by default) ask for a response."""
        self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        if respond:
            self.create_response()

    def send_image(
        self, image: Any, *, text: str | None = None, detail: str = "auto", respond: bool = True
    ) -> None:
        """Show the model an image: a matplotlib figure, an array, a PNG/JPEG path or bytes."""
        data, mime = image_bytes(image)
        content: list[dict[str, Any]] = [{"type": "input_image", "image_url": "", "detail": detail}]
        if text:
            content.append({"type": "input_text", "text": text})
        event = {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": content},
        }
        binary = {"path": ["item", "content", 0, "image_url"], "mime": mime}
        self.widget.send({"kind": "send", "event": event, "binary": binary}, [data])
        if respond:
            self.create_response()

    def create_response(self, **response: Any) -> None:
        """``response.create``, queued until no response is active."""
        self._sequencer.request(response or None)

    def interrupt(self) -> None:
        """Stop the assistant: ``response.cancel`` (if one is active) and clear playback."""
        if self._sequencer.active:
            self.send({"type": "response.cancel"})
        self.send({"type": "output_audio_buffer.clear"})

    def send(self, event: Mapping[str, Any]) -> None:
        """Send any GA client event as is (queued in the browser until the channel opens)."""
        if not isinstance(event.get("type"), str):
            raise ValueError("a client event needs a 'type', e.g. {'type': 'response.create'}")
        self._send_now(dict(event))

    def _send_now(self, event: dict[str, Any]) -> None:
        self.widget.send({"kind": "send", "event": event})

    def _apply(self, update: dict[str, Any]) -> None:
        """Validate a partial session change, keep it for reconnects, send it if connected."""
        merged = validate_session(apply_update(self._config, update))
        self._config = merged
        self.widget.session_config = merged
        if self.status in ("connected", "interrupted"):
            self.send({"type": "session.update", "session": {"type": "realtime", **update}})

    # ---- from the browser ---------------------------------------------------------------

    def _on_frontend_message(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "events":
            for entry in content.get("batch") or []:
                self._receive(entry)
        elif kind == "audio":
            self.recordings.receive(content, buffers)
        elif kind == "offer":
            from .relay import KernelRelay

            if self._relay is None:
                self._relay = KernelRelay(self.widget)
            self._relay.handle_offer(content)
        else:
            log.debug("rt_notebook: ignoring frontend message %r", kind)

    def _receive(self, entry: Any) -> None:
        if not isinstance(entry, dict) or not isinstance(entry.get("event"), dict):
            return
        direction: Direction = "client" if entry.get("dir") == "client" else "server"
        t = float(entry.get("t") or 0.0)
        event = self.events.append(entry["event"], t, direction)
        self.transcript.update(event)
        if direction == "server":
            self._sequencer.observe(event)
            if event.type == "response.function_call_arguments.done":
                self._run_tool(event)
            elif event.type == "response.done" and self.budget_usd is not None:
                self._check_budget()
        self._dispatch(event)

    def _check_budget(self) -> None:
        spent = self.cost()["cost_usd"]
        if self.budget_usd is None or spent < self.budget_usd or self._sequencer.stopped:
            return
        self._sequencer.stop()
        message = (
            f"Budget reached: this session has cost ${spent:.4f} of its "
            f"${self.budget_usd:.4f} budget, so no new responses are created and the "
            "call was ended."
        )
        self.widget.error = {
            "code": "budget_reached",
            "message": message,
            "fix": "Raise budget_usd, or start a new session.",
        }
        self.output.append_stderr(message + "\n")
        log.warning("rt_notebook: %s", message)
        self.disconnect()

    def _dispatch(self, event: RealtimeEvent) -> None:
        for key in (event.type, "*"):
            for handler in list(self._handlers.get(key, [])):
                if id(handler) in self._once:
                    self._once.discard(id(handler))
                    self.off(key, handler)
                self._call(handler, event)

    def _call(self, handler: Callable[..., Any], *args: Any) -> None:
        try:
            with self.output:
                result = handler(*args)
            if inspect.isawaitable(result):
                self._spawn(self._await_handler(handler, result))
        except Exception:
            self._report(handler)

    async def _await_handler(self, handler: Callable[..., Any], awaitable: Any) -> None:
        try:
            with self.output:
                await awaitable
        except Exception:
            self._report(handler)

    def _report(self, where: Callable[..., Any]) -> None:
        name = getattr(where, "__qualname__", repr(where))
        text = traceback.format_exc()
        log.error("rt_notebook: %s raised\n%s", name, text)
        self.output.append_stderr(f"Error in {name}:\n{text}")

    def _run_tool(self, event: RealtimeEvent) -> None:
        """Sync tools run right here, in the comm handler; async tools as tasks."""
        call_id, name = str(event.call_id), str(event.name)
        self._sequencer.tool_started(call_id)
        tool = self.tools.get(name)
        if tool is None:
            self._tool_done(call_id, error_output(f"no tool named {name!r} is registered"))
            return
        try:
            kwargs = tool.parse(str(event.arguments or ""))
        except ValueError as exc:
            self._tool_done(call_id, error_output(str(exc)))
            return
        if tool.is_async:
            self._spawn(self._await_tool(call_id, tool, kwargs))
            return
        try:
            with self.output:
                result = tool.function(**kwargs)
        except Exception as exc:
            self._report(tool.function)
            self._tool_done(call_id, error_output(f"{type(exc).__name__}: {exc}"))
            return
        self._tool_done(call_id, as_output(result))

    async def _await_tool(self, call_id: str, tool: FunctionTool, kwargs: dict[str, Any]) -> None:
        try:
            with self.output:
                result = await tool.function(**kwargs)
        except Exception as exc:
            self._report(tool.function)
            self._tool_done(call_id, error_output(f"{type(exc).__name__}: {exc}"))
            return
        self._tool_done(call_id, as_output(result))

    def _tool_done(self, call_id: str, output: str) -> None:
        self.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output},
            }
        )
        self._sequencer.tool_finished(call_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def image_bytes(image: Any) -> tuple[bytes, str]:
    """(bytes, mime) for a matplotlib figure, an array, a path, or PNG/JPEG bytes."""
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
    elif isinstance(image, (str, Path)):
        data = Path(image).read_bytes()
    elif hasattr(image, "savefig"):
        buffer = io.BytesIO()
        image.savefig(buffer, format="png", bbox_inches="tight")
        data = buffer.getvalue()
    else:
        import matplotlib.image
        import numpy as np

        buffer = io.BytesIO()
        array = np.asarray(image)
        matplotlib.image.imsave(
            buffer, array, format="png", cmap="gray" if array.ndim == 2 else None
        )
        data = buffer.getvalue()
    if data.startswith(b"\x89PNG"):
        return data, "image/png"
    if data.startswith(b"\xff\xd8"):
        return data, "image/jpeg"
    raise ValueError("images must be PNG or JPEG (the Realtime API accepts only these)")
