"""Scripted replies for a simulating backend: the steps a notebook or a file may send.

A scenario travels with a call request (``{"local": {"scenario": [...]}}``), so checking it is
part of reading the request, whichever backend takes the call; only the local backend plays it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from ..errors import RealtimeError

Scenario = list[Mapping[str, Any] | str]
"""Checked scenario steps: objects like ``{"say": "Hello"}``, or strings (shorthand for say)."""

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


def check_scenario(steps: object) -> Scenario:
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


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file: JSON, either a list of steps or ``{"steps": [...]}``."""
    data = json.loads(Path(path).read_text())
    steps = data.get("steps") if isinstance(data, dict) else data
    try:
        return check_scenario(steps)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def scenario_from_request(local: object) -> Scenario | None:
    """The ``local`` part of a call request, ``{"scenario": [...]}``; a 400 when malformed."""
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
