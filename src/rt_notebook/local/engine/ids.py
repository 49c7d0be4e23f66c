"""OpenAI-style ids for everything the engine creates."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """An OpenAI-style id: ``item_…``, ``resp_…``, ``event_…``."""
    return f"{prefix}_{secrets.token_hex(10)}"
