"""``HeadlessSession``: a realtime session run entirely in the kernel over WebSocket.

No browser, no microphone: audio goes in from numpy arrays or WAV files and comes back as
numpy, for reproducible experiments and batch evaluation. Same API as ``RealtimeSession``
(``on``, ``tool``, ``send_text``, ``update``, ``send_image``, ``transcript``, ``events``,
latencies, usage, cost). With no key and no URL it runs against an in-process local backend.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import wave
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import websockets

from ..errors import RealtimeError, redact, redacting_logger
from ..wire.audio import SAMPLE_RATE
from ..wire.events import RECONNECTED, RECONNECTING, RealtimeEvent, as_dict, as_dicts, as_str
from ..wire.live_config import validate_live_session
from ..wire.models import DEFAULT_MODEL
from ..wire.sideband import websocket_base, websocket_url
from ..wire.signaling import env_credentials
from ..wire.widget_protocol import Status
from . import registry
from .core import SessionCore
from .options import HeadlessOptions, config_errors_at_caller, resolve, signature
from .recordings import Recordings

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["HeadlessSession", "read_wav"]

log = redacting_logger(__name__)


def _now_ms() -> float:
    return time.time() * 1000.0


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(mono int16 samples, sample rate) of a 16-bit PCM WAV file."""
    with wave.open(str(path)) as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        channels, rate = wav.getnchannels(), wav.getframerate()
    if channels > 1:
        frames = frames.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return frames.astype(np.int16), rate


class HeadlessSession(SessionCore):
    """A WebSocket realtime session in the kernel; use ``async with`` or ``connect()``.

    Keywords (all optional, see :class:`~rt_notebook.kernel.options.HeadlessOptions`):
    ``model``, ``voice``, ``instructions``, ``transcription``, ``turn_detection``,
    ``session``, ``prices``, ``budget_usd``, ``local_scenario`` (as for ``RealtimeSession``;
    the config is sent with ``session.update`` on connect), ``url``, ``api_key``.
    """

    @config_errors_at_caller
    def __init__(self, **keywords: Unpack[HeadlessOptions]) -> None:
        options = resolve("HeadlessSession", HeadlessOptions, keywords)
        if options["protocol"] != "live":  # explicit, as ?model= needs (Live: gpt-live-1)
            options["model"] = options["model"] or DEFAULT_MODEL
        super().__init__(cast(HeadlessOptions, options))
        self.url: str | None = options["url"]
        self.recordings = Recordings()
        """What was sent (``mic``) and the assistant's audio (``assistant``), as numpy."""
        credentials = env_credentials()
        api_key = options["api_key"]
        self._api_key = api_key if api_key is not None else credentials.api_key
        self._base_url = credentials.base_url
        self._scenario = options["local_scenario"]
        self._status: Status = "idle"
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._local: contextlib.AsyncExitStack | None = None
        self._audio: dict[str, list[np.ndarray]] = {}
        self._changed = asyncio.Event()  # binds to no loop until first awaited
        self._address: tuple[str, str] | None = None
        self._closing = False
        self.reconnect_attempts = 0 if self.protocol == "live" else 3
        """New sockets tried when the connection is lost (``0``: the session ends). GPT-Live:
        0, as a new Live session starts without the lost one's conversation."""
        self.backend = ""
        """``"openai"``, ``"local"`` (in-process), or the URL it connected to."""

    def __repr__(self) -> str:
        return f"<HeadlessSession {self._status} {self._config.get('model', '')}>"

    async def __aenter__(self) -> HeadlessSession:
        await self.connect()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def status(self) -> Status:
        """idle, connecting, connected, closed or error."""
        return self._status

    # ---- connection -------------------------------------------------------------------

    async def connect(self, timeout: float = 30.0) -> None:
        """Open the WebSocket, wait for ``session.created``, send the session config.

        GPT-Live: open ``/live/sessions``, send ``session.start`` with the config (PCM16 at
        24 kHz unless it names a format), wait for ``session.started``.
        """
        if self.protocol == "live":  # checked for the WebSocket before anything is opened
            validate_live_session(_with_pcm(self._config), transport="websocket")
        self._status = "connecting"
        self._closing = False
        await self._open(timeout)
        self._status = "connected"
        await self._configure(timeout)

    async def _open(self, timeout: float) -> None:
        """A WebSocket to the endpoint, read and written, with its ``session.created``."""
        url, key = self._address or await self._endpoint()
        self._address = (url, key)
        model = self._config.get("model") or DEFAULT_MODEL
        created = len(self.events.of("session.created"))
        live = self.protocol == "live"
        try:
            self._ws = await websockets.connect(
                url if live else f"{url}?model={model}",
                additional_headers={"Authorization": f"Bearer {key}"},
                max_size=None,
                open_timeout=timeout,
            )
        except websockets.InvalidStatus as exc:
            self._status = "error"
            raise _refused(exc) from None
        except OSError as exc:
            self._status = "error"
            raise RealtimeError(502, "unreachable", f"Could not reach {url}: {exc}") from None
        self._reader = asyncio.ensure_future(self._read(self._ws))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write())
        if self.protocol == "live":
            await self._start_live(timeout)
            return
        await self.wait_for("session.created", count=created + 1, timeout=timeout)

    async def _configure(self, timeout: float) -> None:
        if self.protocol == "live":
            return  # its config went with session.start
        updated = len(self.events.of("session.updated"))
        update = {k: v for k, v in self._config.items() if k != "model"}
        self.send({"type": "session.update", "session": update})
        await self.wait_for("session.updated", count=updated + 1, timeout=timeout)

    async def _reconnect(self, timeout: float = 15.0) -> None:
        """The socket closed under a live session: new ones with the same config, after a
        backoff (``reconnect_attempts``); the conversation is replayed into the one that
        opens, as for the browser's calls."""
        self._status = "reconnecting"
        attempts = max(0, self.reconnect_attempts)
        reason = "the WebSocket closed"
        for attempt in range(1, attempts + 1):
            marker = {"type": RECONNECTING, "attempt": attempt, "of": attempts, "reason": reason}
            self._receive(marker, _now_ms(), "server")
            await asyncio.sleep(min(4.0, 0.25 * 2 ** (attempt - 1)))
            if self._closing:
                return
            while not self._outbox.empty():  # its conversation items are in the replay
                self._outbox.get_nowait()
                self._outbox.task_done()
            try:
                await self._open(timeout)
                self._status = "connected"
                await self._configure(timeout)
            except (RealtimeError, TimeoutError, OSError, websockets.WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self._status = "reconnecting"
                continue
            self._receive({"type": RECONNECTED, "attempt": attempt}, _now_ms(), "server")
            self._notify()
            return
        self._status = "error"
        self._notify()

    async def _start_live(self, timeout: float) -> None:
        start = validate_live_session(_with_pcm(self._config), transport="websocket")
        started = len(self.events.of("session.started"))
        errors = len(self.events.of("error"))
        self.send({"type": "session.start", "session": start})
        deadline = time.monotonic() + timeout
        while len(self.events.of("session.started")) <= started:
            failed = [e for e in self.events.of("error")[errors:] if e.direction == "server"]
            if failed or self._ws is None or self._reader is None or self._reader.done():
                error = as_dict(failed[0].error) if failed else {}
                self._status = "error"
                raise RealtimeError(
                    400,
                    as_str(error.get("code")) or "session_not_started",
                    "The Live session did not start: "
                    + (as_str(error.get("message")) or "the server closed the socket"),
                    param=as_str(error.get("param")),
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"no 'session.started' within {timeout} s")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - time.monotonic()))

    async def close(self, timeout: float = 10.0) -> None:
        """Close the WebSocket (and the in-process local backend, if one was started).

        A GPT-Live session is closed with ``session.close`` first, and its final usage
        (``session.closed``) awaited for up to ``timeout`` seconds.
        """
        if self.protocol == "live" and self._status == "connected":
            self.send({"type": "session.close"})
            with contextlib.suppress(TimeoutError, RealtimeError):
                await self.wait_for("session.closed", timeout=timeout)
        self._closing = True
        if self._writer is not None:
            await self._outbox.join()  # what was sent before close goes out
            self._writer.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for task in list(self._tasks):
            task.cancel()
        if self._local is not None:
            await self._local.aclose()
            self._local = None
        self._status = "closed"
        registry.forget(self)

    def end_call(self) -> None:
        if self._status not in ("closed", "idle"):
            self._spawn(self.close())

    async def _endpoint(self) -> tuple[str, str]:
        if self.url:
            self.backend = "openai" if "api.openai.com" in self.url else self.url
            return self.url, self._api_key or "sk-local"
        live = self.protocol == "live"
        if self._api_key:
            self.backend = "openai"
            return _ws_endpoint(self._base_url, live), self._api_key
        from ..local.backend import LocalOptions, LocalRealtime
        from ..local.server import serve_private

        self._local = contextlib.AsyncExitStack()
        backend = LocalRealtime(LocalOptions(scenario=self._scenario, realtime_factor=4.0))
        base, key = await self._local.enter_async_context(serve_private(backend))
        self.backend = "local"
        return _ws_endpoint(base, live), key

    # ---- sending ------------------------------------------------------------------------

    def _transmit(self, event: dict[str, Any]) -> None:
        if self._ws is None:
            raise RealtimeError(409, "not_connected", "Connect first: await session.connect()")
        self._receive(event, _now_ms(), "client")
        self._outbox.put_nowait(json.dumps(event))

    def _stop(self, code: str, message: str, fix: str) -> None:
        self._spawn(self.close())

    def _show_error(self, text: str) -> None:
        log.error("rt_notebook: %s", text)

    async def send_audio(
        self,
        audio: np.ndarray | str | Path,
        rate: int = SAMPLE_RATE,
        *,
        pace: bool = True,
        chunk_ms: int = 100,
        trailing_silence: float | None = None,
    ) -> None:
        """Send speech: samples (int16, or float in [-1, 1]) at ``rate``, or a WAV file.

        Resampled to 24 kHz PCM16 and appended in ``chunk_ms`` pieces, in real time (``pace``)
        or as fast as the server takes them. With server VAD, silence is appended after it
        (default 1 s) so the turn ends; without turn detection the buffer is committed and a
        response asked for.
        """
        from ..wire.audio import resample, to_pcm16

        if isinstance(audio, (str, Path)):
            audio, rate = read_wav(audio)
        samples = np.asarray(audio)
        if samples.dtype != np.int16:
            samples = np.frombuffer(to_pcm16(samples.astype(np.float32)), dtype="<i2")
        samples = resample(samples, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else samples
        live = self.protocol == "live"  # the model owns turns: no commit
        manual = not live and (
            self._config.get("audio", {}).get("input", {}).get("turn_detection", "") is None
        )
        pad = trailing_silence if trailing_silence is not None else (0.0 if manual else 1.0)
        append = "session.input_audio.append" if live else "input_audio_buffer.append"
        samples = np.concatenate([samples, np.zeros(round(pad * SAMPLE_RATE), dtype=np.int16)])
        step = SAMPLE_RATE * chunk_ms // 1000
        started = time.monotonic()
        for index, offset in enumerate(range(0, len(samples), step)):
            chunk = samples[offset : offset + step]
            self.recordings.mic.append(chunk.astype("<i2").tobytes(), _now_ms())
            self.send(
                {"type": append, "audio": base64.b64encode(chunk.astype("<i2").tobytes()).decode()}
            )
            if pace:
                await asyncio.sleep(
                    max(0.0, started + (index + 1) * chunk_ms / 1000 - time.monotonic())
                )
            else:
                await asyncio.sleep(0)
        if manual:
            self.send({"type": "input_audio_buffer.commit"})
            self.create_response()

    def interrupt(self) -> None:
        """Stop the assistant (``response.cancel`` when one is active)."""
        self._realtime_only("interrupt", "the Live model owns barge-in")
        if self._sequencer.active:
            self.send({"type": "response.cancel"})

    async def _write(self) -> None:
        """One writer, so client events go out in the order they were sent."""
        while True:
            message = await self._outbox.get()
            try:
                await self._ws.send(message)
            except websockets.ConnectionClosed:
                log.warning("rt_notebook: the session closed; an event was not sent")
            finally:
                self._outbox.task_done()

    # ---- receiving ----------------------------------------------------------------------

    async def _read(self, ws: Any) -> None:
        try:
            async for message in ws:
                try:
                    raw = json.loads(message)
                except ValueError:
                    log.warning("rt_notebook: unreadable server message %r", message[:200])
                    continue
                if isinstance(raw, dict):
                    self._on_server_event(raw)
        except websockets.ConnectionClosed:
            pass
        finally:
            if ws is self._ws and self._status == "connected" and not self._closing:
                self._spawn(self._reconnect())
            elif ws is self._ws and self._status != "reconnecting":
                self._status = "closed"
            self._notify()

    def _on_server_event(self, raw: dict[str, Any]) -> None:
        event = RealtimeEvent(raw, _now_ms())
        if event.type in _AUDIO_DELTAS:  # kept before handlers see the delta
            self._guard("audio recorder", event, self._keep_audio, event)
        self._receive(raw, event.t, "server")
        self._notify()

    def _keep_audio(self, event: RealtimeEvent) -> None:
        pcm = base64.b64decode(as_str(event.delta) or "", validate=True)
        chunk = np.frombuffer(pcm, dtype="<i2").astype(np.int16)  # odd byte counts raise here
        self.recordings.assistant.append(pcm, event.t)
        key = str(event.response_id) if self.protocol == "realtime" else _LIVE_AUDIO
        self._audio.setdefault(key, []).append(chunk)

    def _notify(self) -> None:
        self._changed.set()

    # ---- waiting ------------------------------------------------------------------------

    async def wait_for(
        self, event_type: str, count: int = 1, timeout: float = 60.0
    ) -> RealtimeEvent:
        """The ``count``-th server event of a type (counting from the session's start)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events.of(event_type) if e.direction == "server"]
            if len(found) >= count:
                return found[count - 1]
            if self._status in ("closed", "error") and event_type not in _OPENING:
                raise RealtimeError(499, "closed", f"the session closed before {event_type}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {event_type!r} #{count} within {timeout} s")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def next_response(self, timeout: float = 60.0) -> RealtimeEvent:
        """Wait for the next ``response.done`` (one that has not arrived yet)."""
        seen = len(self.events.of("response.done"))
        return await self.wait_for("response.done", count=seen + 1, timeout=timeout)

    async def ask(self, text: str, timeout: float = 60.0, *, quiet: float = 1.5) -> str:
        """Send a message and return the reply's text (or spoken transcript).

        GPT-Live has no end of a reply: it is the assistant's transcript from its first delta
        after the text until ``quiet`` seconds pass without one.
        """
        if self.protocol == "live":
            return await self._ask_live(text, timeout, quiet)
        seen = len(self.events.of("response.done"))
        self.send_text(text)
        done = await self.wait_for("response.done", count=seen + 1, timeout=timeout)
        return reply_text(done)

    async def _ask_live(self, text: str, timeout: float, quiet: float) -> str:
        kind = "session.output_transcript.delta"
        seen = len(self.events.of(kind))
        self.send_text(text)
        await self.wait_for(kind, count=seen + 1, timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._status == "connected":
            count = len(self.events.of(kind))
            await asyncio.sleep(quiet)
            if len(self.events.of(kind)) == count:
                break
        deltas = [e for e in self.events.of(kind)[seen:] if e.direction == "server"]
        return "".join(as_str(e.delta) or "" for e in deltas).strip()

    def assistant_audio(self, response_id: str | None = None) -> np.ndarray:
        """The assistant's audio (int16, 24 kHz) of one response, or of the last one
        (GPT-Live: all of it, silence included, as the server streams it)."""
        if self.protocol == "live":
            response_id = _LIVE_AUDIO
        if response_id is None:
            done = self.events.of("response.done")
            response_id = str(as_dict(done[-1].response).get("id")) if done else ""
        chunks = self._audio.get(response_id, [])
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


HeadlessSession.__signature__ = signature(HeadlessOptions)  # type: ignore[attr-defined]


_AUDIO_DELTAS = ("response.output_audio.delta", "session.output_audio.delta")
_OPENING = ("session.created", "session.started")
_LIVE_AUDIO = "live"


def _with_pcm(config: dict[str, Any]) -> dict[str, Any]:
    """A Live startup config in PCM16 at 24 kHz unless it names its format."""
    audio = dict(config.get("audio") or {})
    audio.setdefault("format", {"type": "audio/pcm", "rate": SAMPLE_RATE})
    return {**config, "audio": audio}


def _ws_endpoint(base_url: str, live: bool) -> str:
    """The WebSocket of a protocol: ``…/realtime`` or GPT-Live's ``…/live/sessions``."""
    return websocket_base(base_url) + "/live/sessions" if live else websocket_url(base_url)


def reply_text(done: RealtimeEvent) -> str:
    """The text of a response: its output message's text or audio transcript."""
    parts = []
    for item in as_dicts(as_dict(done.response).get("output")):
        for part in as_dicts(item.get("content")):
            parts.append(as_str(part.get("text")) or as_str(part.get("transcript")) or "")
    return " ".join(p for p in parts if p)


def _refused(exc: Any) -> RealtimeError:
    status = getattr(getattr(exc, "response", None), "status_code", 0)
    body = getattr(getattr(exc, "response", None), "body", b"") or b""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = body.decode(errors="replace")[:200] or "refused"
    message = redact(str(message))
    if status in (401, 403):
        return RealtimeError(502, "openai_key_rejected", f"The API key was rejected: {message}")
    return RealtimeError(
        502, "refused", f"The realtime WebSocket was refused ({status}): {message}"
    )
