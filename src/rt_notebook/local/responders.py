"""What "the model" says on the local backend: a default, a scripted scenario, or your callable."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..wire.scenario import Fault, Reply, check_scenario, load_scenario, scenario_from_request

__all__ = [
    "CallableResponder",
    "DefaultResponder",
    "Fault",
    "Reply",
    "Responder",
    "ResponderSpec",
    "ResponseContext",
    "ScriptedResponder",
    "check_scenario",
    "load_scenario",
    "make_responder",
    "scenario_from_request",
]


@dataclass
class ResponseContext:
    """What the responder may look at when asked for a response."""

    session: dict[str, Any]
    """The effective session config."""
    conversation: list[dict[str, Any]]
    """The conversation items so far (GA item shapes, no audio bytes)."""
    response: dict[str, Any] = field(default_factory=dict)
    """The ``response.create`` parameters."""
    heard: str | None = None
    """The last user input as text: typed text, or the transcript of speech."""

    @property
    def last_item(self) -> dict[str, Any] | None:
        """The newest conversation item."""
        return self.conversation[-1] if self.conversation else None


class Responder(Protocol):
    """Produces replies; the engine turns them into GA events."""

    def transcript_hint(self) -> str | None:
        """What the user said in the next turn, when the responder knows it (scenarios)."""

    async def respond(self, context: ResponseContext) -> Reply:
        """The reply for one ``response.create``."""


class DefaultResponder:
    """Answers about what it heard or was told. Never pretends to understand speech."""

    def transcript_hint(self) -> str | None:
        return None

    async def respond(self, context: ResponseContext) -> Reply:
        item = context.last_item or {}
        if item.get("type") == "function_call_output":
            name = _call_name(context.conversation, item.get("call_id"))
            return Reply(say=f"The {name} tool returned {_short(str(item.get('output')))}.")
        content = item.get("content") or []
        kinds = {part.get("type") for part in content if isinstance(part, dict)}
        if "input_image" in kinds:
            return Reply(
                say="I received an image. "
                + (f'You wrote: "{context.heard}".' if context.heard else "")
            )
        if "input_text" in kinds and context.heard:
            return Reply(say=f'You said: "{_short(context.heard)}".')
        if "input_audio" in kinds and context.heard:
            if context.heard.startswith("(speech"):
                amount = context.heard.strip("()").removeprefix("speech, ")
                return Reply(say=f"I heard {amount} of speech.")
            return Reply(say=f'I heard: "{_short(context.heard)}".')
        return Reply(say="Hello! This is the rt_notebook local backend.")


class ScriptedResponder:
    """Plays a scenario: one step per response, then falls back to the default."""

    def __init__(self, steps: Sequence[Mapping[str, Any] | str | Reply]) -> None:
        self.steps = [s if isinstance(s, Reply) else Reply.from_step(s) for s in steps]
        self.position = 0
        self.mismatches: list[str] = []
        """``expect`` steps whose user input did not match, for tests to assert on."""
        self._fallback = DefaultResponder()

    def transcript_hint(self) -> str | None:
        step = self._peek()
        return step.user_said if step else None

    async def respond(self, context: ResponseContext) -> Reply:
        step = self._peek()
        if step is None:
            return await self._fallback.respond(context)
        self.position += 1
        if step.expect and step.expect.lower() not in (context.heard or "").lower():
            self.mismatches.append(
                f"step {self.position}: expected {step.expect!r}, heard {context.heard!r}"
            )
        return step

    def _peek(self) -> Reply | None:
        return self.steps[self.position] if self.position < len(self.steps) else None


class CallableResponder:
    """Wraps ``fn(context) -> Reply | str | None`` (sync or async)."""

    def __init__(
        self, fn: Callable[[ResponseContext], Reply | str | Awaitable[Reply | str | None] | None]
    ) -> None:
        self.fn = fn
        self._fallback = DefaultResponder()

    def transcript_hint(self) -> str | None:
        return None

    async def respond(self, context: ResponseContext) -> Reply:
        result = self.fn(context)
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            return await self._fallback.respond(context)
        return Reply(say=result) if isinstance(result, str) else result


ResponderSpec = Responder | Sequence[Mapping[str, Any] | str | Reply] | Callable[..., Any] | None


def make_responder(spec: ResponderSpec) -> Responder:
    """A responder from a scenario list, a callable, a responder, or ``None`` (default)."""
    if spec is None:
        return DefaultResponder()
    if hasattr(spec, "respond") and hasattr(spec, "transcript_hint"):
        return spec
    if callable(spec):
        return CallableResponder(spec)
    return ScriptedResponder(spec)


def _call_name(conversation: list[dict[str, Any]], call_id: object) -> str:
    for item in reversed(conversation):
        if item.get("type") == "function_call" and item.get("call_id") == call_id:
            return str(item.get("name"))
    return "function"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
