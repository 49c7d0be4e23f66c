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
    "LiveWsClient",
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


class LiveWsClient(WsClient):
    """A GPT-Live WebSocket client: ``/v1/live/sessions`` (primary) or ``…/{id}/attach``.

    The continuous output (``session.output_audio.delta`` frames without ``event_id``) is kept
    apart in :attr:`frames`, so :attr:`events` holds what the session says.
    """

    def __init__(self, connection: WebSocketClientConnection) -> None:
        self.frames: list[Event] = []
        """Output audio frames (and, on a sideband, reflections and timed deltas)."""
        super().__init__(connection)

    @classmethod
    async def connect(
        cls, base_url: str, path: str = "/live/sessions", key: str = "sk-local-test"
    ) -> LiveWsClient:
        from tornado.httpclient import HTTPRequest

        url = base_url.replace("https://", "wss://").replace("http://", "ws://") + path
        request = HTTPRequest(url, headers={"Authorization": f"Bearer {key}"})
        return cls(await websocket_connect(request))

    @classmethod
    async def start(
        cls,
        base_url: str,
        session: dict[str, Any] | None = None,
        key: str = "sk-local-test",
        **start: Any,
    ) -> LiveWsClient:
        """A session started: ``session.start`` sent and ``session.started`` received."""
        client = await cls.connect(base_url, key=key)
        client.send(
            {"type": "session.start", "session": session or {"model": "gpt-live-1"}, **start}
        )
        await client.wait("session.started", timeout=30)
        return client

    def speak(self, samples: Any, chunk_ms: int = 100) -> None:
        """Stream int16 24 kHz audio as ``session.input_audio.append`` events."""
        import base64

        from rt_notebook.wire.audio import to_pcm16

        step = 24 * chunk_ms
        for i in range(0, len(samples), step):
            audio = base64.b64encode(to_pcm16(samples[i : i + step])).decode()
            self.send({"type": "session.input_audio.append", "audio": audio})

    async def _read(self) -> None:
        while True:
            message = await self.connection.read_message()
            if message is None:
                return
            event = json.loads(message)
            if "event_id" in event:
                self.events.append(event)
            else:
                self.frames.append(event)

    @property
    def closed(self) -> bool:
        return self._reader.done()


async def live_text_turn(base_url: str, key: str = "sk-local-test") -> LiveWsClient:
    """One GPT-Live WebSocket turn: start, a typed question answered aloud (silence streamed
    meanwhile, as Live's timeline needs), close. The same steps run locally and against OpenAI."""
    client = await LiveWsClient.start(
        base_url,
        {
            "model": "gpt-live-1",
            "instructions": "Answer in a few words.",
            "audio": {"format": {"type": "audio/pcm", "rate": 24000}},
        },
        key=key,
    )
    client.send(
        {
            "type": "session.commentary.append",
            "event_id": "ask",
            "content": "The user typed: say hello.",
            "delegation_id": None,
        }
    )
    quiet = silence(0.1)

    def spoken() -> bool:
        return bool(client.of("session.output_transcript.delta")) and bool(
            client.of("session.usage.updated")
        )

    for _ in range(300):  # at most 30 s of audio
        if spoken():
            break
        client.speak(quiet)
        await asyncio.sleep(0.1)
    await wait_until(spoken, 5, "a spoken answer and a usage report")
    client.send({"type": "session.close", "event_id": "bye"})
    await client.wait("session.closed", timeout=20)
    await client.close()
    return client
