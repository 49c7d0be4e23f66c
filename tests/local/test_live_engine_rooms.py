"""The Live engine's rooms on their own: its client-event table, where each event may come from,
its audio formats and usage, and hypothesis fuzzing of what a client may send."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rt_notebook.errors import RealtimeError
from rt_notebook.local.backend import LocalRealtime
from rt_notebook.local.engine import EngineOptions
from rt_notebook.local.engine.live import LIVE_CLIENT_EVENTS, LiveEngine
from rt_notebook.local.engine.live.audio import LiveFormat
from rt_notebook.local.engine.live.dispatch import NEVER_ON
from rt_notebook.local.engine.live.usage import LiveUsage
from rt_notebook.local.server import LiveWriter
from rt_notebook.wire.audio import SAMPLE_RATE, from_pcm16, to_pcm16
from tests.protocol import LIVE_CLIENT_TYPES, assert_live_server_event


def test_the_table_handles_openais_live_client_events_and_the_sidebands_dtmf() -> None:
    assert set(LIVE_CLIENT_EVENTS) == LIVE_CLIENT_TYPES | {"transport.dtmf.send"}
    assert NEVER_ON["sideband"] == {"session.start", "session.input_audio.append"}
    assert "session.output_audio.fixture.play" in NEVER_ON["data_channel"]


def test_formats_decode_to_24_khz_and_encode_back() -> None:
    tone = (np.sin(np.arange(SAMPLE_RATE) / 7) * 9000).astype(np.int16)
    for fmt, size in [
        ({"type": "audio/pcm", "rate": 24000}, 48000),
        ({"type": "audio/pcm", "rate": 16000}, 32000),
        ({"type": "audio/pcmu", "rate": 8000}, 8000),
        ({"type": "audio/pcma", "rate": 8000}, 8000),
    ]:
        codec = LiveFormat(fmt)
        wire = codec.encode(tone)
        assert abs(len(wire) - size) <= 100  # a streaming resampler holds back a few samples
        back = from_pcm16(codec.decode(base64.b64encode(wire).decode()))
        assert abs(len(back) - SAMPLE_RATE) < 200  # resampling keeps the duration
        assert np.abs(back).max() > 4000  # and the tone


def test_usage_reports_whole_seconds_split_only_for_webrtc() -> None:
    assert LiveUsage(split=False).report() == {"seconds": 0.0}
    usage = LiveUsage(split=True)
    usage.start()
    usage.pause()
    assert usage.paused
    usage.resume()
    assert usage.report() == {"seconds": 0.0, "active_seconds": 0, "paused_seconds": 0}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_fields = st.sampled_from(
    ["session", "audio", "content", "delegation_id", "item", "item_id", "event_id", "event"]
)
_events = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from([*LIVE_CLIENT_EVENTS, "response.cancel", "x"]) | st.text(max_size=4),
    st.dictionaries(_fields, _json | st.just("AAAA"), max_size=3),
)


SESSIONS = [
    {"model": "gpt-live-1"},
    {"model": "gpt-live-1", "delegation": {"type": "responses", "responses": {"model": "m"}}},
]


async def _drive(
    session: dict[str, Any], events: list[dict[str, Any]], source: Any
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    engine = LiveEngine(
        session=None,
        options=EngineOptions(scenario=["Fine."], realtime_factor=50.0),
        transport="websocket",
        send=sent.append,
        call_id="live_fuzz",
    )
    engine.handle_event({"type": "session.start", "session": session})
    for event in events:
        engine.handle_event(event, source)
    engine.feed_audio(to_pcm16(np.zeros(2400, dtype=np.int16)))
    await asyncio.sleep(0)
    await engine.close()
    return sent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SESSIONS),
    st.lists(_events, max_size=6),
    st.sampled_from(["websocket", "data_channel", "sideband"]),
)
def test_any_client_event_is_handled_or_refused_with_valid_events(
    session: dict[str, Any], events: list[dict[str, Any]], source: str
) -> None:
    sent = asyncio.run(_drive(session, events, source))
    assert sent[0]["type"] == "session.started"
    for event in sent:
        if "event_id" in event:  # frames are checked in the flow tests
            assert_live_server_event(event)


_sessions = _json | st.dictionaries(
    st.sampled_from(["model", "audio", "delegation", "input", "client", "idle_timeout_s"]),
    _json | st.just("gpt-live-1"),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(_sessions, st.sampled_from(["webrtc", "websocket"]))
def test_any_session_of_an_exchange_is_a_config_or_a_4xx(session: Any, transport: Any) -> None:
    backend = LocalRealtime()
    status, param, model = 200, "session", "gpt-live-1"
    try:
        model = backend.live_session_config(session, transport)["model"]
    except RealtimeError as error:
        status, param = error.status, error.param or "session"
    assert 200 <= status < 500
    assert param.startswith("session")
    assert model == "gpt-live-1"


class _StalledSocket:
    """A WebSocket whose client reads nothing: writes never flush."""

    def __init__(self) -> None:
        self.ws_connection = self
        self.written: list[asyncio.Future[None]] = []

    def is_closing(self) -> bool:
        return False

    def write_message(self, message: str) -> asyncio.Future[None]:
        self.written.append(asyncio.get_running_loop().create_future())
        return self.written[-1]


async def test_a_client_that_does_not_read_gets_no_more_than_50_frames_queued() -> None:
    socket = _StalledSocket()
    writer = LiveWriter(socket)  # type: ignore[arg-type]
    for _ in range(120):
        writer({"type": "session.output_audio.delta", "delta": "AAAA"})
    writer({"type": "session.usage.updated", "event_id": "e", "usage": {"seconds": 1.0}})
    assert len(socket.written) == 51  # 50 frames and the event
    assert writer.dropped == 70
    for future in socket.written:
        future.set_result(None)
    await asyncio.sleep(0)
    assert writer.pending == 0
    writer({"type": "session.output_audio.delta", "delta": "AAAA"})
    assert len(socket.written) == 52
