"""Pluggable transcription of committed input audio for the local backend."""

from __future__ import annotations

import threading
from typing import Protocol

from ..wire.audio import SAMPLE_RATE, from_pcm16, resample, rms, to_pcm16

__all__ = ["HonestTranscriber", "PocketSphinxTranscriber", "Transcriber", "make_transcriber"]

_SPHINX_RATE = 16000
_QUIET = 0.001  # RMS below -60 dBFS holds no speech


class Transcriber(Protocol):
    """Turns one committed user turn into text."""

    def transcribe(self, pcm16_24k: bytes) -> str:
        """Transcribe PCM16 mono 24 kHz audio."""
        ...


class HonestTranscriber:
    """Never invents words: reports only that there was speech, and how long it lasted."""

    def transcribe(self, pcm16_24k: bytes) -> str:
        """Describe the audio, e.g. ``(speech, 1.4 s)``."""
        return f"(speech, {len(pcm16_24k) // 2 / SAMPLE_RATE:.1f} s)"


class PocketSphinxTranscriber:
    """Offline English recognition with the model that ships with pocketsphinx (rough)."""

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as error:
            raise RuntimeError(
                "pip install 'rt_notebook[pocketsphinx]' (or pocketsphinx) to transcribe "
                "input audio locally, or use the 'honest' transcriber"
            ) from error
        self._decoder = Decoder(samprate=_SPHINX_RATE, loglevel="FATAL")
        self._lock = threading.Lock()  # one decoder, called from worker threads

    def transcribe(self, pcm16_24k: bytes) -> str:
        """Recognize the audio; an empty string when nothing was recognized."""
        samples = from_pcm16(pcm16_24k)
        if rms(samples) < _QUIET:  # on silence pocketsphinx still guesses a word
            return ""
        audio = to_pcm16(resample(samples, SAMPLE_RATE, _SPHINX_RATE))
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(audio, full_utt=True)
            self._decoder.end_utt()
            hypothesis = self._decoder.hyp()
        return str(hypothesis.hypstr) if hypothesis is not None else ""


def make_transcriber(name: str | None) -> Transcriber:
    """The transcriber called ``name``: ``"honest"`` (the default) or ``"pocketsphinx"``."""
    if name is None or name == "honest":
        return HonestTranscriber()
    if name == "pocketsphinx":
        return PocketSphinxTranscriber()
    raise ValueError(f"unknown transcriber {name!r}; use 'honest' or 'pocketsphinx'")
