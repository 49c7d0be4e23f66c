"""One ``response.create`` at a time: after running tools finish and the active response ends.

This is what keeps the assistant from going silent after a tool call: the follow-up response
is asked for exactly once, only when the server can accept it, and asked again if the server
still had a response running.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ..wire.events import RealtimeEvent, as_dict, as_str

_BUSY = "conversation_already_has_active_response"


class ResponseSequencer:
    """Queues response requests; observes server events to know when to send them."""

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        self._send = send
        self._pending: list[dict[str, Any] | None] = []
        self._tools: set[str] = set()
        self._requested: dict[str, dict[str, Any] | None] = {}
        self._ids = itertools.count(1)
        self.active: str | None = None
        """The id of the response in progress (or ``"requested"`` until it is created)."""
        self.stopped = False
        """True once :meth:`stop` was called: nothing more is requested (e.g. a budget)."""
        self.paused = False
        """True while the call is being replaced: requests wait for the new one."""

    def stop(self) -> None:
        """Never send another ``response.create``."""
        self.stopped = True
        self._pending.clear()

    def pause(self) -> None:
        """The call was lost: its response is gone; requests wait for :meth:`resume`."""
        self.paused = True
        self.active = None
        self._requested.clear()

    def resume(self, *, respond: bool = False) -> None:
        """A new call carries the conversation: send what waited, or (with ``respond``, when
        nothing waited) ask for the reply the lost call never gave."""
        self.paused = False
        if respond and not self._pending and not self._tools:
            self._pending.append(None)
        self._flush()

    @property
    def busy(self) -> bool:
        """True while a response runs, is being requested, tools are still running, or the
        call is being replaced."""
        return self.active is not None or bool(self._tools) or self.paused

    def request(self, params: dict[str, Any] | None = None) -> None:
        """Ask for a response as soon as the server can take one."""
        self._pending.append(params)
        self._flush()

    def tool_started(self, call_id: str) -> None:
        """A tool call is running; its follow-up response waits for it."""
        self._tools.add(call_id)

    def tool_finished(self, call_id: str) -> None:
        """A tool's output was sent; when the last one finishes, ask for the follow-up."""
        self._tools.discard(call_id)
        if not self._tools and None not in self._pending:
            self._pending.append(None)
        self._flush()

    def observe(self, event: RealtimeEvent) -> None:
        """Follow the server's responses and errors."""
        kind = event.type
        if kind == "response.created":
            self.active = as_str(as_dict(event.response).get("id")) or "response"
        elif kind == "response.done":
            self.active = None
            self._flush()
        elif kind == "error":
            about, code = _error_of(event)
            params = self._requested.pop(str(about), False)
            if params is False:
                return  # not about one of our requests
            if self.active == "requested":
                self.active = None
            if code == _BUSY:
                self._pending.insert(0, params)  # type: ignore[arg-type]
                self.active = "busy"  # the server's response is running: wait for its done
            else:
                self._flush()

    def _flush(self) -> None:
        if self.stopped or self.busy or not self._pending:
            return
        params = self._pending.pop(0)
        event_id = f"rtnb_response_{next(self._ids)}"
        self._requested[event_id] = params
        self.active = "requested"
        event: dict[str, Any] = {"type": "response.create", "event_id": event_id}
        if params:
            event["response"] = params
        self._send(event)


def _error_of(event: RealtimeEvent) -> tuple[object, object]:
    """(the client event it is about, its code): from the model, else from what is there."""
    failure = event.typed
    if failure is not None and failure.type == "error":
        return failure.error.event_id, failure.error.code
    error = as_dict(event.error)
    return error.get("event_id"), error.get("code")
