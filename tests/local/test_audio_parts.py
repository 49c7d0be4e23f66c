"""The local backend's audio parts, on real espeak-ng speech and real silence."""

from __future__ import annotations

import subprocess
import sys
import wave
from itertools import pairwise
from math import ceil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rt_notebook.local.speech import Speech, espeak_available, synthesize
from rt_notebook.local.transcribe import HonestTranscriber, make_transcriber
from rt_notebook.local.vad import TurnDetector, VadEvent
from rt_notebook.wire.audio import (
    SAMPLE_RATE,
    Resampler,
    duration_ms,
    from_pcm16,
    resample,
    rms,
    to_pcm16,
)

SENTENCE = "Hello, this is a test of the realtime audio pipeline"
LEAD_SILENCE_S = 1.0
TAIL_SILENCE_S = 1.5
TOLERANCE_MS = 150
CHUNK_20MS = SAMPLE_RATE // 50 * 2

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        return from_pcm16(wav.readframes(wav.getnframes())), wav.getframerate()


def envelope_bounds(samples: np.ndarray, level: float = 0.02) -> tuple[int, int]:
    """First and last 10 ms frame (in ms) whose RMS reaches ``level``."""
    frame = SAMPLE_RATE // 100
    frames = samples[: samples.size // frame * frame].reshape(-1, frame)
    loud = np.flatnonzero([rms(f) >= level for f in frames])
    return int(loud[0]) * 10, int(loud[-1] + 1) * 10


def feed(detector: TurnDetector, pcm: bytes, chunk: int) -> list[tuple[VadEvent, int]]:
    """Feed ``pcm`` in ``chunk``-byte pieces; each event with the position it was emitted at."""
    events = []
    for i in range(0, len(pcm), chunk):
        events += [(event, detector.position_ms) for event in detector.feed(pcm[i : i + chunk])]
    return events


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), np.int16)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The sentence as espeak-ng speaks it to a WAV file, at 24 kHz."""
    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("speech") / "sentence.wav"
    subprocess.run(["espeak-ng", "-w", str(path), SENTENCE], check=True)
    samples, rate = read_wav(path)
    assert rate != SAMPLE_RATE  # espeak-ng writes 22050 Hz, so this exercises the resampler
    return resample(samples, rate, SAMPLE_RATE)


@pytest.fixture(scope="module")
def turn(spoken: np.ndarray) -> tuple[bytes, int, int]:
    """1 s silence + speech + 1.5 s silence, with the true speech onset and end in ms."""
    audio = np.concatenate([silence(LEAD_SILENCE_S), spoken, silence(TAIL_SILENCE_S)])
    onset, end = envelope_bounds(audio)
    return to_pcm16(audio), onset, end


# ---- audio --------------------------------------------------------------------------------


def test_pcm16_round_trip_and_clipping() -> None:
    floats = np.array([0.0, 0.5, -0.5, 1.5, -1.5, 1 / 32768])
    pcm = to_pcm16(floats)
    assert pcm[-2:] == b"\x01\x00"  # little-endian
    assert from_pcm16(pcm).tolist() == [0, 16384, -16384, 32767, -32768, 1]
    ints = np.array([1, -2, 300], np.int16)
    assert to_pcm16(ints) == ints.astype("<i2").tobytes()
    assert from_pcm16(to_pcm16(ints)).dtype == np.int16
    with pytest.raises(ValueError, match="even"):
        from_pcm16(b"\x00\x01\x02")


def test_rms_and_duration() -> None:
    assert rms(np.zeros(0, np.int16)) == 0.0
    assert rms(np.full(100, -32768, np.int16)) == pytest.approx(1.0)
    assert rms(np.full(100, 0.25, np.float32)) == pytest.approx(0.25)
    assert duration_ms(24000) == 1000
    assert duration_ms(16001, 16000) == 1000
    assert duration_ms(SAMPLE_RATE * 3 // 2) == 1500


@pytest.mark.parametrize(
    ("from_rate", "to_rate"),
    [(48000, 24000), (24000, 16000), (16000, 24000), (22050, 24000), (24000, 48000)],
)
def test_resample_keeps_a_sine(from_rate: int, to_rate: int) -> None:
    t = np.arange(from_rate) / from_rate
    out = resample((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), from_rate, to_rate)
    assert out.dtype == np.float32
    assert out.size == ceil(t.size * to_rate / from_rate)
    peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * to_rate / out.size
    assert peak_hz == pytest.approx(1000, abs=2)
    assert rms(out[100:-100]) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resample_int16_stays_int16_and_accurate() -> None:
    n = np.arange(24000)
    tone = np.rint(16000 * np.sin(2 * np.pi * 440 * n / 24000)).astype(np.int16)
    out = resample(tone, 24000, 16000)
    assert out.dtype == np.int16
    assert out.size == 16000
    ideal = 16000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert np.max(np.abs(out[50:-50] - ideal[50:-50])) <= 3


def test_resample_filters_what_would_alias() -> None:
    t = np.arange(48000) / 48000
    high = np.sin(2 * np.pi * 10000 * t)  # above 8 kHz: would fold to 6 kHz at 16 kHz
    assert rms(resample(high, 48000, 16000)[100:-100]) < 1e-3
    audible = np.sin(2 * np.pi * 9000 * t)  # 0.75 of the 12 kHz Nyquist: passed unchanged
    assert rms(resample(audible, 48000, 24000)[100:-100]) == pytest.approx(1 / np.sqrt(2), rel=0.01)


def test_streaming_resampler_matches_one_shot() -> None:
    noise = np.random.default_rng(7).standard_normal(22050) * 0.1
    resampler = Resampler(22050, 24000)
    parts = [resampler.process(noise[i : i + 441]) for i in range(0, noise.size, 441)]
    streamed = np.concatenate([*parts, resampler.flush()])
    one_shot = resample(noise, 22050, 24000)
    assert streamed.size == one_shot.size == 24000
    np.testing.assert_allclose(streamed, one_shot, atol=1e-6)


# ---- speech -------------------------------------------------------------------------------


def assert_words_tile(words: tuple[tuple[str, float, float], ...], seconds: float) -> None:
    assert words[0][1] == 0.0
    assert words[-1][2] == pytest.approx(seconds, abs=0.001)
    for (_, start, end), (_, next_start, _) in pairwise(words):
        assert start < end == next_start


@needs_espeak
def test_synthesize_speaks_with_word_timings() -> None:
    speech = synthesize(SENTENCE + ".")
    seconds = speech.samples.size / SAMPLE_RATE
    assert speech.samples.dtype == np.int16
    assert not speech.synthetic
    assert speech.text == SENTENCE + "."
    assert rms(speech.samples) > 0.03
    assert 2.0 < seconds < 5.0  # 10 words at about 175 words per minute
    assert [word for word, _, _ in speech.words] == (SENTENCE + ".").split()
    assert_words_tile(speech.words, seconds)
    assert synthesize(SENTENCE + ".") is speech  # cached


@needs_espeak
def test_word_timings_follow_the_pause_between_sentences() -> None:
    speech = synthesize("Good morning to you all. Tomorrow will be sunny and warm.")
    frame = SAMPLE_RATE // 100
    levels = [rms(speech.samples[i : i + frame]) for i in range(0, speech.samples.size, frame)]
    quiet = np.flatnonzero(np.array(levels) < 0.01)
    runs = np.split(quiet, np.flatnonzero(np.diff(quiet) > 1) + 1)
    pause = max((run for run in runs if run[0] > 0 and run[-1] < len(levels) - 1), key=len)
    assert pause.size >= 15  # espeak-ng pauses after a full stop
    starts = {word: start for word, start, _ in speech.words}
    assert starts["Tomorrow"] == pytest.approx((pause[-1] + 1) / 100, abs=0.03)


@needs_espeak
def test_voices_and_speed_change_the_audio() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    marin, cedar = synthesize(text, voice="marin"), synthesize(text, voice="cedar")
    assert not np.array_equal(marin.samples, cedar.samples)
    assert not np.array_equal(marin.samples, synthesize(text, voice="shimmer").samples)
    lengths = {speed: synthesize(text, speed=speed).samples.size for speed in (0.25, 1.0, 1.5)}
    assert lengths[1.5] < lengths[1.0] < lengths[0.25]
    assert lengths[0.25] / lengths[1.0] == pytest.approx(4, rel=0.25)
    assert lengths[1.0] / lengths[1.5] == pytest.approx(1.5, rel=0.15)


def test_empty_text_is_empty_speech() -> None:
    speech = synthesize("  ")
    assert speech.samples.size == 0
    assert speech.words == ()


def count_bursts(loud: np.ndarray) -> int:
    """How many runs of True a boolean array holds."""
    return int(np.sum(np.diff(loud.astype(np.int8)) == 1) + loud[0])


def assert_beeps(speech: Speech, words: int) -> None:
    """A synthetic utterance: one 880 Hz beep per word, silent gaps between."""
    assert speech.synthetic
    assert len(speech.words) == words
    assert_words_tile(speech.words, speech.samples.size / SAMPLE_RATE)
    spectrum = np.abs(np.fft.rfft(speech.samples.astype(np.float64)))
    assert np.argmax(spectrum) * SAMPLE_RATE / speech.samples.size == pytest.approx(880, abs=10)
    frame = SAMPLE_RATE // 100
    levels = [rms(speech.samples[i : i + frame]) for i in range(0, speech.samples.size, frame)]
    assert count_bursts(np.array(levels) > 0.05) == words


def test_tone_fallback_without_espeak(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not espeak_available()
    assert_beeps(synthesize("three little words"), 3)


def test_tone_fallback_when_espeak_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "espeak-ng"
    broken.write_text("#!/bin/sh\necho 'no voices' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert espeak_available()
    assert_beeps(synthesize("it is broken, sadly"), 4)


# ---- turn detection -----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [CHUNK_20MS, 4801, None], ids=["20ms", "odd", "whole"])
def test_one_turn(turn: tuple[bytes, int, int], chunk: int | None) -> None:
    pcm, onset, end = turn
    detector = TurnDetector({"type": "server_vad", "idle_timeout_ms": None})
    events = feed(detector, pcm, chunk or len(pcm))
    assert [event.kind for event, _ in events] == ["speech_started", "speech_stopped"]
    started, stopped = events[0][0], events[1][0]
    assert started.audio_start_ms == pytest.approx(onset - 300, abs=TOLERANCE_MS)
    assert stopped.audio_start_ms == pytest.approx(end, abs=TOLERANCE_MS)
    assert stopped.audio_end_ms == pytest.approx(end + 500, abs=TOLERANCE_MS)
    assert not detector.in_speech
    assert detector.position_ms == duration_ms(len(pcm) // 2)
    if chunk == CHUNK_20MS:  # emitted as it happens, the stop 500 ms after speech ended
        assert events[0][1] == pytest.approx(onset, abs=TOLERANCE_MS)
        assert events[1][1] == pytest.approx(stopped.audio_end_ms, abs=100)


def test_chunking_does_not_change_events(turn: tuple[bytes, int, int]) -> None:
    pcm = turn[0]
    small = [event for event, _ in feed(TurnDetector({"type": "server_vad"}), pcm, CHUNK_20MS)]
    whole = TurnDetector({"type": "server_vad"}).feed(pcm)
    assert small == whole
    assert len(whole) == 2


def test_prefix_padding_is_clamped_at_zero(spoken: np.ndarray) -> None:
    pcm = to_pcm16(np.concatenate([spoken, silence(1.0)]))
    events = TurnDetector({"type": "server_vad", "prefix_padding_ms": 2000}).feed(pcm)
    assert events[0] == VadEvent("speech_started", 0, 0)


def test_silence_gives_no_events() -> None:
    hiss = np.random.default_rng(1).normal(0, 30, 3 * SAMPLE_RATE).astype(np.int16)  # -60 dBFS
    for audio in (silence(3.0), hiss):
        detector = TurnDetector({"type": "server_vad"})
        assert feed(detector, to_pcm16(audio), CHUNK_20MS) == []
        assert detector.position_ms == 3000


def test_threshold_one_detects_nothing(turn: tuple[bytes, int, int]) -> None:
    assert TurnDetector({"type": "server_vad", "threshold": 1.0}).feed(turn[0]) == []


def test_no_turn_detection_never_fires(turn: tuple[bytes, int, int]) -> None:
    detector = TurnDetector(None)
    assert feed(detector, turn[0], CHUNK_20MS) == []
    assert not detector.in_speech
    assert detector.position_ms == duration_ms(len(turn[0]) // 2)


def test_update_switches_detection_on_mid_stream(turn: tuple[bytes, int, int]) -> None:
    pcm, onset, _ = turn
    detector = TurnDetector(None)
    assert detector.feed(pcm[:SAMPLE_RATE]) == []  # the first 0.5 s
    detector.update({"type": "server_vad", "prefix_padding_ms": 0})
    events = detector.feed(pcm[SAMPLE_RATE:])
    assert [event.kind for event in events] == ["speech_started", "speech_stopped"]
    assert events[0].audio_start_ms == pytest.approx(onset, abs=TOLERANCE_MS)
    detector.update(None)
    assert detector.feed(pcm) == []


def test_reset_forgets_the_turn(turn: tuple[bytes, int, int]) -> None:
    pcm, onset, _ = turn
    detector = TurnDetector({"type": "server_vad"})
    middle = (onset + 500) * SAMPLE_RATE // 1000 * 2
    assert [event.kind for event in detector.feed(pcm[:middle])] == ["speech_started"]
    assert detector.in_speech
    detector.reset()
    assert not detector.in_speech
    events = detector.feed(pcm[middle:])
    assert [event.kind for event in events] == ["speech_started", "speech_stopped"]
    assert events[0].audio_start_ms > onset  # a new turn, later on the same timeline


def test_idle_timeout_fires_once_per_idle_period() -> None:
    detector = TurnDetector({"type": "server_vad", "idle_timeout_ms": 1000})
    events = feed(detector, to_pcm16(silence(3.0)), CHUNK_20MS)
    assert [event.kind for event, _ in events] == ["timeout_triggered"]
    timeout = events[0][0]
    assert timeout.audio_start_ms == 0
    assert timeout.audio_end_ms == pytest.approx(1000, abs=40)
    detector.restart_idle()  # e.g. the model's reply finished playing
    events = feed(detector, to_pcm16(silence(1.5)), CHUNK_20MS)
    assert [event.audio_start_ms for event, _ in events] == [3000]


def test_idle_timeout_counts_from_the_end_of_a_turn(turn: tuple[bytes, int, int]) -> None:
    pcm = turn[0] + to_pcm16(silence(1.0))
    events = TurnDetector({"type": "server_vad", "idle_timeout_ms": 1200}).feed(pcm)
    kinds = [event.kind for event in events]
    assert kinds == ["speech_started", "speech_stopped", "timeout_triggered"]
    stopped, timeout = events[1], events[2]
    assert timeout.audio_start_ms == pytest.approx(stopped.audio_end_ms, abs=40)
    assert timeout.audio_end_ms - timeout.audio_start_ms == pytest.approx(1200, abs=40)


def test_semantic_vad_eagerness_sets_how_long_it_waits(turn: tuple[bytes, int, int]) -> None:
    pcm = turn[0] + to_pcm16(silence(1.0))
    stops: dict[str, tuple[VadEvent, int]] = {}
    for eagerness in ("high", "low"):
        detector = TurnDetector({"type": "semantic_vad", "eagerness": eagerness})
        events = feed(detector, pcm, CHUNK_20MS)
        assert [event.kind for event, _ in events] == ["speech_started", "speech_stopped"]
        stops[eagerness] = events[1]
    high, low = stops["high"][0], stops["low"][0]
    assert high.audio_start_ms == low.audio_start_ms  # the same end of speech...
    assert low.audio_end_ms - high.audio_end_ms == pytest.approx(1500 - 400, abs=70)
    assert stops["low"][1] - stops["high"][1] == pytest.approx(1500 - 400, abs=70)  # ...told later


def test_unknown_turn_detection_is_refused() -> None:
    with pytest.raises(ValueError, match="server_vad or semantic_vad"):
        TurnDetector({"type": "push_to_talk"})


# ---- transcription ------------------------------------------------------------------------


def test_honest_transcription_reports_only_duration() -> None:
    transcriber = make_transcriber(None)
    assert isinstance(transcriber, HonestTranscriber)
    assert isinstance(make_transcriber("honest"), HonestTranscriber)
    assert transcriber.transcribe(to_pcm16(silence(1.4))) == "(speech, 1.4 s)"
    assert transcriber.transcribe(b"") == "(speech, 0.0 s)"
    with pytest.raises(ValueError, match="unknown transcriber"):
        make_transcriber("whisper")


def test_pocketsphinx_missing_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(RuntimeError, match=r"pip install 'rt_notebook\[pocketsphinx\]'"):
        make_transcriber("pocketsphinx")


def test_pocketsphinx_hears_words(spoken: np.ndarray) -> None:
    pytest.importorskip("pocketsphinx")
    transcriber = make_transcriber("pocketsphinx")
    heard = transcriber.transcribe(to_pcm16(spoken)).split()
    assert len(set(heard) & set(SENTENCE.lower().replace(",", "").split())) >= 2
    assert transcriber.transcribe(to_pcm16(silence(1.0))) == ""


def test_quiet_frames_skip_the_model_and_speech_still_counts(turn: tuple[bytes, int, int]) -> None:
    class Counting:
        """The real model, counting the frames it is asked about."""

        def __init__(self, real: Any) -> None:
            self.real, self.frame_samples, self.asked = real, real.frame_samples, 0

        def is_speech(self, frame: np.ndarray, threshold: float) -> bool:
            self.asked += 1
            return bool(self.real.is_speech(frame, threshold))

        def reset(self) -> None:
            self.real.reset()

    from rt_notebook.local.vad import _load_backend

    quiet = TurnDetector({"type": "server_vad"})
    quiet._backend = counting = Counting(_load_backend())
    assert quiet.feed(to_pcm16(silence(3.0))) == []
    assert counting.asked == 0  # three seconds of silence: no model call
    spoken = TurnDetector({"type": "server_vad", "idle_timeout_ms": None})
    spoken._backend = counting = Counting(_load_backend())
    events = spoken.feed(turn[0])
    assert [event.kind for event in events] == ["speech_started", "speech_stopped"]
    assert counting.asked > 0
