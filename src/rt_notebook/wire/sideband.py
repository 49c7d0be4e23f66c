"""Sideband control of a live call: see its events and send client events with authority.

The browser runs the call, but the party holding the key (the Jupyter server, or a kernel that
did the exchange) can join it by ``call_id`` and keep instructions and tools as policy says,
whatever the browser sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import websockets

from ..errors import redact, redacting_logger

log = redacting_logger(__name__)

EventCallback = Callable[[dict[str, Any]], None]


class Sideband:
    """A connection to a call; subclasses carry it over WebSocket or in-process."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.callbacks: list[EventCallback] = []
        """Called with every server event of the call."""
        self.sent: list[dict[str, Any]] = []
        """Client events sent through the sideband."""

    def send(self, event: dict[str, Any]) -> None:
        """Send a client event into the call."""
        raise NotImplementedError

    async def close(self) -> None:
        """Leave the call (the call goes on)."""

    def _deliver(self, event: dict[str, Any]) -> None:
        for callback in list(self.callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("rt_notebook: sideband callback failed on %s", self.call_id)


class WebSocketSideband(Sideband):
    """``{ws_base}/realtime?call_id=…`` with the API key, as OpenAI documents it (with
    ``query=False``, ``url`` as it is: GPT-Live's ``/live/sessions/{id}/attach``)."""

    def __init__(self, call_id: str, url: str, api_key: str, *, query: bool = True) -> None:
        super().__init__(call_id)
        self._url = f"{url}?call_id={call_id}" if query else url
        self._key = api_key
        self._ws: Any = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, timeout: float = 30.0) -> None:
        """Join the call."""
        self._ws = await websockets.connect(
            self._url,
            additional_headers={"Authorization": f"Bearer {self._key}"},
            open_timeout=timeout,
            max_size=None,
        )
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._write())]

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        self._outbox.put_nowait(json.dumps(event))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in self._ws:
                with contextlib.suppress(ValueError):
                    event = json.loads(message)
                    if isinstance(event, dict):
                        self._deliver(event)

    async def _write(self) -> None:
        while True:
            message = await self._outbox.get()
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._ws.send(message)


class InProcessSideband(Sideband):
    """Joins a call of the in-process local backend directly (no socket needed)."""

    def __init__(self, call_id: str, engine: Any) -> None:
        super().__init__(call_id)
        self._engine = engine
        engine.listeners.append(self._deliver)

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        self._engine.handle_event(event)

    async def close(self) -> None:
        if self._deliver in self._engine.listeners:
            self._engine.listeners.remove(self._deliver)


def deviations(
    session: Mapping[str, Any], required: Mapping[str, Any], path: str = ""
) -> list[str]:
    """Dotted paths where ``session`` differs from what ``required`` fixes."""
    found: list[str] = []
    for key, value in required.items():
        here = f"{path}{key}"
        actual = session.get(key)
        if isinstance(value, Mapping) and isinstance(actual, Mapping):
            found += deviations(actual, value, here + ".")
        elif actual != value:
            found.append(here)
    return found


def enforce(sideband: Sideband, overrides: Mapping[str, Any]) -> None:
    """Restore ``overrides`` whenever the call's session strays from them."""

    def check(event: dict[str, Any]) -> None:
        if event.get("type") not in ("session.created", "session.updated"):
            return
        strayed = deviations(event.get("session") or {}, overrides)
        if strayed:
            log.warning(
                "rt_notebook: call %s changed %s; restoring the server's session_overrides",
                sideband.call_id,
                ", ".join(strayed),
            )
            sideband.send({"type": "session.update", "session": {"type": "realtime", **overrides}})

    sideband.callbacks.append(check)


def websocket_base(api_base_url: str) -> str:
    """``https://api.openai.com/v1`` → ``wss://api.openai.com/v1``."""
    base = api_base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base


def websocket_url(api_base_url: str) -> str:
    """``https://api.openai.com/v1`` → ``wss://api.openai.com/v1/realtime``."""
    return websocket_base(api_base_url) + "/realtime"


def describe_failure(exc: BaseException, key: str | None) -> str:
    """A loggable reason, with nothing key-shaped in it."""
    return redact(f"{type(exc).__name__}: {exc}", key)
