"""G.711 µ-law and A-law (``audio/pcmu``, ``audio/pcma``) for WebSocket sessions."""

from __future__ import annotations

import numpy as np

RATE = 8000
"""G.711 (``audio/pcmu``, ``audio/pcma``) is 8 kHz telephony audio."""

_BIAS = 0x84


def encode(samples: np.ndarray, fmt: str) -> bytes:
    """int16 samples → G.711 bytes (``fmt`` is ``audio/pcmu`` or ``audio/pcma``)."""
    x = np.asarray(samples, dtype=np.int32)
    return (_ulaw_encode(x) if fmt == "audio/pcmu" else _alaw_encode(x)).tobytes()


def decode(data: bytes, fmt: str) -> np.ndarray:
    """G.711 bytes → int16 samples."""
    codes = np.frombuffer(data, dtype=np.uint8).astype(np.int32)
    samples: np.ndarray = _ulaw_decode(codes) if fmt == "audio/pcmu" else _alaw_decode(codes)
    return samples


def _exponent(magnitude: np.ndarray, floor_bits: int) -> np.ndarray:
    """The G.711 segment: position of the highest set bit above ``floor_bits``, 0-7."""
    bits = np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32)
    segment: np.ndarray = np.clip(bits - floor_bits, 0, 7)
    return segment


def _ulaw_encode(x: np.ndarray) -> np.ndarray:
    pcm = x >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    pcm = np.minimum(np.abs(pcm), 8159) + 0x21
    exponent = _exponent(pcm, 5)
    code = (exponent << 4) | ((pcm >> (exponent + 1)) & 0x0F)
    code = np.where(pcm > 0x1FFF, 0x7F, code)  # past the last segment: the loudest code
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _ulaw_decode(codes: np.ndarray) -> np.ndarray:
    codes = ~codes & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = (((codes & 0x0F) << 3) + _BIAS) << exponent
    return np.where(codes & 0x80, _BIAS - magnitude, magnitude - _BIAS).astype(np.int16)


def _alaw_encode(x: np.ndarray) -> np.ndarray:
    pcm = x >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    pcm = np.where(pcm >= 0, pcm, -pcm - 1)
    exponent = np.where(pcm > 0x1F, _exponent(pcm, 4), 0)
    code = (exponent << 4) | (np.where(exponent < 2, pcm >> 1, pcm >> exponent) & 0x0F)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _alaw_decode(codes: np.ndarray) -> np.ndarray:
    codes = codes ^ 0x55
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1)
    )
    return np.where(codes & 0x80, magnitude, -magnitude).astype(np.int16)
