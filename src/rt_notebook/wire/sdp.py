"""Checks on a browser's SDP offer before it is sent anywhere."""

from __future__ import annotations

from ..errors import RealtimeError


def check_offer(sdp: object, *, max_bytes: int) -> str:
    """Return the offer with CRLF line endings, or raise a 400/413 :class:`RealtimeError`."""
    if not isinstance(sdp, str) or not sdp.strip():
        raise RealtimeError(
            400,
            "invalid_sdp",
            "sdp is missing or empty: send the offer from createOffer()",
            param="sdp",
        )
    size = len(sdp.encode())
    if size > max_bytes:
        raise RealtimeError(
            413,
            "offer_too_large",
            f"The SDP offer is {size} bytes, over the server's limit of {max_bytes} "
            "(RealtimeExtension.max_offer_bytes)",
            param="sdp",
        )
    lines = sdp.strip().splitlines()
    if lines[0] != "v=0" or not any(line.startswith("m=audio ") for line in lines):
        raise RealtimeError(
            400,
            "invalid_sdp",
            "sdp is not a WebRTC offer: it must start with 'v=0' and have an 'm=audio' line "
            "(add a microphone track before createOffer())",
            param="sdp",
        )
    return "\r\n".join(lines) + "\r\n"
