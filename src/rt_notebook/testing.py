"""Frontend doubles: test your handlers and tools without a browser.

``ScriptedFrontend`` feeds the server events you write; ``LocalFrontend`` plays the browser's
part for real: a WebRTC call (aiortc) with the local backend, microphone audio included.
``RtcClient`` is that browser stand-in on its own (mic track, ``oai-events`` channel, remote
audio measured as it arrives), for tests and benchmarks of any Realtime endpoint.

    s = rt.RealtimeSession()
    frontend = LocalFrontend(s, scenario=[{"call": "plot_function", "arguments": {...}}])
    s.connect()
    await frontend.wait("response.done")
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .wire.audio import SAMPLE_RATE, resample

if TYPE_CHECKING:
    import httpx

    from .kernel.browser import RealtimeSession
    from .local.backend import LocalRealtime
    from .local.playback import Playback
    from .local.responders import ResponderSpec

__all__ = [
    "EventLog",
    "LocalFrontend",
    "RtcClient",
    "ScriptedFrontend",
    "espeak_pcm",
    "read_wav",
    "silence",
    "wait_until",
]

Event = dict[str, Any]


def _now_ms() -> float:
    return time.time() * 1000.0


async def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll until ``predicate()`` is truthy and return it; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what or predicate}")


def silence(seconds: float) -> np.ndarray:
    """Silence as int16 at 24 kHz."""
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit mono WAV as int16 at 24 kHz."""
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return resample(samples, rate, SAMPLE_RATE)


def espeak_pcm(text: str, path: Path) -> np.ndarray:
    """Real speech: espeak-ng's WAV of ``text`` (written to ``path``) as int16 at 24 kHz."""
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return read_wav(path)


def apply_binary(event: dict[str, Any], binary: dict[str, Any], data: bytes) -> None:
    """Write ``data`` as a data URL at ``binary["path"]`` in ``event`` (as the widget does)."""
    *parents, last = binary["path"]
    node: Any = event
    for key in parents:
        node = node[key]
    node[last] = f"data:{binary['mime']};base64,{base64.b64encode(data).decode()}"


class ScriptedFrontend:
    """Stands in for the widget: records what the kernel sends, delivers what you emit."""

    def __init__(self, session: RealtimeSession) -> None:
        self.session = session
        self.messages: list[dict[str, Any]] = []
        """Every message the kernel sent to the browser (``connect``, ``send``, …)."""
        self.buffers: list[list[bytes]] = []
        """The binary buffers of each message, by index."""
        self.client_events: list[dict[str, Any]] = []
        """The client events the browser would have sent on the data channel."""
        self.clock: Callable[[], float] = _now_ms
        """The browser's clock (epoch ms) stamped on events; replace it for exact timings."""
        session.widget.send = self._from_kernel  # the widget's comm, replaced

    def emit(self, *events: dict[str, Any]) -> None:
        """Deliver server events to the kernel, as one batch."""
        self._deliver([{"dir": "server", "t": self.clock(), "event": e} for e in events])

    def _from_kernel(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.messages.append(content)
        self.buffers.append([bytes(b) for b in buffers or []])
        kind = content.get("kind")
        if kind == "send":
            event = json.loads(json.dumps(content["event"]))
            if content.get("binary") and buffers:
                apply_binary(event, content["binary"], bytes(buffers[0]))
            self.client_events.append(event)
            self._client_event(event)
        elif kind == "connect":
            self._connect()
        elif kind == "disconnect":
            self._disconnect()

    def _client_event(self, event: dict[str, Any]) -> None:
        self._deliver([{"dir": "client", "t": self.clock(), "event": event}])

    def _connect(self) -> None:
        self.session.widget.status = "connected"

    def _disconnect(self) -> None:
        self.session.widget.status = "closed"

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        self.session._on_frontend_message(
            self.session.widget, {"kind": "events", "batch": batch}, []
        )


_EXCHANGE_TIMEOUT_S = 30.0  # an SDP exchange on a loaded machine (or through workers) is slow


class EventLog:
    """Server events received, with helpers to wait for them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        """Server events, in arrival order."""
        self.sent: list[Event] = []
        """Client events sent."""

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 30.0) -> Event:
        """The ``count``-th server event of a type, once it has arrived."""
        events = await wait_until(
            lambda: len(self.of(kind)) >= count and self.of(kind), timeout, f"{kind!r} #{count}"
        )
        return events[count - 1]  # type: ignore[no-any-return]


class RtcClient(EventLog):
    """The browser's part of a WebRTC call, in Python (aiortc), like the widget's.

    A microphone track playing :attr:`mic`, the ``oai-events`` data channel, and the remote
    audio measured as it arrives. Connect with :meth:`connect` (``POST /realtime/calls``), or
    exchange :meth:`offer` and :meth:`accept` yourself.
    """

    def __init__(self, mic: Playback | None = None) -> None:
        super().__init__()
        from aiortc import RTCConfiguration, RTCPeerConnection

        from .local.playback import Playback
        from .local.rtc import PlaybackTrack

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = mic or Playback()
        """Audio the microphone sends (int16, 24 kHz), silence when empty: see :meth:`say`."""
        self.mic_track = PlaybackTrack(self.mic)
        self.pc.addTrack(self.mic_track)
        self.channel = self.pc.createDataChannel("oai-events")
        self.channel.on("message", self._on_message)
        self.listeners: list[Callable[[Event], None]] = []
        """Called with every server event as it arrives."""
        self.first: dict[str, float] = {}
        """Receive time (``time.monotonic()``) of the first event of each type."""
        self.arrivals: list[tuple[float, float, float]] = []
        """Per remote audio frame: (receive time, seconds of audio, RMS on the [-1, 1] scale)."""
        self.remote_samples = 0
        """Samples (per channel) of remote audio received."""
        self.remote_energy = 0.0
        """Sum of the squared remote samples, on the [-1, 1] scale."""
        self.call_id: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)

    async def offer(self) -> str:
        """Create the offer (ICE gathered, no trickle): its SDP."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def connect(
        self,
        base_url: str,
        session: dict[str, Any] | None = None,
        key: str = "sk-local-test",
        http: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """Offer, answer; returns the HTTP response of ``POST /realtime/calls``."""
        if http is None:
            import httpx

            async with httpx.AsyncClient(timeout=_EXCHANGE_TIMEOUT_S) as own:
                return await self.connect(base_url, session, key, own)
        files = {
            "sdp": (None, (await self.offer()).encode(), "application/sdp"),
            "session": (
                None,
                json.dumps(session or {"type": "realtime"}).encode(),
                "application/json",
            ),
        }
        response = await http.post(
            f"{base_url}/realtime/calls", files=files, headers={"Authorization": f"Bearer {key}"}
        )
        if response.status_code == 201:
            await self.accept(response.text, response.headers["location"])
        return response

    async def connect_live(
        self,
        base_url: str,
        session: dict[str, Any] | None = None,
        key: str = "sk-local-test",
        http: httpx.AsyncClient | None = None,
        **extra: Any,
    ) -> httpx.Response:
        """GPT-Live's JSON exchange (``POST /live/sessions``); returns its HTTP response.

        ``extra`` goes into the body too (the local backend's ``local={"scenario": [...]}``).
        """
        if http is None:
            import httpx

            async with httpx.AsyncClient(timeout=_EXCHANGE_TIMEOUT_S) as own:
                return await self.connect_live(base_url, session, key, own, **extra)
        body = {
            "session": session or {"model": "gpt-live-1"},
            "transport": {"type": "webrtc", "sdp": await self.offer()},
            **extra,
        }
        response = await http.post(
            f"{base_url}/live/sessions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        if response.status_code == 201:
            answer = response.json()
            await self.accept(answer["transport"]["sdp"], answer["session"]["id"])
        return response

    async def accept(self, answer_sdp: str, location: str) -> None:
        """Apply the answer; ``location`` is the call's URL (or its id)."""
        from aiortc import RTCSessionDescription

        self.call_id = location.rstrip("/").rsplit("/", 1)[-1]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    def send(self, event: Event) -> None:
        """A client event on the data channel."""
        self.sent.append(event)
        self.channel.send(json.dumps(event))

    def say(self, samples: np.ndarray, trailing_silence: float = 1.2) -> None:
        """Speak into the microphone (int16 at 24 kHz), then stay silent so the turn ends."""
        self.mic.enqueue(samples)
        self.mic.enqueue(silence(trailing_silence))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()

    def _on_message(self, message: str | bytes) -> None:
        event = json.loads(message)
        self.first.setdefault(event.get("type"), time.monotonic())
        self.events.append(event)
        for listener in self.listeners:
            listener(event)

    def _on_track(self, track: Any) -> None:
        if track.kind == "audio" and self._reader is None:
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                samples = frame.to_ndarray().astype(np.float64) / 32768.0
                energy = float(np.square(samples).sum())
                level = math.sqrt(energy / samples.size) if samples.size else 0.0
                self.remote_samples += frame.samples
                self.remote_energy += energy
                self.arrivals.append((time.monotonic(), frame.samples / frame.sample_rate, level))


class LocalFrontend(ScriptedFrontend):
    """A real WebRTC call with a local backend, in-process, driven by the session."""

    def __init__(
        self,
        session: RealtimeSession,
        *,
        backend: LocalRealtime | None = None,
        scenario: ResponderSpec = None,
    ) -> None:
        super().__init__(session)
        from .local.backend import LocalOptions, LocalRealtime
        from .local.playback import Playback

        self.backend = backend or LocalRealtime(LocalOptions(scenario=scenario))
        self.mic = Playback()
        """Audio the microphone will send (int16, 24 kHz): see :meth:`say`."""
        self.peer: RtcClient | None = None
        """The browser's side of the call, once connecting."""
        self._queue: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def remote_samples(self) -> int:
        """Samples of the assistant's audio received."""
        return self.peer.remote_samples if self.peer else 0

    def say(self, samples: np.ndarray, trailing_silence: float = 1.2) -> None:
        """Speak into the microphone (int16 at 24 kHz), then stay silent so the turn ends."""
        self.mic.enqueue(samples)
        self.mic.enqueue(silence(trailing_silence))

    async def wait(self, kind: str, count: int = 1, timeout: float = 30.0) -> Any:
        """Wait for the ``count``-th server event of a type to reach the session."""

        def found() -> list[Any] | None:
            events = [e for e in self.session.events.of(kind) if e.direction == "server"]
            return events if len(events) >= count else None

        return (await wait_until(found, timeout, f"{kind!r} #{count}"))[count - 1]

    async def close(self) -> None:
        """Hang up and stop the backend."""
        peer = self.peer
        self.session.widget.status = "closed"
        for task in list(self._tasks):
            task.cancel()
        if peer is not None:
            await peer.close()
        await self.backend.close()

    def _connect(self) -> None:
        self._spawn(self._call())

    async def _call(self) -> None:
        widget = self.session.widget
        widget.status = "connecting"
        peer = self.peer = RtcClient(self.mic)
        peer.listeners.append(self._on_server_event)
        peer.channel.on("open", self._flush)
        scenario = (widget.local_options or {}).get("scenario")
        backend = self.backend.as_live() if self.session.protocol == "live" else self.backend
        answer = await backend.create_call(
            await peer.offer(), widget.session_config, scenario=scenario
        )
        widget.call_id, widget.backend = answer.call_id or "", "local"
        await peer.accept(answer.sdp, answer.call_id or "")

    def _on_server_event(self, event: dict[str, Any]) -> None:
        if event.get("type") in ("session.created", "session.started"):
            self.session.widget.status = "connected"
        self._deliver([{"dir": "server", "t": _now_ms(), "event": event}])

    def _client_event(self, event: dict[str, Any]) -> None:
        if self.peer is not None and self.peer.channel.readyState == "open":
            self.peer.send(event)
            super()._client_event(event)
        else:
            self._queue.append(event)

    def _flush(self) -> None:
        queued, self._queue = self._queue, []
        for event in queued:
            self._client_event(event)

    def _disconnect(self) -> None:
        if self.peer is not None:
            self._spawn(self.peer.close())
        self.session.widget.status = "closed"

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
