"""Simulated usage: token counts shaped like OpenAI's, and the rate limits it reports."""

from __future__ import annotations

from typing import Any

from ...wire.audio import SAMPLE_RATE
from .conversation import Item, audio_ms


def rate_limits() -> list[dict[str, Any]]:
    """What ``rate_limits.updated`` reports (fixed, well within limits)."""
    return [
        {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
        {"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5},
    ]


def simulated_usage(
    instructions: object, items: list[Item], output: list[Item], audio_out_samples: int
) -> dict[str, Any]:
    """A response's ``usage``: the conversation as input, its output (documented as simulated)."""
    text_in = len(str(instructions or "")) // 4
    audio_in = image_in = 0
    for item in items:
        for part in item.get("content") or []:
            kind = part.get("type")
            if kind in ("input_text", "output_text"):
                text_in += len(part.get("text") or "") // 4 + 1
            elif kind == "input_audio":
                audio_in += 10 * max(1, len(part.get("transcript") or "") // 12)
            elif kind == "output_audio":
                audio_in += audio_ms(item) // 50
            elif kind == "input_image":
                image_in += 85
        if item.get("type") in ("function_call", "function_call_output"):
            text_in += len(str(item.get("arguments") or item.get("output") or "")) // 4 + 1
    text_out = 0
    for item in output:
        for part in item.get("content") or []:
            text_out += len(part.get("transcript") or part.get("text") or "") // 4 + 1
        if item.get("type") == "function_call":
            text_out += len(item.get("arguments") or "") // 4 + 1
    audio_out = audio_out_samples * 1000 // SAMPLE_RATE // 50  # in-band or out-of-band
    input_tokens = text_in + audio_in + image_in
    output_tokens = text_out + audio_out
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": image_in,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }
