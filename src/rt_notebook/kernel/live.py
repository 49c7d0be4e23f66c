"""What a session does differently when it speaks GPT-Live (``/work``: live-protocol.md §9).

Live's tools run on a Responses backend: calls arrive inside ``response.event``; each open call
is answered once (``response.item.create``) and, when the asking response has ended and every
open call has its output, one ``response.create`` asks the backend to go on. Typed text is an
append (``session.commentary.append`` is answered aloud, ``session.thinking.append`` is silent
context). Live has no client event to cancel, truncate or clear output: those operations
raise :class:`LiveUnsupported`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..wire.events import RealtimeEvent, as_dict, as_str

__all__ = [
    "BACKEND_MODEL",
    "LiveToolCalls",
    "LiveUnsupported",
    "ToolCall",
    "append_event",
    "tools_delegation",
]

BACKEND_MODEL = "gpt-5.6-terra"
"""The Responses model that runs ``@s.tool`` functions when the session names none."""

_ENDED = ("response.completed", "response.failed", "response.incomplete")


class LiveUnsupported(NotImplementedError):
    """An operation of the Realtime protocol that GPT-Live does not offer."""


@dataclass(frozen=True)
class ToolCall:
    """A function call the backend asked for."""

    call_id: str
    name: str
    arguments: str


def append_event(text: str, *, respond: bool) -> dict[str, Any]:
    """Typed text as Live takes it: commentary (answered aloud) or thinking (silent)."""
    kind = "commentary" if respond else "thinking"
    return {"type": f"session.{kind}.append", "content": text, "delegation_id": None}


def tools_delegation(
    current: Mapping[str, Any] | None, tools: list[dict[str, Any]], *, started: bool
) -> dict[str, Any]:
    """The ``delegation`` that gives the backend ``tools``.

    Before the session starts, a session without a delegation gets a Responses one (the backend
    model :data:`BACKEND_MODEL`); once started, the delegation's type cannot change, so a
    client or Decisions delegation refuses tools with a ``ValueError`` saying what to do.
    """
    delegation = dict(current or {})
    kind = delegation.get("type") or "client"
    if kind == "responses":
        responses = dict(delegation.get("responses") or {})
        if started:  # session.update sends only what changes
            return {"type": "responses", "responses": {"tools": tools}}
        return {**delegation, "responses": {**responses, "tools": tools}}
    if current or started:
        raise ValueError(
            "@tool needs a Responses delegation (Live runs tools on a Responses backend); this "
            f"session's delegation is {kind!r}"
            + (", which cannot change once a Live session has started" if started else "")
            + ". Register tools before connecting, or start the session with "
            f'session={{"delegation": {{"type": "responses", "responses": '
            f'{{"model": "{BACKEND_MODEL}"}}}}}}'
        )
    return {"type": "responses", "responses": {"model": BACKEND_MODEL, "tools": tools}}


class LiveToolCalls:
    """Open backend calls: each answered once, then one ``response.create``."""

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        self._send = send
        self.open: dict[str, str] = {}
        """Calls without an output yet: call id → delegation id."""
        self.answered: dict[str, str] = {}
        """Calls answered since the last ``response.create``: call id → delegation id."""
        self.running: set[str] = set()
        """Delegations whose backend response has not ended."""
        self.continued = 0
        """How many ``response.create`` were sent."""
        self.stopped = False
        """True once :meth:`stop` was called (a budget): no more ``response.create``."""
        self._seen: set[str] = set()  # every call run: a repeated one never runs again

    def observe(self, event: RealtimeEvent) -> list[ToolCall]:
        """A server ``response.event``: the calls to run now (completed function calls)."""
        if event.type != "response.event":
            return []
        inner = as_dict(event.event)
        kind = as_str(inner.get("type"))
        delegation = as_str(event.delegation_id) or ""
        if kind == "response.created":
            self.running.add(delegation)
        elif kind in _ENDED:
            self.running.discard(delegation)
            if kind != "response.completed":  # the backend drops the response's calls
                self.open = {c: d for c, d in self.open.items() if d != delegation}
                self.answered = {c: d for c, d in self.answered.items() if d != delegation}
            self._maybe_continue()
        elif kind == "response.output_item.done":
            item = as_dict(inner.get("item"))
            call_id = as_str(item.get("call_id")) or ""
            if (
                item.get("type") == "function_call"
                and item.get("status", "completed") == "completed"
                and call_id
                and call_id not in self._seen
            ):
                self._seen.add(call_id)
                self.open[call_id] = delegation
                name, arguments = as_str(item.get("name")), as_str(item.get("arguments"))
                return [ToolCall(call_id, name or "", arguments or "")]
        return []

    def answer(self, call_id: str, output: str) -> None:
        """A tool finished: its one ``response.item.create`` (none for a dropped call)."""
        delegation = self.open.pop(call_id, None)
        if delegation is None:
            return  # answered already, or its response failed
        self._send(
            {
                "type": "response.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output},
            }
        )
        self.answered[call_id] = delegation
        self._maybe_continue()

    def stop(self) -> None:
        """Never send another ``response.create``."""
        self.stopped = True

    def _maybe_continue(self) -> None:
        asking = set(self.answered.values())
        if self.stopped or self.open or not self.answered or asking & self.running:
            return
        self.answered.clear()
        self.continued += 1
        self._send({"type": "response.create"})
