"""What every session does whatever carries its events: callbacks, tools, responses, budget.

``RealtimeSession`` (WebRTC in the browser) and ``HeadlessSession`` (WebSocket in the kernel)
differ only in how events travel; both fold every event through one path here.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import io
import itertools
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

from ..analysis.recorded import SessionAnalysis
from ..analysis.running import RunningUsage
from ..analysis.tables import Table
from ..analysis.transcript import Transcript
from ..analysis.usage import LIVE_USAGE_EVENTS, PRICES, UsageLedger
from ..errors import redacting_logger
from ..wire.events import (
    RECONNECTED,
    RECONNECTING,
    Direction,
    EventLog,
    RealtimeEvent,
    as_dict,
    as_str,
    preload_typed_events,
)
from ..wire.live_config import (
    apply_live_update,
    compose_live_session,
    validate_live_session,
    validate_live_update,
)
from ..wire.models import DEFAULT_LIVE_MODEL, DEFAULT_MODEL, ModelDeprecationWarning
from ..wire.protocols import WireProtocol, choose_protocol
from ..wire.session_config import (
    apply_update,
    check_models,
    compose_session,
    transcription_model,
    validate_session,
)
from ..wire.widget_protocol import Status
from . import registry
from .live import LiveToolCalls, LiveUnsupported, append_event, tools_delegation
from .options import DEFAULTS, SessionOptions, config_errors_at_caller
from .replay import conversation_items, replay_events, wants_response, within_budget
from .sequencing import ResponseSequencer
from .subshells import run_on_main_thread
from .tools import FunctionTool, as_output, error_output, function_tool

log = redacting_logger(__name__)

Handler = Callable[[RealtimeEvent], Any]

_MAX_REPORT = 2000  # characters of a bad event's traceback shown
_MAX_BAD_KINDS = 200  # distinct (consumer, type) pairs counted in bad_events
_MAX_KIND = 100  # characters of an event type kept as a key
F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound="SessionCore")


class SessionCore(SessionAnalysis):
    """Events in, callbacks and tools out; subclasses provide the transport."""

    def __init__(self, options: SessionOptions) -> None:
        """``options`` has every keyword (see ``options.resolve``)."""
        self.notices: list[str] = []
        """Deprecated-model notices about this session (also warned, and shown in the widget)."""
        self.protocol: WireProtocol = choose_protocol(options["model"], options["protocol"])
        """``"realtime"`` or ``"live"`` (GPT-Live): which of OpenAI's voice APIs it speaks."""
        self._config = compose_config(self.protocol, options)
        # after the config: a Live config imports openai-python here, and two threads importing
        # its packages at once can meet a half-initialized one
        preload_typed_events()
        self._check_models(self._config)
        self.events = EventLog(max_memory_events=options["max_memory_events"])
        """Every event in both directions, with timestamps."""
        self.transcript = Transcript(live_clock=True)
        """The conversation as turns."""
        self.tools: dict[str, FunctionTool] = {}
        """Registered tools by name."""
        self.prices = options["prices"] or PRICES
        """Prices by model, realtime and transcription (``rt_notebook.analysis.usage.PRICES``)."""
        self.budget_usd = options["budget_usd"]
        """When the session's cost reaches this, no new responses and the call ends."""
        self._handlers: dict[str, list[Handler | _Once]] = {}
        self.bad_events: dict[tuple[str, str], int] = {}
        """How often a malformed event broke a consumer, by (consumer, event type)."""
        self._usage = RunningUsage()
        self._model: str | None = None
        self._sequencer = ResponseSequencer(self._transmit)
        self._live_tools = LiveToolCalls(self._transmit)
        self.lock = threading.RLock()
        """Held while an event is folded into the session's state. Events may arrive on
        another thread (a kernel subshell) while a cell runs: hold ``with s.lock:`` to read
        several parts (transcript, events, usage) as one consistent picture."""
        self.replay_tokens = 4000
        """How much of the conversation (estimated tokens, newest kept) a new call gets after
        a reconnect or rollover."""
        self._replayed: set[str] = set()
        self._replay_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        registry.register(self)

    # ---- what a transport provides ----------------------------------------------------------

    @property
    def status(self) -> Status:
        """idle, connecting, connected, interrupted, closed or error."""
        raise NotImplementedError

    def _transmit(self, event: dict[str, Any]) -> None:
        """Put a client event on the wire."""
        raise NotImplementedError

    def _stop(self, code: str, message: str, fix: str) -> None:
        """End the call because of a policy (e.g. the budget)."""
        raise NotImplementedError

    def end_call(self) -> None:
        """End the current call, if any (``rt.disconnect_all()`` calls this)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _output(self) -> Iterator[None]:
        """Where handler and tool output goes while a sync call runs."""
        yield

    def _output_across_awaits(self) -> contextlib.AbstractContextManager[Any]:
        """Where output goes while an async handler or tool runs (other code runs meanwhile)."""
        return self._output()

    def _show_error(self, text: str) -> None:
        """Make an error visible to the user."""

    def _notices_changed(self) -> None:
        """``notices`` changed: show them where the session is displayed."""

    def _config_changed(self, config: dict[str, Any]) -> None:
        """The session config for later connections changed."""

    def _send_replay(self, events: list[dict[str, Any]]) -> None:
        """Put the replayed conversation into the new call, before anything sent meanwhile."""
        for event in events:
            self._transmit(event)

    # ---- configuration ------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The session config the next connection will use (a copy)."""
        return copy.deepcopy(self._config)

    @config_errors_at_caller
    def update(self, **fields: Any) -> None:
        """``session.update`` with GA fields (e.g. ``instructions=…``, ``tools=[…]``).

        Convenience keywords ``voice``, ``transcription`` and ``turn_detection`` are placed
        at their GA paths. The change also applies to later connections. A GPT-Live session
        takes what Live can change: ``delegation`` (same type) and ``triggers``.
        """
        if self.protocol == "live":
            self._apply(validate_live_update(fields))
            return
        convenience = {
            k: fields.pop(k) for k in ("voice", "transcription", "turn_detection") if k in fields
        }
        self._apply(compose_session(session=fields, **convenience, partial=True))

    def _apply(self, update: dict[str, Any]) -> None:
        """Validate a partial session change, keep it for reconnects, send it if connected."""
        live = self.protocol == "live"
        if live:
            config = apply_live_update(self._config, update)
        else:
            config = validate_session(apply_update(self._config, update))
        self._check_models(config)
        self._config = config
        self._config_changed(self._config)
        if self.status in ("connected", "interrupted"):
            body = update if live else {"type": "realtime", **update}
            self.send({"type": "session.update", "session": body})

    def _check_models(self, config: Mapping[str, Any]) -> None:
        """Refuse a shut-down model; warn (once per model) about a deprecated one."""
        for notice in check_models(config):
            message = notice.message()
            if message in self.notices:
                continue
            self.notices.append(message)
            self._notices_changed()
            warnings.warn(message, ModelDeprecationWarning, stacklevel=4)

    # ---- callbacks ----------------------------------------------------------------------------

    @overload
    def on(self, event_type: str) -> Callable[[F], F]: ...

    @overload
    def on(self: S, event_type: str, handler: F) -> S: ...

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

    def once(self: S, event_type: str, handler: Handler) -> S:
        """Like :meth:`on`, for the next matching event only."""
        self._handlers.setdefault(event_type, []).append(_Once(handler))
        return self

    def off(self: S, event_type: str, handler: Handler | None = None) -> S:
        """Remove one handler (registered by ``on`` or ``once``), or every handler of
        ``event_type``."""
        handlers = self._handlers.get(event_type, [])
        if handler is None:
            handlers.clear()
            return self
        for registered in handlers:
            if registered is handler or (
                isinstance(registered, _Once) and registered.handler is handler
            ):
                handlers.remove(registered)
                break
        return self

    # ---- tools --------------------------------------------------------------------------------

    @overload
    def tool(
        self,
        function: F,
        *,
        name: str | None = None,
        description: str | None = None,
        main_thread: bool = False,
    ) -> F: ...

    @overload
    def tool(
        self, *, name: str | None = None, description: str | None = None, main_thread: bool = False
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        function: F | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        main_thread: bool = False,
    ) -> Any:
        """Register a Python function as a tool the model can call (decorator or method).

        The JSON schema comes from the type hints and the docstring's ``Args:`` section.
        ``main_thread=True``: when events arrive on a kernel subshell while a cell runs
        (``events_during_cells``), the tool still runs on the kernel's main thread, once that
        cell ends, so it never runs concurrently with your code; it is answered once either way.
        """
        if function is None:
            return lambda fn: self.tool(
                fn, name=name, description=description, main_thread=main_thread
            )
        built = function_tool(function, name=name, description=description, main_thread=main_thread)
        tools = [t.to_session_tool() for t in {**self.tools, built.name: built}.values()]
        if self.protocol == "live":  # a backend tool: the delegation's
            started = self.status in ("connected", "interrupted")
            delegation = tools_delegation(self._config.get("delegation"), tools, started=started)
            if started:
                self._apply({"delegation": delegation})
            else:  # a new delegation (the type may change before the start)
                self._config = validate_live_session({**self._config, "delegation": delegation})
                self._config_changed(self._config)
        else:
            self._apply({"tools": tools})
        self.tools[built.name] = built
        return function

    # ---- sending ------------------------------------------------------------------------------

    def send(self, event: Mapping[str, Any]) -> None:
        """Send any GA client event as is."""
        if not isinstance(event.get("type"), str):
            raise ValueError("a client event needs a 'type', e.g. {'type': 'response.create'}")
        self._transmit(dict(event))

    def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user message and (by default) ask for a response.

        GPT-Live has no user message: the text is appended as commentary, which the model
        answers aloud (``respond=False``: as thinking, silent context).
        """
        if self.protocol == "live":
            self.send(append_event(text, respond=respond))
            return
        self.send(user_message([{"type": "input_text", "text": text}]))
        if respond:
            self.create_response()

    def send_image(
        self, image: Any, *, text: str | None = None, detail: str = "auto", respond: bool = True
    ) -> None:
        """Show the model an image: a matplotlib figure, an array, a PNG/JPEG path or bytes."""
        self._realtime_only("send_image", "Live's voice model takes no images")
        import base64

        data, mime = image_bytes(image)
        url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        self.send(image_message(url, text, detail))
        if respond:
            self.create_response()

    def create_response(self, **response: Any) -> None:
        """``response.create``, queued until no response is active."""
        self._realtime_only(
            "create_response",
            "the Live model owns its turns (send_text appends commentary it answers aloud; "
            "tool outputs are followed by one response.create automatically)",
        )
        with self.lock:
            self._sequencer.request(response or None)

    def _realtime_only(self, operation: str, why: str) -> None:
        """Raise :class:`LiveUnsupported` for an operation GPT-Live does not offer."""
        if self.protocol == "live":
            raise LiveUnsupported(f"{operation}() is not available in a GPT-Live session: {why}")

    # ---- receiving ----------------------------------------------------------------------------

    def _receive(self, raw: dict[str, Any], t: object, direction: Direction) -> RealtimeEvent:
        """The one path every event takes: log, transcript, sequencing, tools, handlers.

        Each consumer is isolated: a malformed event that breaks one is reported (once per
        consumer and event type) and the others still see it.
        """
        with self.lock:  # the state folds whole: a reader on another thread never sees half
            event = self.events.append(raw, t, direction)
            if not self._replayed or not self._is_replayed(raw):
                self._guard("transcript", event, self.transcript.update, event)
            if direction == "server" and self.protocol == "live":
                self._usage.add(event)  # keeps only usage events and their models
            elif direction == "server":
                if event.type == RECONNECTING:
                    self._sequencer.pause()
                elif event.type == RECONNECTED:
                    self._guard("replay", event, self._replay)
                if event.type in ("session.created", "session.updated"):
                    self._guard("model check", event, self._notice_models, as_dict(event.session))
                self._usage.add(event)  # keeps only usage events and their models
                self._guard("response sequencer", event, self._sequencer.observe, event)
        if direction == "server" and self.protocol == "live":
            self._receive_live(event)
        elif direction == "server":
            if event.type == "response.function_call_arguments.done":
                self._guard("tool runner", event, self._run_tool, event)
            elif event.type == "response.done":
                if self.budget_usd is not None:
                    self._guard("budget", event, self._check_budget)
            elif event.type in ("session.created", "session.updated"):
                self._guard("model", event, self._note_model, event)
        self._dispatch(event)
        return event

    def _receive_live(self, event: RealtimeEvent) -> None:
        """A GPT-Live server event: backend tool calls, the model, usage in seconds."""
        if event.type == "response.event":
            self._guard("tool runner", event, self._run_live_calls, event)
        elif event.type in ("session.started", "session.updated"):
            self._guard("model", event, self._note_model, event)
        elif event.type in LIVE_USAGE_EVENTS and self.budget_usd is not None:
            self._guard("budget", event, self._check_budget)

    def _run_live_calls(self, event: RealtimeEvent) -> None:
        with self.lock:
            calls = self._live_tools.observe(event)
        for call in calls:
            self._run_call(call.call_id, call.name, call.arguments)

    def _replay(self) -> None:
        """A new call replaced a lost one: give it the conversation, then carry on."""
        items = within_budget(conversation_items(self.events), self.replay_tokens)
        events = replay_events(items, self._replay_ids)
        self._replayed.update(e["item"]["id"] for e in events)
        self._send_replay(events)
        self._sequencer.resume(respond=wants_response(items))

    def _is_replayed(self, raw: dict[str, Any]) -> bool:
        """An echo of a replayed item (already in the transcript)."""
        item = raw.get("item")
        item_id = item.get("id") if isinstance(item, dict) else raw.get("item_id")
        return item_id in self._replayed

    def _guard(
        self, consumer: str, event: RealtimeEvent, step: Callable[..., Any], *args: Any
    ) -> None:
        """Run one consumer of an event; if it raises, report it and carry on."""
        try:
            step(*args)
        except Exception:
            self._bad_event(consumer, event)

    def _bad_event(self, consumer: str, event: RealtimeEvent) -> None:
        key = (consumer, event.type[:_MAX_KIND])
        if key not in self.bad_events and len(self.bad_events) >= _MAX_BAD_KINDS:
            key = (consumer, "(other types)")  # a stream of invented types stays bounded
        self.bad_events[key] = self.bad_events.get(key, 0) + 1
        if self.bad_events[key] > 1:
            return  # reported once per kind, not a flood
        detail = traceback.format_exc(limit=3)[-_MAX_REPORT:]
        text = (
            f"A malformed {key[1]!r} event (#{event.seq}) broke the {consumer}; it was "
            f"skipped and the session carries on (reported once per kind).\n{detail}"
        )
        log.warning("rt_notebook: %s", text)
        self._show_error(text)

    # ---- usage and cost, kept as the session goes (see analysis/running.py) ------------------

    @property
    def model(self) -> str | None:
        """The model, as the server reported it in ``session.created``/``updated``."""
        return self._model

    def _note_model(self, event: RealtimeEvent) -> None:
        if event.session:  # as ``SessionAnalysis.model`` reads it: the last session reported
            self._model = as_str(as_dict(event.session).get("model")) or None

    def _ledger(self) -> UsageLedger:
        return self._usage.ledger(
            self.prices, self._configured_model(), self._configured_transcription_model()
        )

    def usage(self) -> Table:
        """Per response: tokens by kind, cost in USD (``None``: no price) and the running total."""
        return Table(self._ledger().responses)

    def cost(self) -> dict[str, Any]:
        """Session totals: tokens, responses, ``responses_usd``, ``transcription_usd`` and
        ``cost_usd`` (their sum; ``None`` when a model has no price, see ``unpriced_models``);
        kept as the session goes, so asking costs the same at any length."""
        return {"model": self.model, **self._ledger().totals.result()}

    def transcription_usage(self) -> Table:
        """Per input transcription: seconds or tokens and its cost (billed apart)."""
        return Table(self._ledger().transcriptions)

    def _notice_models(self, session: Mapping[str, Any]) -> None:
        """The server's effective session (its defaults, overrides) may name a deprecated model."""
        try:
            self._check_models(session)
        except Warning as warning:  # warnings turned into errors must not break the event path
            log.warning("rt_notebook: %s", warning)
        except ValueError as exc:  # shut down: the server will refuse it; say why
            self.notices.append(str(exc))
            self._notices_changed()

    def _configured_model(self) -> str | None:
        default = DEFAULT_LIVE_MODEL if self.protocol == "live" else DEFAULT_MODEL
        return self._config.get("model") or default  # what the call asks for if unset

    def _configured_transcription_model(self) -> str | None:
        return transcription_model(self._config)

    def _check_budget(self) -> None:
        ledger = self._ledger()
        if ledger.unpriced:
            self._unpriced(sorted(ledger.unpriced))
        spent = ledger.known_usd
        if self.budget_usd is None or spent < self.budget_usd or self._sequencer.stopped:
            return
        self._sequencer.stop()
        self._live_tools.stop()
        message = (
            f"Budget reached: this session has cost ${spent:.4f} of its "
            f"${self.budget_usd:.4f} budget, so no new responses are created and the "
            "call was ended."
        )
        self._show_error(message + "\n")
        log.warning("rt_notebook: %s", message)
        self._stop("budget_reached", message, "Raise budget_usd, or start a new session.")

    def _unpriced(self, models: list[str]) -> None:
        """Say once that the budget counts only what has a price."""
        message = (
            f"No price for {', '.join(models)}: the budget counts only the priced part of "
            "this session. Add the prices to rt.PRICES (or pass prices=)."
        )
        if message not in self.notices:
            self.notices.append(message)
            self._notices_changed()
            log.warning("rt_notebook: %s", message)

    def _dispatch(self, event: RealtimeEvent) -> None:
        for key in (event.type, "*"):
            for registered in list(self._handlers.get(key, [])):
                if isinstance(registered, _Once):
                    handlers = self._handlers.get(key, [])
                    if registered not in handlers:
                        continue  # an earlier handler took it off
                    handlers.remove(registered)
                    registered = registered.handler
                self._call(registered, event)

    def _call(self, handler: Callable[..., Any], *args: Any) -> None:
        try:
            with self._output():
                result = handler(*args)
            if inspect.isawaitable(result):
                self._spawn(self._await_handler(handler, result))
        except Exception:
            self._report(handler)

    async def _await_handler(self, handler: Callable[..., Any], awaitable: Any) -> None:
        try:
            with self._output_across_awaits():
                await awaitable
        except Exception:
            self._report(handler)

    def _report(self, where: Callable[..., Any]) -> None:
        name = getattr(where, "__qualname__", repr(where))
        text = user_traceback()
        log.error("rt_notebook: %s raised\n%s", name, text)
        self._show_error(f"Error in {name}:\n{text}")

    # ---- tools at work ------------------------------------------------------------------------

    def _run_tool(self, event: RealtimeEvent) -> None:
        """Sync tools run right here, as the event arrives; async tools as tasks."""
        call = event.typed
        if call is not None and call.type == "response.function_call_arguments.done":
            call_id, name, arguments = call.call_id, call.name, call.arguments
        else:  # not as the model has it: take what is there
            call_id, name, arguments = str(event.call_id), str(event.name), event.arguments
        with self.lock:
            self._sequencer.tool_started(call_id)
        self._run_call(call_id, name, arguments)

    def _run_call(self, call_id: str, name: str, arguments: object) -> None:
        tool = self.tools.get(name)
        if tool is None:
            self._tool_done(call_id, error_output(f"no tool named {name!r} is registered"))
            return
        try:
            kwargs = tool.parse(str(arguments or ""))
        except Exception as exc:  # the model's arguments: anything may be wrong with them
            self._tool_done(call_id, error_output(str(exc)))
            return
        if tool.main_thread:
            run_on_main_thread(lambda: self._call_tool(call_id, tool, kwargs))
        else:
            self._call_tool(call_id, tool, kwargs)

    def _call_tool(self, call_id: str, tool: FunctionTool, kwargs: dict[str, Any]) -> None:
        """Run a tool with valid arguments and answer its call, whatever it does."""
        if tool.is_async:
            self._spawn(self._await_tool(call_id, tool, kwargs))
            return
        try:
            with self._output():
                result = tool.function(**kwargs)
        except Exception as exc:
            self._report(tool.function)
            self._tool_done(call_id, error_output(f"{type(exc).__name__}: {exc}"))
            return
        self._tool_done(call_id, as_output(result))

    async def _await_tool(self, call_id: str, tool: FunctionTool, kwargs: dict[str, Any]) -> None:
        try:
            with self._output_across_awaits():
                result = await tool.function(**kwargs)
        except Exception as exc:
            self._report(tool.function)
            self._tool_done(call_id, error_output(f"{type(exc).__name__}: {exc}"))
            return
        self._tool_done(call_id, as_output(result))

    def _tool_done(self, call_id: str, output: str) -> None:
        if self.protocol == "live":
            with self.lock:
                self._live_tools.answer(call_id, output)
            return
        self.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output},
            }
        )
        with self.lock:
            self._sequencer.tool_finished(call_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


_REALTIME_KEYWORDS = {
    "transcription": "Live always transcribes (session.input_transcript.delta)",
    "turn_detection": "the Live model owns turns and barge-in",
}


def compose_config(protocol: WireProtocol, options: SessionOptions) -> dict[str, Any]:
    """The session config the keywords describe, in the protocol's shape."""
    if protocol == "realtime":
        return compose_session(
            model=options["model"],
            voice=options["voice"],
            instructions=options["instructions"],
            transcription=options["transcription"],
            turn_detection=options["turn_detection"],
            session=options["session"],
        )
    for name, why in _REALTIME_KEYWORDS.items():
        if options.get(name, DEFAULTS[name]) != DEFAULTS[name]:
            raise ValueError(f"{name}= is a Realtime keyword: {why}; remove it for a Live session")
    return compose_live_session(
        model=options["model"],
        voice=options["voice"],
        instructions=options["instructions"],
        session=options["session"],
    )


class _Once:
    """A handler registered by :meth:`SessionCore.once`: one registration, one event."""

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler


def user_message(content: list[dict[str, Any]]) -> dict[str, Any]:
    """``conversation.item.create`` for a user message."""
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }


def image_message(url: str, text: str | None, detail: str) -> dict[str, Any]:
    """A user message showing an image (a data URL), with optional text."""
    content: list[dict[str, Any]] = [{"type": "input_image", "image_url": url, "detail": detail}]
    if text:
        content.append({"type": "input_text", "text": text})
    return user_message(content)


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


_PACKAGE = str(Path(__file__).resolve().parent.parent)


def user_traceback() -> str:
    """The exception being handled, its traceback starting at the user's code: the kit's own
    frames that called the handler or tool are left out."""
    _, exc, tb = sys.exc_info()
    if exc is None:
        return ""
    while tb is not None and tb.tb_next is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_PACKAGE):
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
