"""Shared fixtures: a real jupyter server (pytest-jupyter) with the extension enabled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

pytest_plugins = ["pytest_jupyter.jupyter_server"]

FAKE_KEY = "sk-test-rtnb-SECRET-0123456789abcdef"
"""A key-shaped value that must never show up anywhere but the upstream Authorization header."""

OPENAI = "https://api.openai.test/v1"

OFFER = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
)
ANSWER = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
)
"""An answer to ``OFFER``: its two media sections, in order."""


def answer_for(offer: str) -> str:
    """A minimal SDP answer with one section per section of ``offer`` (as a fake upstream's)."""
    media = [line.split(" ")[0] for line in offer.splitlines() if line.startswith("m=")]
    kinds = {"m=audio": "9 UDP/TLS/RTP/SAVPF 111", "m=application": "9 UDP/DTLS/SCTP x"}
    lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    lines += [f"{m} {kinds.get(m, '0 RTP/AVP 0')}" for m in media]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
def rt_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """RealtimeExtension settings for a test; override with indirect parametrization.

    ``{tmp_path}`` in a string setting becomes the test's temporary directory.
    """
    config: dict[str, Any] = {"api_key": FAKE_KEY, "api_base_url": OPENAI}
    for name, value in getattr(request, "param", {}).items():
        config[name] = value.format(tmp_path=tmp_path) if isinstance(value, str) else value
    return config


@pytest.fixture
def jp_server_config(rt_config: dict[str, Any]) -> Config:
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"rt_notebook": True}},
            "RealtimeExtension": rt_config,
        }
    )
