"""What "the model" says on the local backend: a default, a scripted scenario, or your callable."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol

Fault = Literal["stop_mid_response", "drop_data_channel", "close_peer"]


@dataclass(frozen=True)
class Reply:
    """One response of the simulated model; also one step of a scripted scenario."""

    say: str | None = None
    """Text to speak (audio modality) or write (text modality)."""
    call: str | None = None
    """Name of a function to call instead of speaking."""
    arguments: Mapping[str, Any] | str | None = None
    """The call's arguments (a dict, or a JSON string sent as is)."""
    delay: float = 0.0
    """Seconds to wait after ``response.created`` before any output."""
    error: Mapping[str, Any] | None = None
    """An ``error`` event body to emit at the start of this response."""
    fault: Fault | None = None
    """A failure to act out: stop mid-response, drop the data channel, close the peer."""
    user_said: str | None = None
    """What the user said in the turn that triggers this step (its input transcript)."""
    expect: str | None = None
    """Text the triggering user input should contain; a mismatch is recorded."""

    @classmethod
    def from_step(cls, step: Mapping[str, Any] | str) -> Reply:
        """A scenario step: a string is shorthand for ``{"say": ...}``."""
        if isinstance(step, str):
            return cls(say=step)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(step) - known)
        if unknown:
            raise ValueError(f"unknown scenario step field(s) {unknown}; use {sorted(known)}")
        if step.get("say") is None and step.get("call") is None:
            raise ValueError(f"a scenario step needs 'say' or 'call': {dict(step)}")
        return cls(**step)


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


def check_scenario(steps: object) -> list[Mapping[str, Any] | str]:
    """A scenario (a list of steps), checked step by step; ``ValueError`` names the bad one."""
    if not isinstance(steps, list):
        raise ValueError('a scenario is a list of steps, e.g. [{"say": "Hello"}]')
    for index, step in enumerate(steps):
        if isinstance(step, str):
            continue
        if not isinstance(step, Mapping):
            raise ValueError(f"scenario step {index} must be an object or a string")
        try:
            Reply.from_step(step)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"scenario step {index}: {exc}") from None
    return steps


def load_scenario(path: str | Path) -> list[Mapping[str, Any] | str]:
    """Read a scenario file: JSON, either a list of steps or ``{"steps": [...]}``."""
    data = json.loads(Path(path).read_text())
    steps = data.get("steps") if isinstance(data, dict) else data
    try:
        return check_scenario(steps)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _call_name(conversation: list[dict[str, Any]], call_id: object) -> str:
    for item in reversed(conversation):
        if item.get("type") == "function_call" and item.get("call_id") == call_id:
            return str(item.get("name"))
    return "function"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scenario_from_request(local: object) -> list[Mapping[str, Any] | str] | None:
    """The ``local`` part of a call request, ``{"scenario": [...]}``; a 400 when malformed."""
    from ..errors import RealtimeError

    if local is None:
        return None
    if not isinstance(local, Mapping) or set(local) - {"scenario"}:
        raise RealtimeError(
            400, "invalid_local", 'local must be {"scenario": [...]}', param="local"
        )
    try:
        return check_scenario(local.get("scenario", []))
    except ValueError as exc:
        raise RealtimeError(400, "invalid_local", str(exc), param="local.scenario") from None
