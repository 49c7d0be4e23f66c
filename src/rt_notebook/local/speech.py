"""The local backend's voice: espeak-ng speech at 24 kHz with word timings, or a tone fallback."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
import zlib
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from ..wire.audio import SAMPLE_RATE, from_pcm16, resample

__all__ = ["Speech", "espeak_available", "synthesize"]

# GA voice -> (espeak-ng en-US variant, pitch 0-99).
_VOICES: dict[str, tuple[str, int]] = {
    "alloy": ("m3", 50),
    "ash": ("m1", 38),
    "ballad": ("m7", 46),
    "coral": ("f2", 60),
    "echo": ("m2", 32),
    "sage": ("f4", 54),
    "shimmer": ("f5", 68),
    "verse": ("m4", 56),
    "marin": ("f3", 58),
    "cedar": ("m6", 42),
}
_BASE_WPM = 175  # espeak-ng's default rate is speed 1.0
_MIN_WPM = 80  # espeak-ng's slowest rate; slower speeds add gaps between words
_GAP_UNIT_MS = 33  # one ``-g`` unit at 80 wpm (measured with espeak-ng 1.51)
_TIMEOUT_S = 30
# Synthesis is batch work beside the calls' 20 ms audio frames: it yields the CPU to them.
_NICE = ("nice", "-n", "10") if shutil.which("nice") else ()
_FRAME = SAMPLE_RATE // 100  # 10 ms envelope frames for finding pauses
_SILENT = 0.01  # frame RMS below this is a pause (-40 dBFS)
_PAUSE_MS = 100  # a gap this long (at speed 1.0) is a punctuation pause, not a stop consonant
_CLAUSE_END = re.compile(r"[,.;:!?]['\")\]]*$")
_BEEP_HZ = 880.0


@dataclass(frozen=True, eq=False)
class Speech:
    """One synthesized utterance."""

    samples: npt.NDArray[np.int16]
    """PCM16 mono at 24 kHz (read-only)."""
    words: tuple[tuple[str, float, float], ...]
    """``(word, start_s, end_s)`` per word, contiguous from 0 to the end of the audio."""
    text: str
    """The text that was spoken."""
    synthetic: bool
    """True when espeak-ng was missing or failed and the audio is the beep fallback."""


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` executable is on PATH."""
    return shutil.which("espeak-ng") is not None


def synthesize(text: str, *, voice: str = "marin", speed: float = 1.0) -> Speech:
    """Speak ``text`` with espeak-ng (beeps if it is missing); ``speed`` is clamped to 0.25-1.5."""
    return _synthesize(text, voice, min(max(speed, 0.25), 1.5), shutil.which("espeak-ng"))


@lru_cache(maxsize=32)
def _synthesize(text: str, voice: str, speed: float, exe: str | None) -> Speech:
    tokens = tuple(text.split())
    if not tokens:
        return _speech(np.zeros(0, np.int16), (), text, synthetic=False)
    samples = _espeak(exe, text, voice, speed) if exe else None
    if samples is None or samples.size == 0:
        samples, starts = _beeps(tokens, speed)
        return _speech(samples, _tile(tokens, starts, samples.size), text, synthetic=True)
    words = _tile(tokens, _word_starts(samples, tokens, speed), samples.size)
    return _speech(samples, words, text, synthetic=False)


def _speech(
    samples: npt.NDArray[np.int16],
    words: tuple[tuple[str, float, float], ...],
    text: str,
    *,
    synthetic: bool,
) -> Speech:
    samples.flags.writeable = False  # cached results are shared
    return Speech(samples=samples, words=words, text=text, synthetic=synthetic)


def _espeak(exe: str, text: str, voice: str, speed: float) -> npt.NDArray[np.int16] | None:
    variant, pitch = _voice(voice)
    wpm = round(_BASE_WPM * speed)
    gap = max(0, round(60_000 / _BASE_WPM * (1 / speed - _BASE_WPM / _MIN_WPM) / _GAP_UNIT_MS))
    argv = [*_NICE, exe, "--stdout", "--stdin", "-z", "-b", "1", "-v", f"en-us+{variant}"]
    argv += ["-p", str(pitch), "-s", str(max(wpm, _MIN_WPM)), "-g", str(gap)]
    try:
        done = subprocess.run(
            argv, input=text.encode(), capture_output=True, timeout=_TIMEOUT_S, check=True
        )
        with wave.open(io.BytesIO(done.stdout)) as wav:
            rate = wav.getframerate()
            pcm = wav.readframes(wav.getnframes())  # the streamed header's count is a placeholder
    except (OSError, subprocess.SubprocessError, wave.Error, EOFError):
        return None
    result: npt.NDArray[np.int16] = resample(from_pcm16(pcm[: len(pcm) & ~1]), rate, SAMPLE_RATE)
    return result


def _voice(name: str) -> tuple[str, int]:
    """The espeak-ng variant and pitch for a GA voice name; other names hash onto the table."""
    table = list(_VOICES.values())
    return _VOICES.get(name) or table[zlib.crc32(name.encode()) % len(table)]


def _word_starts(
    samples: npt.NDArray[np.int16], tokens: tuple[str, ...], speed: float
) -> list[float]:
    """Word onsets: clauses fill the voiced spans between the longest pauses, words by length."""
    frames = samples[: samples.size // _FRAME * _FRAME].reshape(-1, _FRAME) / 32768.0
    voiced = np.flatnonzero(np.sqrt(np.mean(frames * frames, axis=1)) >= _SILENT)
    if voiced.size == 0:
        return _spread(tokens, 0.0, samples.size / SAMPLE_RATE)
    steps = np.diff(voiced)
    gaps = np.flatnonzero(steps * 10 >= _PAUSE_MS / min(speed, 1.0))
    breaks = [i + 1 for i, token in enumerate(tokens[:-1]) if _CLAUSE_END.search(token)]
    if gaps.size < len(breaks):  # punctuation espeak-ng did not pause at: spread evenly
        return _spread(tokens, voiced[0] / 100, (voiced[-1] + 1) / 100)
    gaps = np.sort(gaps[np.argsort(-steps[gaps], kind="stable")[: len(breaks)]])  # the longest
    spans = np.stack([voiced[np.r_[0, gaps + 1]], voiced[np.r_[gaps, -1]] + 1], axis=1) / 100
    bounds = [0, *breaks, len(tokens)]
    starts: list[float] = []
    for (lo, hi), (start, end) in zip(pairwise(bounds), spans.tolist(), strict=True):
        starts += _spread(tokens[lo:hi], start, end)
    return starts


def _spread(tokens: tuple[str, ...], start: float, end: float) -> list[float]:
    """Word onsets across ``start..end``, each word's share proportional to its letters."""
    weights = np.array([max(1, sum(c.isalnum() for c in token)) for token in tokens], float)
    edges = start + (end - start) * np.cumsum(weights) / weights.sum()
    return [start, *edges[:-1].tolist()]


def _tile(
    tokens: tuple[str, ...], starts: list[float], num_samples: int
) -> tuple[tuple[str, float, float], ...]:
    """Words as contiguous ``(word, start, end)`` spans from 0 to the end of the audio."""
    total = num_samples / SAMPLE_RATE
    bounds = [0.0, *starts[1:], total]
    spans = zip(tokens, pairwise(bounds), strict=True)
    return tuple((token, round(start, 3), round(end, 3)) for token, (start, end) in spans)


def _beeps(tokens: tuple[str, ...], speed: float) -> tuple[npt.NDArray[np.int16], list[float]]:
    """One fixed-pitch beep per word, longer for longer words, then a short gap."""
    pieces: list[npt.NDArray[np.float64]] = []
    starts: list[float] = []
    gap = np.zeros(round(0.08 / speed * SAMPLE_RATE))
    position = 0
    for token in tokens:
        starts.append(position / SAMPLE_RATE)
        seconds = min(0.06 + 0.025 * sum(c.isalnum() for c in token), 0.4) / speed
        t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
        pieces += [0.3 * fade * np.sin(2 * np.pi * _BEEP_HZ * t), gap]
        position += t.size + gap.size
    audio = np.clip(np.rint(np.concatenate(pieces) * 32767), -32768, 32767).astype(np.int16)
    return audio, starts
