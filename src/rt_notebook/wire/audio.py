"""PCM16 helpers and a windowed-sinc resampler for the Realtime API's 24 kHz mono audio."""

from __future__ import annotations

from functools import lru_cache
from math import ceil, gcd

import numpy as np
import numpy.typing as npt

__all__ = ["SAMPLE_RATE", "Resampler", "duration_ms", "from_pcm16", "resample", "rms", "to_pcm16"]

SAMPLE_RATE = 24000
"""The Realtime API's PCM rate: 16-bit little-endian mono at 24 kHz."""

_FULL_SCALE = 32768.0
_ZERO_CROSSINGS = 24  # sinc lobes on each side of the kernel's centre
_ROLLOFF = 0.9  # cutoff as a fraction of the lower Nyquist: flat to 0.8, -89 dB past 1.02
_KAISER_BETA = 8.6  # about 90 dB stopband
_BLOCK = 1024  # output samples computed per vectorized step

Float64Array = npt.NDArray[np.float64]


def to_pcm16(samples: np.ndarray) -> bytes:
    """Encode samples as PCM16 little-endian bytes: floats in [-1, 1] are scaled and clipped."""
    if samples.dtype == np.int16:
        return samples.astype("<i2", copy=False).tobytes()
    scaled = np.clip(np.rint(np.asarray(samples, np.float64) * _FULL_SCALE), -32768, 32767)
    return scaled.astype("<i2").tobytes()


def from_pcm16(data: bytes) -> npt.NDArray[np.int16]:
    """Decode PCM16 little-endian bytes into an int16 array."""
    if len(data) % 2:
        raise ValueError(f"PCM16 data must have an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def rms(samples: np.ndarray) -> float:
    """Root mean square level on the [-1, 1] scale (0.0 for no samples)."""
    if samples.size == 0:
        return 0.0
    values = _as_float(samples)
    return float(np.sqrt(np.mean(values * values)))


def duration_ms(num_samples: int, rate: int = SAMPLE_RATE) -> int:
    """Whole milliseconds spanned by ``num_samples`` at ``rate`` (rounded down)."""
    return num_samples * 1000 // rate


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono audio; int16 in gives int16 out, float in gives float32 out."""
    resampler = Resampler(from_rate, to_rate)
    out = np.concatenate([resampler.process(samples), resampler.flush()])
    if np.issubdtype(samples.dtype, np.integer):
        return np.clip(np.rint(out * _FULL_SCALE), -32768, 32767).astype(np.int16)
    return out.astype(np.float32)


class Resampler:
    """Streaming polyphase windowed-sinc resampler; chunk boundaries leave no trace.

    Output sample ``n`` sits exactly at input time ``n * from_rate / to_rate``; it is emitted
    once the kernel's right half has arrived, a delay of a millisecond or two.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {from_rate} and {to_rate}")
        common = gcd(from_rate, to_rate)
        self._up = to_rate // common
        self._down = from_rate // common
        self._kernel = _kernel(self._up, self._down)
        self._half = self._kernel.shape[1] // 2
        self._buf: Float64Array = np.zeros(self._half)  # left zero padding
        self._buf_start = -self._half  # input index of _buf[0]
        self._consumed = 0  # input samples received so far
        self._next_out = 0

    def process(self, samples: np.ndarray) -> Float64Array:
        """Take the next input chunk and return every output sample it completes (float64)."""
        self._buf = np.concatenate([self._buf, _as_float(samples)])
        self._consumed += samples.size
        available = self._buf_start + self._buf.size - self._half
        return self._emit(-(-available * self._up // self._down))

    def flush(self) -> Float64Array:
        """End the stream: pad with silence and return the outputs still owed for the input."""
        self._buf = np.concatenate([self._buf, np.zeros(self._half + 1)])
        return self._emit(-(-self._consumed * self._up // self._down))

    def _emit(self, stop: int) -> Float64Array:
        n = np.arange(self._next_out, max(stop, self._next_out))
        first = n * self._down // self._up - self._half + 1 - self._buf_start
        phase = n * self._down % self._up
        taps = np.arange(self._kernel.shape[1])
        out = np.empty(n.size)
        for lo in range(0, n.size, _BLOCK):  # bounded memory for long inputs
            block = slice(lo, lo + _BLOCK)
            window = self._buf[first[block, None] + taps]
            out[block] = np.einsum("ij,ij->i", self._kernel[phase[block]], window)
        self._next_out += n.size
        keep_from = self._next_out * self._down // self._up - self._half + 1
        self._buf = self._buf[keep_from - self._buf_start :]
        self._buf_start = keep_from
        return out


@lru_cache(maxsize=16)
def _kernel(up: int, down: int) -> Float64Array:
    """Kaiser-windowed sinc taps, one row per phase; row ``p`` weighs inputs ``-h+1 .. h``."""
    cutoff = _ROLLOFF * min(1.0, up / down)  # relative to the input Nyquist
    half = ceil(_ZERO_CROSSINGS / cutoff)
    offsets = np.arange(-half + 1, half + 1)[None, :] - np.arange(up)[:, None] / up
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1 - (offsets / half) ** 2, 0, 1)))
    taps = cutoff * np.sinc(cutoff * offsets) * window / np.i0(_KAISER_BETA)
    result: Float64Array = taps / taps.sum(axis=1, keepdims=True)  # unity gain at DC
    return result


def _as_float(samples: np.ndarray) -> Float64Array:
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float64) / _FULL_SCALE
    return samples.astype(np.float64)
