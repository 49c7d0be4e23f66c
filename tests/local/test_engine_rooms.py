"""The engine's rooms on their own: the dispatch table, the input buffer, paced output, decoding."""

from __future__ import annotations

import asyncio
import base64
from typing import get_args

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types.realtime import RealtimeClientEvent

from rt_notebook.local.backend import LocalOptions, LocalRealtime
from rt_notebook.local.engine import CLIENT_EVENTS, ClientError, EngineOptions
from rt_notebook.local.engine.audio_formats import InputDecoder, bytes_for_ms
from rt_notebook.local.engine.audio_in import InputAudio
from rt_notebook.local.engine.speech_out import Cancellable, stream_text
from tests.protocol import _members

SECOND = bytes_for_ms(1000)


def test_the_dispatch_table_handles_exactly_openais_client_events() -> None:
    types = [get_args(m.model_fields["type"].annotation)[0] for m in _members(RealtimeClientEvent)]
    assert sorted(CLIENT_EVENTS) == sorted(types)


def test_input_audio_keeps_two_idle_seconds_and_cuts_on_the_timeline() -> None:
    audio = InputAudio(None)  # no VAD: only the buffer
    assert audio.feed(bytes(3 * SECOND)) == []
    audio.trim_idle()
    assert audio.start_ms == 1000
    assert len(audio.take(2500)) == SECOND * 3 // 2
    assert audio.start_ms == 2500
    audio.drop_before(2800)
    assert len(audio.take(4000)) == bytes_for_ms(200)  # all that is left: 2800-3000 ms
    assert not audio
    audio.clear()
    assert audio.start_ms == audio.position_ms == 3000


async def test_a_cancelled_text_stream_stops_and_says_what_it_wrote() -> None:
    stream = Cancellable()
    words: list[str] = []

    def on_word(word: str) -> None:
        words.append(word)
        if len(words) == 2:
            stream.cancel("turn_detected")

    written = await stream_text(stream, "one two three four", speed=100.0, on_word=on_word)
    assert written == "one two"
    assert words == ["one", " two"]
    assert stream.cancel_reason == "turn_detected"


async def test_a_stalled_stream_waits_halfway_until_cancelled() -> None:
    stream = Cancellable()
    stream.stalled = True
    task = asyncio.ensure_future(
        stream_text(stream, "a b c d", speed=100.0, on_word=lambda word: None)
    )
    await asyncio.sleep(0.2)
    assert not task.done()
    stream.cancel("client_cancelled")
    assert await asyncio.wait_for(task, 5) == "a b"


@pytest.mark.parametrize("fmt", ["audio/pcm", "audio/pcmu", "audio/pcma"])
@given(
    data=st.one_of(
        st.text(max_size=64), st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
    )
)
def test_decoding_gives_whole_samples_or_a_client_error(fmt: str, data: str) -> None:
    try:
        pcm = InputDecoder().decode(data, fmt)
    except ClientError as exc:
        refused = exc.param
    else:
        refused = None
        assert len(pcm) % 2 == 0
    assert refused in (None, "audio")
    if fmt == "audio/pcm" and refused is None:
        assert pcm == base64.b64decode(data)


def test_g711_input_comes_out_at_24_khz() -> None:
    decoder = InputDecoder()
    silence_8k = base64.b64encode(bytes([0xFF]) * 800).decode()  # 100 ms of µ-law silence
    pcm = b"".join(decoder.decode(silence_8k, "audio/pcmu") for _ in range(5))
    assert abs(len(pcm) - bytes_for_ms(500)) <= bytes_for_ms(20)  # the resampler holds a little
    assert np.abs(np.frombuffer(pcm, "<i2")).max() < 64


async def test_the_backend_settings_reach_either_engine_as_one_options_object() -> None:
    settings = LocalOptions(
        scenario=["Scripted."],
        drop_data_channel_after=7,
        keep_audio=True,
        realtime_factor=4.0,
        live_session_seconds=60,
    )
    backend = LocalRealtime(settings)
    realtime = backend.websocket_session(lambda event: None)
    live = backend.live_websocket_session(lambda event: None, lambda kind: None)
    expected = EngineOptions(
        scenario=["Scripted."],
        transcriber=realtime.transcriber,
        drop_after_events=7,
        keep_audio=True,
        realtime_factor=4.0,
        live_session_seconds=60,
    )
    assert realtime.options == live.options == expected
    assert realtime.speed == live.speed == 4.0
    assert realtime.responder is not live.responder  # each session runs its own script
    assert [e.options.drops_at(n) for e in (realtime, live) for n in (6, 7)] == [False, True] * 2
    # A WebRTC track plays in real time; a call's own scenario replaces the backend's.
    call = backend._engine_options("webrtc", ["Per call."])
    assert (call.realtime_factor, call.scenario) == (1.0, ["Per call."])
    await backend.close()
