"""A running local backend and the clients the tests drive it with.

The WebRTC client (the browser's stand-in) is the one shipped in :mod:`rt_notebook.testing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from tornado.websocket import WebSocketClientConnection, websocket_connect

from rt_notebook.local.backend import LocalOptions, LocalRealtime
from rt_notebook.local.server import serve
from rt_notebook.testing import EventLog, RtcClient, espeak_pcm, silence, wait_until

__all__ = [
    "EventLog",
    "RtcClient",
    "WsClient",
    "espeak_pcm",
    "running_backend",
    "silence",
    "wait_until",
]

Event = dict[str, Any]


@contextlib.asynccontextmanager
async def running_backend(**options: Any) -> AsyncIterator[tuple[LocalRealtime, str]]:
    """The standalone server on a free loopback port: ``(backend, "http://127.0.0.1:N/v1")``."""
    async with serve(LocalRealtime(LocalOptions(**options))) as running:
        yield running


class WsClient(EventLog):
    """A WebSocket client of ``/v1/realtime`` (session or sideband)."""

    def __init__(self, connection: WebSocketClientConnection) -> None:
        super().__init__()
        self.connection = connection
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, base_url: str, query: str, key: str = "sk-local-test") -> WsClient:
        from tornado.httpclient import HTTPRequest

        url = base_url.replace("http://", "ws://") + f"/realtime?{query}"
        request = HTTPRequest(url, headers={"Authorization": f"Bearer {key}"})
        return cls(await websocket_connect(request))

    def send(self, event: Event) -> None:
        self.sent.append(event)
        self.connection.write_message(json.dumps(event))

    async def _read(self) -> None:
        while True:
            message = await self.connection.read_message()
            if message is None:
                return
            self.events.append(json.loads(message))

    async def close(self) -> None:
        self.connection.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)
