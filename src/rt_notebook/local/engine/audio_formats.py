"""Wire audio formats: PCM16 at 24 kHz inside, ``audio/pcm`` or G.711 on the wire.

Protocol-neutral: any protocol whose audio is base64 PCM16 or G.711 uses these.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from ...wire.audio import SAMPLE_RATE, Resampler, resample, to_pcm16
from ..g711 import RATE as G711_RATE
from ..g711 import decode as g711_decode
from ..g711 import encode as g711_encode
from .errors import ClientError


def bytes_for_ms(ms: int) -> int:
    """Bytes of PCM16 at 24 kHz that last ``ms`` milliseconds."""
    return max(0, round(ms * SAMPLE_RATE / 1000)) * 2


def encode(samples: np.ndarray, fmt: str) -> bytes:
    """int16 samples at 24 kHz in a wire format (``audio/pcm``, ``audio/pcmu``, ``audio/pcma``)."""
    if fmt == "audio/pcm":
        return to_pcm16(samples)
    return g711_encode(resample(samples, SAMPLE_RATE, G711_RATE), fmt)


class InputDecoder:
    """Base64 audio of one format in, PCM16 at 24 kHz out (G.711 keeps its resampler's state)."""

    def __init__(self) -> None:
        self._g711: Resampler | None = None

    def decode(self, data: str, fmt: str) -> bytes:
        """One base64 chunk; refuses what is not base64 or not whole PCM16 samples."""
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ClientError("invalid_value", "audio must be base64.", "audio") from None
        if fmt != "audio/pcm":  # G.711 is 8 kHz: decode, then up to the session's 24 kHz
            if self._g711 is None:
                self._g711 = Resampler(G711_RATE, SAMPLE_RATE)
            return to_pcm16(self._g711.process(g711_decode(raw, fmt)))
        if len(raw) % 2:
            raise ClientError(
                "invalid_value", "PCM16 audio must have an even number of bytes.", "audio"
            )
        return raw
