"""A running local backend and a real aiortc client for the tests (the browser's stand-in)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from tornado.websocket import WebSocketClientConnection, websocket_connect

from rt_notebook.local.backend import LocalOptions, LocalRealtime
from rt_notebook.local.playback import Playback
from rt_notebook.local.rtc import PlaybackTrack
from rt_notebook.local.server import serve
from rt_notebook.wire.audio import SAMPLE_RATE, resample

Event = dict[str, Any]


def espeak_pcm(text: str, path: Path) -> np.ndarray:
    """Real speech: espeak-ng's WAV as int16 at 24 kHz."""
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return resample(samples, rate, SAMPLE_RATE)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


@contextlib.asynccontextmanager
async def running_backend(**options: Any) -> AsyncIterator[tuple[LocalRealtime, str]]:
    """The standalone server on a free loopback port: ``(backend, "http://127.0.0.1:N/v1")``."""
    async with serve(LocalRealtime(LocalOptions(**options))) as running:
        yield running


async def wait_until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until ``predicate()`` is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


class EventLog:
    """Server events received, with helpers to wait for them."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 30.0) -> Event:
        events = await wait_until(lambda: len(self.of(kind)) >= count and self.of(kind), timeout)
        return events[count - 1]  # type: ignore[no-any-return]


class RtcClient(EventLog):
    """A WebRTC peer like the widget: mic track, ``oai-events`` channel, remote audio."""

    def __init__(self) -> None:
        super().__init__()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = Playback()
        self.pc.addTrack(PlaybackTrack(self.mic))
        self.channel = self.pc.createDataChannel("oai-events")
        self.channel.on("message", lambda m: self.events.append(json.loads(m)))
        self.sent: list[Event] = []
        self.remote_samples = 0
        self.remote_energy = 0.0
        self.call_id: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)

    async def connect(
        self, base_url: str, session: dict[str, Any] | None = None, key: str = "sk-local-test"
    ) -> httpx.Response:
        """Offer, answer; returns the HTTP response of ``POST /realtime/calls``."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        files = {
            "sdp": (None, self.pc.localDescription.sdp.encode(), "application/sdp"),
            "session": (
                None,
                json.dumps(session or {"type": "realtime"}).encode(),
                "application/json",
            ),
        }
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{base_url}/realtime/calls",
                files=files,
                headers={"Authorization": f"Bearer {key}"},
            )
        if response.status_code == 201:
            await self.accept(response.text, response.headers["location"])
        return response

    async def accept(self, answer_sdp: str, location: str) -> None:
        self.call_id = location.rstrip("/").rsplit("/", 1)[-1]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    def send(self, event: Event) -> None:
        self.sent.append(event)
        self.channel.send(json.dumps(event))

    def say(self, speech: np.ndarray, trailing_silence: float = 1.2) -> None:
        """Speak into the microphone (then silence, so the turn ends)."""
        self.mic.enqueue(speech)
        self.mic.enqueue(silence(trailing_silence))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()

    def _on_track(self, track: Any) -> None:
        self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: Any) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                samples = frame.to_ndarray().astype(np.float64) / 32768.0
                self.remote_samples += samples.size
                self.remote_energy += float(np.square(samples).sum())


class WsClient(EventLog):
    """A WebSocket client of ``/v1/realtime`` (session or sideband)."""

    def __init__(self, connection: WebSocketClientConnection) -> None:
        super().__init__()
        self.connection = connection
        self.sent: list[Event] = []
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
