"""Audio recorded in the browser (microphone and assistant), as numpy arrays in the kernel.

Chunks arrive as binary PCM16 at 24 kHz with the browser's epoch timestamp of their first
sample, so the audio lines up with the event log. Memory is bounded: beyond
``max_memory_seconds`` the oldest audio moves to an anonymous temporary file.
"""

from __future__ import annotations

import io
import tempfile
import wave
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..wire.audio import SAMPLE_RATE

_GAP_TOLERANCE_S = 0.05  # jitter below this is not a gap


class Recording:
    """One track of audio (int16, mono, 24 kHz) with its start time."""

    def __init__(self, name: str, *, max_memory_seconds: float = 600.0) -> None:
        self.name = name
        """``"mic"`` or ``"assistant"``."""
        self.start_time: float | None = None
        """Epoch seconds of the first sample."""
        self.max_memory_samples = int(max_memory_seconds * SAMPLE_RATE)
        self._chunks: list[np.ndarray] = []
        self._in_memory = 0
        self._spilled = 0
        self._file: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"<Recording {self.name}: {self.duration:.1f} s>"

    @property
    def num_samples(self) -> int:
        """Samples recorded, silence for gaps included."""
        return self._spilled + self._in_memory

    @property
    def duration(self) -> float:
        """Seconds recorded."""
        return self.num_samples / SAMPLE_RATE

    @property
    def spilled_samples(self) -> int:
        """Samples moved to disk to keep memory bounded."""
        return self._spilled

    def append(self, pcm16: bytes, t_ms: float) -> None:
        """Add a chunk whose first sample was captured at ``t_ms`` (browser epoch ms)."""
        chunk = np.frombuffer(pcm16, dtype="<i2").astype(np.int16)
        if not len(chunk):
            return
        t = t_ms / 1000.0
        if self.start_time is None:
            self.start_time = t
        gap = round((t - self.start_time) * SAMPLE_RATE) - self.num_samples
        if gap > _GAP_TOLERANCE_S * SAMPLE_RATE:
            self._add(np.zeros(gap, dtype=np.int16))  # keep the timeline: silence for gaps
        self._add(chunk)

    @property
    def samples(self) -> np.ndarray:
        """All samples as one int16 array (disk and memory)."""
        parts: list[np.ndarray] = []
        if self._file is not None and self._spilled:
            self._file.seek(0)
            parts.append(np.frombuffer(self._file.read(self._spilled * 2), dtype="<i2"))
        parts.extend(self._chunks)
        if not parts:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(parts).astype(np.int16)

    def times(self) -> np.ndarray:
        """Epoch seconds of each sample (for plotting against the event log)."""
        start = self.start_time or 0.0
        return start + np.arange(self.num_samples) / SAMPLE_RATE

    def save_wav(self, path: str | Path) -> Path:
        """Write a mono 16-bit 24 kHz WAV file."""
        path = Path(path)
        path.write_bytes(self.wav_bytes())
        return path

    def wav_bytes(self) -> bytes:
        """The recording as a mono 16-bit 24 kHz WAV file's bytes."""
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(self.samples.astype("<i2").tobytes())
        return buffer.getvalue()

    def close(self) -> None:
        """Forget the audio and delete the spill file."""
        if self._file is not None:
            self._file.close()
        self._file, self._chunks, self._in_memory, self._spilled = None, [], 0, 0
        self.start_time = None

    def _add(self, chunk: np.ndarray) -> None:
        self._chunks.append(chunk)
        self._in_memory += len(chunk)
        while self._in_memory > self.max_memory_samples and len(self._chunks) > 1:
            oldest = self._chunks.pop(0)
            if self._file is None:
                # closed by close(); the file lives as long as the recording
                self._file = tempfile.TemporaryFile(prefix="rt_notebook-audio-")  # noqa: SIM115
            self._file.seek(0, 2)
            self._file.write(oldest.astype("<i2").tobytes())
            self._in_memory -= len(oldest)
            self._spilled += len(oldest)


class Recordings:
    """The session's audio: ``mic`` (what the user said) and ``assistant`` (what played)."""

    def __init__(self, *, max_memory_seconds: float = 600.0) -> None:
        self.mic = Recording("mic", max_memory_seconds=max_memory_seconds)
        """The microphone, as sent to the model."""
        self.assistant = Recording("assistant", max_memory_seconds=max_memory_seconds)
        """The assistant's audio, as played in the browser."""

    def __repr__(self) -> str:
        return (
            f"<Recordings mic={self.mic.duration:.1f} s assistant={self.assistant.duration:.1f} s>"
        )

    def receive(self, message: dict[str, Any], buffers: list[bytes]) -> None:
        """Handle an ``{kind: "audio", track, t}`` message with its PCM buffer."""
        track = self.mic if message.get("track") == "mic" else self.assistant
        if buffers:
            track.append(bytes(buffers[0]), float(message.get("t") or 0.0))

    def close(self) -> None:
        """Free both tracks."""
        self.mic.close()
        self.assistant.close()
