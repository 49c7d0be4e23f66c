"""Live's WebSocket audio: one format both ways (``audio/pcm`` at 16 or 24 kHz, G.711 at 8 kHz),
PCM16 at 24 kHz inside. Fixtures and the sideband's reflections are always PCM16 at 24 kHz."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import numpy as np

from ....wire.audio import SAMPLE_RATE, Resampler, to_pcm16
from ..audio_formats import InputDecoder, encode
from ..errors import ClientError

PCM24 = {"type": "audio/pcm", "rate": SAMPLE_RATE}
"""The format of a session that names none (and of every WebRTC session's reflections)."""


def b64decode(data: str, param: str = "audio") -> bytes:
    """Base64 a client sent; refused when it is not base64."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ClientError("invalid_value", f"{param} must be base64.", param) from None


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class LiveFormat:
    """A session's ``audio.format``: base64 in, PCM16 24 kHz out, and back."""

    def __init__(self, fmt: Mapping[str, Any] | None) -> None:
        fmt = fmt or PCM24
        rate = fmt.get("rate")
        self.type = str(fmt["type"])
        self.rate = rate if isinstance(rate, int) else SAMPLE_RATE
        self._g711 = InputDecoder()
        self._up = Resampler(self.rate, SAMPLE_RATE) if self.pcm16k else None
        self._down = Resampler(SAMPLE_RATE, self.rate) if self.pcm16k else None

    @property
    def pcm16k(self) -> bool:
        return self.type == "audio/pcm" and self.rate != SAMPLE_RATE

    def decode(self, data: str) -> bytes:
        """One ``session.input_audio.append``'s audio as PCM16 at 24 kHz."""
        if self.type != "audio/pcm":
            return self._g711.decode(data, self.type)
        raw = b64decode(data)
        if len(raw) % 2:
            raise ClientError(
                "invalid_value", "PCM16 audio must have an even number of bytes.", "audio"
            )
        if self._up is None:
            return raw
        return to_pcm16(self._up.process(np.frombuffer(raw, dtype="<i2")))

    def encode(self, samples: np.ndarray) -> bytes:
        """The next int16 samples at 24 kHz of the output stream, in this format (16 kHz PCM
        resamples as one stream, so frame edges leave no trace)."""
        if self._down is not None:
            return to_pcm16(self._down.process(samples))
        return encode(samples, self.type)
