"""Delegated tasks: to the client (it answers with commentary) or to a simulated Responses
backend whose stream arrives inside ``response.event`` (function calls stay open until the client
answers every one with ``response.item.create``, then sends one ``response.create``)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ...responders import Reply
from ..errors import ClientError
from ..ids import new_id

if TYPE_CHECKING:
    from .core import LiveEngine

Item = dict[str, Any]

MAX_PENDING_INPUTS = 128
"""User messages the backend holds until ``response.create`` (bounded, unlike a leak)."""


class Delegations:
    """Open client delegations, open backend calls and their outputs, queued backend input."""

    def __init__(self, engine: LiveEngine) -> None:
        self._engine = engine
        self.client_open: set[str] = set()
        """Client delegations waiting for commentary or thinking."""
        self.calls: dict[str, str] = {}
        """Open backend function calls: call id → delegation id."""
        self.outputs: dict[str, str] = {}
        self._inputs: list[Item] = []
        self._sequence = 0

    @property
    def kind(self) -> str:
        delegation = self._engine.session_config().get("delegation") or {}
        return str(delegation.get("type") or "client")

    def call(self, reply: Reply, delegation_id: str | None) -> None:
        """The model (or the backend continuing) decides a tool is needed."""
        engine = self._engine
        kind = self.kind
        if kind == "client":
            self.client_open.add(self._created("client"))
            return
        if kind != "responses":
            engine.server_error(
                "unsupported_by_local_backend",
                "The local backend does not simulate Decisions delegations.",
            )
            return
        response_id = new_id("resp")
        delegation = delegation_id or self._created("responses", response_id)
        args = reply.arguments
        arguments = args if isinstance(args, str) else json.dumps(args or {})
        call_id = new_id("call")
        item = {
            "type": "function_call",
            "id": new_id("fc"),
            "call_id": call_id,
            "name": reply.call,
            "arguments": arguments,
            "status": "completed",
        }
        self._respond(delegation, response_id, [item])
        self.calls[call_id] = delegation
        engine.history.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": reply.call,
                "arguments": arguments,
            }
        )

    def backend_message(self, delegation_id: str, text: str) -> None:
        """The backend's answer, which the voice then speaks."""
        message = {
            "type": "message",
            "id": new_id("msg"),
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        self._respond(delegation_id, new_id("resp"), [message])

    def answer_client(self, delegation_id: str | None, kind: str) -> None:
        """Check the ``delegation_id`` of an append; commentary closes a client delegation."""
        if delegation_id is None:
            return
        if self.kind == "responses":
            raise ClientError(
                "invalid_value",
                "delegation_id must be null under a Responses delegation.",
                "delegation_id",
            )
        if delegation_id not in self.client_open:
            raise ClientError(
                "invalid_value", f"No open delegation {delegation_id!r}.", "delegation_id"
            )
        if kind == "commentary":
            self.client_open.discard(delegation_id)

    def add_item(self, item: Item) -> None:
        """``response.item.create``: a call's output, or a user message for the backend."""
        self._require_responses("response.item.create")
        kind = item.get("type")
        if kind == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if not isinstance(call_id, str) or call_id not in self.calls:
                raise ClientError(
                    "invalid_value", f"No open function call {call_id!r}.", "item.call_id"
                )
            if call_id in self.outputs:
                raise ClientError(
                    "invalid_value", f"Call {call_id!r} already has an output.", "item.call_id"
                )
            if not isinstance(output, str):
                raise ClientError("invalid_type", "'item.output' must be a string.", "item.output")
            self.outputs[call_id] = output
        elif kind in ("message", None) and item.get("role") == "user":
            if len(self._inputs) >= MAX_PENDING_INPUTS:
                raise ClientError(
                    "invalid_value",
                    f"At most {MAX_PENDING_INPUTS} items wait for response.create; send it.",
                    "item",
                )
            self._inputs.append(item)
        else:
            raise ClientError(
                "invalid_value",
                "The local backend takes function_call_output items and user messages.",
                "item.type",
            )

    def create(self) -> None:
        """``response.create``: the backend continues once every open call has its output."""
        self._require_responses("response.create")
        missing = [c for c in self.calls if c not in self.outputs]
        if missing:
            raise ClientError(
                "function_call_outputs_required",
                "Submit the pending function call outputs before response.create. "
                f"Missing: {', '.join(missing)}.",
            )
        if not self.outputs and not self._inputs:
            raise ClientError(
                "invalid_value", "Nothing to respond to: send response.item.create first."
            )
        engine = self._engine
        delegation = next(iter(self.calls.values()), None) or self._created("responses")
        for call_id, output in self.outputs.items():
            engine.history.append(
                {"type": "function_call_output", "call_id": call_id, "output": output}
            )
        heard = None
        for message in self._inputs:
            engine.history.append({"type": "message", "role": "user", **_content(message)})
            heard = _text(message) or heard
        self.calls.clear()
        self.outputs.clear()
        self._inputs.clear()
        engine.replies.respond(heard=heard, delegation_id=delegation)

    # ---- events ----------------------------------------------------------------------------

    def _created(self, target: str, response_id: str | None = None) -> str:
        delegation_id = new_id("dlg")
        delegation: dict[str, Any] = {"type": "delegation", "id": delegation_id, "target": target}
        if response_id is not None:
            delegation["response_id"] = response_id
        self._engine.emit(
            "session.delegation.created", delegation=delegation, offset_ms=self._engine.clock_ms()
        )
        return delegation_id

    def _respond(self, delegation_id: str, response_id: str, output: list[Item]) -> None:
        """One backend response: created, each output item, completed (trimmed, with usage)."""
        response = self._snapshot(response_id)
        self._event(delegation_id, {"type": "response.created", "response": response})
        for index, item in enumerate(output):
            self._event(
                delegation_id,
                {"type": "response.output_item.done", "output_index": index, "item": item},
            )
        done = {**response, "status": "completed", "usage": _usage(output)}
        self._event(delegation_id, {"type": "response.completed", "response": done})

    def _event(self, delegation_id: str, event: Item) -> None:
        self._sequence += 1
        self._engine.emit(
            "response.event",
            delegation_id=delegation_id,
            event={**event, "sequence_number": self._sequence},
        )

    def _snapshot(self, response_id: str) -> Item:
        config = (self._engine.session_config().get("delegation") or {}).get("responses") or {}
        choice = config.get("tool_choice")
        return {
            "id": response_id,
            "object": "response",
            "created_at": float(int(time.time())),
            "model": config.get("model") or "gpt-5.6-terra",
            "status": "in_progress",
            "output": [],
            "parallel_tool_calls": bool(config.get("parallel_tool_calls", True)),
            "tool_choice": choice if isinstance(choice, str) else "auto",
            "tools": [],
        }

    def _require_responses(self, kind: str) -> None:
        if self.kind != "responses":
            raise ClientError(
                "invalid_value",
                f"{kind} needs a Responses delegation "
                '(session.delegation = {"type": "responses", ...}).',
                "type",
            )


def _content(message: Item) -> Item:
    content = message.get("content")
    if isinstance(content, str):
        return {"content": [{"type": "input_text", "text": content}]}
    return {"content": content if isinstance(content, list) else []}


def _text(message: Item) -> str | None:
    parts = _content(message)["content"]
    texts = [p.get("text") for p in parts if isinstance(p, dict) and p.get("type") == "input_text"]
    return " ".join(t for t in texts if isinstance(t, str)) or None


def _usage(output: list[Item]) -> Item:
    """Simulated backend tokens (the voice model itself reports none)."""
    out = sum(
        len(str(item.get("arguments") or item.get("content") or "")) // 4 + 1 for item in output
    )
    return {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 50 + out,
    }
