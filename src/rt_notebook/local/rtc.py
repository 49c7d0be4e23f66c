"""WebRTC for the local backend (aiortc): the answer SDP, audio both ways, ``oai-events``."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import aioice.ice
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from ..wire.audio import SAMPLE_RATE
from .playback import Playback

log = logging.getLogger(__name__)

_FRAME_SAMPLES = SAMPLE_RATE // 50  # 20 ms
_FLUSH_S = 1.0  # a graceful close waits at most this long for the data channel to drain
_RESYNC_S = 0.1  # this far behind schedule, skip ahead instead of bursting to catch up


def _with_loopback(
    original: Callable[[bool, bool], list[str]],
) -> Callable[[bool, bool], list[str]]:
    """aioice leaves out 127.0.0.1; offer it too, so a browser on this machine always has a
    path (a host with only ``lo`` would otherwise get no candidates at all)."""

    def addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        found = list(original(use_ipv4, use_ipv6))
        if use_ipv4 and "127.0.0.1" not in found:
            found.append("127.0.0.1")
        return found

    addresses.__wrapped__ = original  # type: ignore[attr-defined]
    return addresses


if not hasattr(aioice.ice.get_host_addresses, "__wrapped__"):
    aioice.ice.get_host_addresses = _with_loopback(aioice.ice.get_host_addresses)  # type: ignore[assignment]


class PlaybackTrack(MediaStreamTrack):
    """The assistant's voice: 20 ms frames from a :class:`Playback`, silence in between."""

    kind = "audio"

    def __init__(self, playback: Playback) -> None:
        super().__init__()
        self.playback = playback
        self._start: float | None = None
        self._pts = 0
        self.late_frames = 0
        """Frames produced more than one frame period behind the real-time schedule."""

    @property
    def frames(self) -> int:
        """Frames produced so far."""
        return 0 if self._start is None else self._pts // _FRAME_SAMPLES + 1

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += _FRAME_SAMPLES
            wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -_FRAME_SAMPLES / SAMPLE_RATE:
                self.late_frames += 1
                if wait < -_RESYNC_S:  # after a stall, carry on from now: no burst
                    self._start = time.monotonic() - self._pts / SAMPLE_RATE
        samples = self.playback.read(_FRAME_SAMPLES)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


class CallEngine(Protocol):
    """What a call drives: the Realtime or the Live engine."""

    def start(self) -> None: ...
    def handle_message(self, text: str | bytes) -> None: ...
    def feed_audio(self, pcm16: bytes) -> None: ...
    async def close(self) -> None: ...


class RtcCall:
    """One WebRTC call: a peer connection wired to an engine (Realtime or Live)."""

    def __init__(
        self,
        call_id: str,
        make_engine: Callable[
            [Callable[[dict[str, Any]], None], Playback, Callable[[str], None]], CallEngine
        ],
        on_closed: Callable[[str], None],
    ) -> None:
        self.call_id = call_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.playback = Playback()
        self.track = PlaybackTrack(self.playback)
        self.channel: RTCDataChannel | None = None
        self.engine = make_engine(self._send, self.playback, self._fault)
        self._on_closed = on_closed
        self._reader: asyncio.Task[None] | None = None
        self._closing: asyncio.Future[None] | None = None
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    async def answer(self, offer_sdp: str) -> str:
        """Apply the browser's offer; return the answer SDP with our ICE candidates."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self.pc.addTrack(self.track)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def close(self) -> None:
        """Hang up: stop the engine, the audio and the peer connection.

        Every caller (hangup, a closed peer, shutdown) waits for the same, single close.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self, *, flush: bool = False) -> None:
        if flush and self.channel is not None:
            deadline = time.monotonic() + _FLUSH_S
            while self.channel.bufferedAmount and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # let SCTP hand the last message over
        await self.engine.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self.track.stop()
        await self.pc.close()
        self._on_closed(self.call_id)

    def _send(self, event: dict[str, Any]) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(event))

    def _fault(self, kind: str) -> None:
        log.info("local backend: fault %s on %s", kind, self.call_id)
        if kind == "drop_data_channel" and self.channel is not None:
            self.channel.close()
        elif kind == "close_peer":
            self._closing = self._closing or asyncio.ensure_future(self._close())
        elif kind == "close":  # a graceful end: what was sent last (session.closed) goes first
            self._closing = self._closing or asyncio.ensure_future(self._close(flush=True))

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != "oai-events":
            log.warning("local backend: ignoring data channel %r", channel.label)
            return
        self.channel = channel
        channel.on("message", self.engine.handle_message)
        self.engine.start()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._reader is None:
            self._reader = asyncio.ensure_future(self._read_audio(track))

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)  # noqa: S101 (an audio track)
                for out in resampler.resample(frame):
                    self.engine.feed_audio(out.to_ndarray().tobytes())

    async def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            await self.close()
