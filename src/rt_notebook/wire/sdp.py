"""Checks on a browser's SDP offer before it is sent anywhere."""

from __future__ import annotations

import re

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


_SDP_LINE = re.compile(r"^[a-z]=[\x20-\x7e\t]*$")


def media_kinds(sdp: str) -> list[str]:
    """The media of each ``m=`` section, in order (``["audio", "application"]``)."""
    return [line[2:].split(" ", 1)[0] for line in sdp.splitlines() if line.startswith("m=")]


def check_answer(answer: object, offer: str, *, max_bytes: int) -> str:
    """The answer, if it is SDP that answers ``offer``; else ``ValueError`` saying why.

    RFC 3264: an answer has one ``m=`` section per offered one, in the same order and of the
    same media; every line is ``<letter>=<printable text>``, and ``v=0``, ``o=``, ``s=`` and
    ``t=`` come first. A truncated or garbage body fails here instead of reaching the browser.
    """
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError("the answer is empty")
    if len(answer.encode()) > max_bytes:
        raise ValueError(f"the answer is over {max_bytes} bytes")
    lines = answer.strip().splitlines()
    bad = next((line for line in lines if not _SDP_LINE.match(line)), None)
    if bad is not None:
        raise ValueError(f"not an SDP line: {bad[:40]!r}")
    first_media = next((i for i, line in enumerate(lines) if line.startswith("m=")), len(lines))
    if lines[0] != "v=0" or not {"o", "s", "t"} <= {line[0] for line in lines[:first_media]}:
        raise ValueError("the answer lacks the v=0, o=, s= and t= lines SDP starts with")
    asked, got = media_kinds(offer), media_kinds(answer)
    if got != asked:
        raise ValueError(f"the answer's media sections {got} do not match the offer's {asked}")
    if any(len(line.split()) < 4 for line in lines if line.startswith("m=")):
        raise ValueError("an m= line lacks its port, protocol or formats")
    return "\r\n".join(lines) + "\r\n"
