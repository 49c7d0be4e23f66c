"""Frontend doubles: test your handlers and tools without a browser.

``ScriptedFrontend`` feeds the server events you write; ``LocalFrontend`` plays the browser's
part for real: a WebRTC call (aiortc) with the local backend, microphone audio included.

    s = rt.RealtimeSession()
    frontend = LocalFrontend(s, scenario=[{"call": "plot_function", "arguments": {...}}])
    s.connect()
    await frontend.wait("response.done")
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .local.backend import LocalRealtime
    from .local.responders import ResponderSpec
    from .sessions.browser import RealtimeSession

__all__ = ["LocalFrontend", "ScriptedFrontend"]


def _now_ms() -> float:
    return time.time() * 1000.0


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
        self.remote_samples = 0
        """Samples of the assistant's audio received."""
        self._pc: Any = None
        self._channel: Any = None
        self._queue: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def say(self, samples: np.ndarray, trailing_silence: float = 1.2) -> None:
        """Speak into the microphone (int16 at 24 kHz), then stay silent so the turn ends."""
        self.mic.enqueue(samples)
        self.mic.enqueue(np.zeros(round(trailing_silence * 24000), dtype=np.int16))

    async def wait(self, kind: str, count: int = 1, timeout: float = 30.0) -> Any:
        """Wait for the ``count``-th server event of a type to reach the session."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.session.events.of(kind) if e.direction == "server"]
            if len(found) >= count:
                return found[count - 1]
            await asyncio.sleep(0.02)
        raise TimeoutError(f"no {kind!r} #{count} within {timeout} s")

    async def close(self) -> None:
        """Hang up and stop the backend."""
        self._disconnect()
        for task in list(self._tasks):
            task.cancel()
        await self.backend.close()

    def _connect(self) -> None:
        task = asyncio.ensure_future(self._call())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        from .local.rtc import PlaybackTrack

        widget = self.session.widget
        widget.status = "connecting"
        pc = self._pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(PlaybackTrack(self.mic))
        channel = self._channel = pc.createDataChannel("oai-events")
        channel.on("message", self._on_message)
        channel.on("open", self._flush)
        pc.on("track", lambda track: self._spawn(self._drain(track)))
        await pc.setLocalDescription(await pc.createOffer())
        scenario = (widget.local_options or {}).get("scenario")
        answer = await self.backend.create_call(
            pc.localDescription.sdp, widget.session_config, scenario=scenario
        )
        widget.call_id, widget.backend = answer.call_id or "", "local"
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))

    def _on_message(self, message: str) -> None:
        event = json.loads(message)
        if event.get("type") == "session.created":
            self.session.widget.status = "connected"
        self._deliver([{"dir": "server", "t": _now_ms(), "event": event}])

    def _client_event(self, event: dict[str, Any]) -> None:
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(json.dumps(event))
            super()._client_event(event)
        else:
            self._queue.append(event)

    def _flush(self) -> None:
        queued, self._queue = self._queue, []
        for event in queued:
            self._client_event(event)

    def _disconnect(self) -> None:
        if self._pc is not None:
            self._spawn(self._pc.close())
        self.session.widget.status = "closed"

    async def _drain(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                frame = await track.recv()
                self.remote_samples += frame.samples
        except MediaStreamError:
            return

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
