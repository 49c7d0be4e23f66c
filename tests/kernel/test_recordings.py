"""Recordings: alignment by browser timestamps, bounded memory, WAV export."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

import rt_notebook as rt
from rt_notebook.kernel.recordings import Recording
from rt_notebook.wire.audio import SAMPLE_RATE


def tone(seconds: float, value: int) -> bytes:
    return np.full(round(seconds * SAMPLE_RATE), value, dtype="<i2").tobytes()


def test_chunks_line_up_with_their_timestamps() -> None:
    rec = Recording("mic")
    rec.append(tone(0.5, 100), t_ms=1_000_000.0)
    rec.append(tone(0.5, 200), t_ms=1_000_500.0 + 10)  # 10 ms of jitter: no gap
    rec.append(tone(0.25, 300), t_ms=1_002_000.0)  # 1 s later than the audio so far
    samples = rec.samples
    assert rec.start_time == 1000.0
    assert len(samples) == rec.num_samples == SAMPLE_RATE * 2 + SAMPLE_RATE // 4
    assert samples[0] == 100
    assert samples[SAMPLE_RATE // 2] == 200
    assert not samples[SAMPLE_RATE : 2 * SAMPLE_RATE].any()  # the gap is silence
    assert samples[2 * SAMPLE_RATE] == 300
    assert rec.times()[2 * SAMPLE_RATE] == 1002.0


def test_memory_is_bounded_and_nothing_is_lost() -> None:
    rec = Recording("assistant", max_memory_seconds=1.0)
    expected = []
    for i in range(10):
        chunk = tone(0.5, i + 1)
        expected.append(np.frombuffer(chunk, dtype="<i2"))
        rec.append(chunk, t_ms=2_000_000.0 + i * 500)
    assert rec.spilled_samples >= 4 * SAMPLE_RATE
    assert rec.num_samples - rec.spilled_samples <= 1.5 * SAMPLE_RATE
    np.testing.assert_array_equal(rec.samples, np.concatenate(expected))
    rec.close()
    assert rec.num_samples == 0


def test_wav_export(tmp_path: Path) -> None:
    rec = Recording("mic")
    rec.append(tone(0.3, -1234), t_ms=5.0)
    path = rec.save_wav(tmp_path / "mic.wav")
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert len(data) == round(0.3 * SAMPLE_RATE)
    assert (data == -1234).all()


def test_session_receives_binary_audio_messages() -> None:
    s = rt.RealtimeSession()
    assert s.widget.record_audio is True
    s._on_frontend_message(s.widget, {"kind": "audio", "track": "mic", "t": 1000.0}, [tone(0.1, 7)])
    s._on_frontend_message(
        s.widget, {"kind": "audio", "track": "assistant", "t": 1000.0}, [memoryview(tone(0.2, 9))]
    )
    assert s.recordings.mic.duration == 0.1
    assert s.recordings.assistant.samples[0] == 9
    assert rt.RealtimeSession(record_audio=False).widget.record_audio is False
