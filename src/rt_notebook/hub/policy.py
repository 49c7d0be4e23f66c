"""Per-user and per-group policy: allowed models, forced instructions, rates and budgets.

The teacher writes one ``policy`` dict::

    {"default": {"usd_per_day": 0.5, "concurrent_calls": 1},
     "groups": {"students": {"allowed_models": ["gpt-realtime-2.1-mini"],
                             "session_overrides": {"instructions": "Answer in French."}},
                "staff": {"usd_per_day": 10}},
     "users": {"alice": {"minutes_per_day": 60}}}

A user's rules are ``default``, then each of their groups in the order listed, then their own
entry; a later layer replaces a limit (``null`` lifts it) and deep-merges ``session_overrides``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RealtimeError
from ..wire.session_config import SessionConfigError, deep_merge, validate_session
from .store import Spending

LIMITS = (
    "calls_per_minute",
    "concurrent_calls",
    "minutes_per_day",
    "usd_per_day",
    "usd_per_term",
)
"""Numeric limits; absent or ``None`` means unlimited."""
FIELDS = (*LIMITS, "allowed_models", "session_overrides")


@dataclass(frozen=True)
class Rules:
    """What one user may do."""

    allowed_models: tuple[str, ...] = ()
    """Models the user may use; empty allows any (a session without one gets the first)."""
    session_overrides: dict[str, Any] = field(default_factory=dict)
    """Session fields forced on every call, held by sideband for the whole call."""
    calls_per_minute: float | None = None
    concurrent_calls: float | None = None
    minutes_per_day: float | None = None
    usd_per_day: float | None = None
    usd_per_term: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed_models": list(self.allowed_models),
            "overridden_fields": sorted(self.session_overrides),
            **{name: getattr(self, name) for name in LIMITS},
        }


def check_layer(layer: object, where: str) -> dict[str, Any]:
    """Validate one policy layer; a ``ValueError`` names the field and what is wrong."""
    if not isinstance(layer, Mapping):
        raise ValueError(f"{where} must be a dict of rules, not {type(layer).__name__}")
    unknown = sorted(set(layer) - set(FIELDS))
    if unknown:
        raise ValueError(f"{where} has unknown rules {unknown}; known: {', '.join(FIELDS)}")
    for name in LIMITS:
        value = layer.get(name)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value < 0
            or not math.isfinite(value)
        ):
            raise ValueError(f"{where}.{name} must be a number >= 0 or None, got {value!r}")
    models = layer.get("allowed_models", [])
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) for m in models):
        raise ValueError(f"{where}.allowed_models must be a list of model names")
    if "session_overrides" in layer:
        try:
            validate_session(layer["session_overrides"], prefix=f"{where}.session_overrides")
        except SessionConfigError as exc:
            raise ValueError(exc.message) from None
    return dict(layer)


def check_policy(policy: object) -> dict[str, Any]:
    """Validate the whole ``policy`` setting (see the module docstring)."""
    if not isinstance(policy, Mapping):
        raise ValueError("policy must be a dict with 'default', 'groups' and 'users'")
    unknown = sorted(set(policy) - {"default", "groups", "users"})
    if unknown:
        raise ValueError(f"policy has unknown keys {unknown}; use default, groups, users")
    check_layer(policy.get("default", {}), "policy.default")
    for kind in ("groups", "users"):
        entries = policy.get(kind, {})
        if not isinstance(entries, Mapping):
            raise ValueError(f"policy.{kind} must map names to rules")
        for name, layer in entries.items():
            check_layer(layer, f"policy.{kind}.{name}")
    return dict(policy)


def rules_for(policy: Mapping[str, Any], user: str, groups: Iterable[str]) -> Rules:
    """The rules of one user: default, their groups in policy order, then their own entry."""
    member = set(groups)
    layers = [policy.get("default") or {}]
    layers += [rules for name, rules in (policy.get("groups") or {}).items() if name in member]
    layers.append((policy.get("users") or {}).get(user) or {})
    merged: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for layer in layers:
        overrides = deep_merge(overrides, layer.get("session_overrides") or {})
        merged.update({k: v for k, v in layer.items() if k != "session_overrides"})
    return Rules(
        allowed_models=tuple(merged.get("allowed_models") or ()),
        session_overrides=overrides,
        **{name: merged.get(name) for name in LIMITS},
    )


def day_start(now: float) -> float:
    """Midnight (the service's local time) before ``now``."""
    local = time.localtime(now)
    return time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))


@dataclass(frozen=True)
class Standing:
    """A user's spending against their rules, at one moment."""

    rules: Rules
    today: Spending
    term: Spending
    last_minute_calls: int
    live_calls: int

    def remaining(self) -> dict[str, float | None]:
        """What is left of each budget (``None``: no limit)."""
        r = self.rules

        def left(limit: float | None, used: float) -> float | None:
            return None if limit is None else max(0.0, limit - used)

        return {
            "usd_today": left(r.usd_per_day, self.today.usd),
            "usd_term": left(r.usd_per_term, self.term.usd),
            "minutes_today": left(r.minutes_per_day, self.today.minutes),
        }

    def exhausted(self) -> RealtimeError | None:
        """The first budget used up, as the error a user sees; ``None`` while all have room."""
        r, today, term = self.rules, self.today, self.term
        if r.usd_per_day is not None and today.usd >= r.usd_per_day:
            return budget_error(
                "usd_per_day",
                f"Your voice budget for today is used up (${today.usd:.4f} of "
                f"${r.usd_per_day:g} per day). It renews at midnight",
            )
        if r.usd_per_term is not None and term.usd >= r.usd_per_term:
            return budget_error(
                "usd_per_term",
                f"Your voice budget for this term is used up (${term.usd:.4f} of "
                f"${r.usd_per_term:g})",
            )
        if r.minutes_per_day is not None and today.minutes >= r.minutes_per_day:
            return budget_error(
                "minutes_per_day",
                f"Your voice minutes for today are used up ({today.minutes:.1f} of "
                f"{r.minutes_per_day:g} min per day). They renew at midnight",
            )
        return None

    def refusal(self) -> RealtimeError | None:
        """Why a new call may not start now, or ``None``."""
        r = self.rules
        if r.calls_per_minute is not None and self.last_minute_calls >= r.calls_per_minute:
            return RealtimeError(
                429,
                "rate_limited",
                f"Too many voice sessions: your class allows {r.calls_per_minute:g} per "
                "minute. Try again in a minute",
                retry_after="60",
            )
        if r.concurrent_calls is not None and self.live_calls >= r.concurrent_calls:
            return RealtimeError(
                429,
                "too_many_calls",
                f"You already have {self.live_calls} voice session(s) open; your class allows "
                f"{r.concurrent_calls:g} at a time. Disconnect one, then connect again",
            )
        return self.exhausted()


def budget_error(rule: str, message: str) -> RealtimeError:
    """A spent budget: 429 ``budget_exhausted``, naming the rule and who sets it."""
    return RealtimeError(
        429,
        "budget_exhausted",
        f"{message}. Your teacher sets this budget ({rule})",
        param=rule,
    )
