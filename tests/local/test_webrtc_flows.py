"""The local backend driven over real WebRTC (aiortc) with real speech (espeak-ng)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.local.harness import RtcClient, espeak_pcm, running_backend
from tests.protocol import assert_conformant, assert_in_order

VOICE_TURN = [
    "session.created",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "output_audio_buffer.started",
    "response.output_audio_transcript.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "conversation.item.done",
    "response.output_item.done",
    "response.done",
    "output_audio_buffer.stopped",
]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    path = tmp_path_factory.mktemp("speech") / "hello.wav"
    return espeak_pcm("Hello there, what is the weather like in Paris today?", path)


async def test_voice_turn(speech: np.ndarray) -> None:
    session = {
        "type": "realtime",
        "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
    }
    async with running_backend(keep_audio=True) as (backend, url):
        client = RtcClient()
        response = await client.connect(url, session)
        assert response.status_code == 201
        assert response.headers["content-type"] == "application/sdp"
        assert client.call_id
        assert client.call_id.startswith("rtc_")
        await client.wait("session.created", timeout=15)
        client.say(speech)
        await client.wait("output_audio_buffer.stopped", timeout=40)
        completed = await client.wait("conversation.item.input_audio_transcription.completed")
        await client.close()

    assert_in_order(client.types(), VOICE_TURN)
    assert completed["transcript"].startswith("(speech, ")
    started = client.of("input_audio_buffer.speech_started")[0]
    stopped = client.of("input_audio_buffer.speech_stopped")[0]
    assert started["item_id"] == stopped["item_id"] == completed["item_id"]
    spoken_ms = len(speech) * 1000 / 24000
    assert 0.6 * spoken_ms < stopped["audio_end_ms"] - started["audio_start_ms"] < 1.6 * spoken_ms
    done = client.of("response.done")[0]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["output_tokens"] > 0
    transcript = client.of("response.output_audio_transcript.done")[0]["transcript"]
    assert "of speech" in transcript
    assert client.remote_energy > 0
    assert client.remote_samples > 24000
    record = backend.sessions[client.call_id].record
    assert record.audio_in_ms > 2000
    assert record.audio_in_rms > 0.005
    assert len(record.turns) == 1
    assert assert_conformant(client.events, client.sent) == len(client.events) + len(client.sent)


TEXT_TURN = [
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]


def user_text(text: str) -> dict[str, object]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


@pytest.mark.parametrize("modality", ["audio", "text"])
async def test_text_turn(modality: str) -> None:
    async with running_backend() as (_, url):
        client = RtcClient()
        await client.connect(
            url,
            {
                "type": "realtime",
                "output_modalities": [modality],
                "audio": {"input": {"turn_detection": None}},
            },
        )
        await client.wait("session.created", timeout=15)
        client.send(user_text("Hello from a notebook"))
        client.send({"type": "response.create"})
        done = await client.wait("response.done", timeout=30)
        if modality == "audio":
            await client.wait("output_audio_buffer.stopped")
        await client.close()

    assert done["response"]["status"] == "completed"
    assert done["response"]["output_modalities"] == [modality]
    if modality == "text":
        assert_in_order(client.types(), TEXT_TURN)
        text = client.of("response.output_text.done")[0]["text"]
        assert not client.of("response.output_audio_transcript.delta")
    else:
        text = client.of("response.output_audio_transcript.done")[0]["transcript"]
        assert client.remote_energy > 0
    assert text == 'You said: "Hello from a notebook".'
    (message,) = done["response"]["output"]
    part = message["content"][0]
    assert part == (
        {"type": "output_text", "text": text}
        if modality == "text"
        else {"type": "output_audio", "transcript": text}
    )
    assert_conformant(client.events, client.sent)


WEATHER = [
    {"call": "get_weather", "arguments": {"city": "Paris"}, "delay": 0.3},
    {"say": "It is sunny in Paris."},
]


async def test_scripted_tool_call() -> None:
    async with running_backend(scenario=WEATHER) as (_, url):
        client = RtcClient()
        await client.connect(
            url,
            {
                "type": "realtime",
                "output_modalities": ["text"],
                "tools": [
                    {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
                ],
            },
        )
        await client.wait("session.created", timeout=15)
        client.send(user_text("Weather in Paris?"))
        client.send({"type": "response.create"})
        client.send({"type": "response.create", "event_id": "evt_too_early"})
        args = await client.wait("response.function_call_arguments.done")
        await client.wait("response.done")
        client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": args["call_id"],
                    "output": '{"sky": "sunny"}',
                },
            }
        )
        client.send({"type": "response.create"})
        second = await client.wait("response.done", count=2)
        await client.close()

    assert args["name"] == "get_weather"
    assert args["arguments"] == '{"city": "Paris"}'
    deltas = [e["delta"] for e in client.of("response.function_call_arguments.delta")]
    assert "".join(deltas) == args["arguments"]
    (busy,) = client.of("error")
    assert busy["error"]["code"] == "conversation_already_has_active_response"
    assert busy["error"]["event_id"] == "evt_too_early"
    first = client.of("response.done")[0]["response"]
    assert first["output"][0]["type"] == "function_call"
    assert first["output"][0]["call_id"] == args["call_id"]
    assert_in_order(
        client.types(),
        [
            "response.output_item.added",
            "conversation.item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "conversation.item.done",
            "response.output_item.done",
            "response.done",
            "conversation.item.added",
            "conversation.item.done",  # the function_call_output
            "response.created",
            "response.output_text.done",
            "response.done",
        ],
    )
    assert second["response"]["output"][0]["content"][0]["text"] == "It is sunny in Paris."
    assert_conformant(client.events, client.sent)


LONG = "This is a long answer that keeps going for a while so that there is time to interrupt it."


async def test_barge_in(speech: np.ndarray) -> None:
    async with running_backend(scenario=[LONG]) as (_, url):
        client = RtcClient()
        await client.connect(url, {"type": "realtime"})
        await client.wait("session.created", timeout=15)
        client.send(user_text("Tell me something long"))
        client.send({"type": "response.create"})
        await client.wait("output_audio_buffer.started")
        await client.wait("response.output_audio_transcript.delta", count=3)
        client.say(speech)
        cleared = await client.wait("output_audio_buffer.cleared", timeout=20)
        done = await client.wait("response.done")
        await client.close()

    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert cleared["response_id"] == done["response"]["id"]
    assert_in_order(
        client.types(),
        [
            "output_audio_buffer.started",
            "input_audio_buffer.speech_started",
            "output_audio_buffer.cleared",
            "response.done",
        ],
    )
    said = client.of("response.output_audio_transcript.done")[0]["transcript"]
    assert said
    assert LONG.startswith(said)
    assert said != LONG
    item = done["response"]["output"][0]
    assert item["status"] == "incomplete"
    assert not client.of("output_audio_buffer.stopped")
    assert_conformant(client.events, client.sent)


async def test_cancel() -> None:
    async with running_backend(scenario=[LONG]) as (_, url):
        client = RtcClient()
        await client.connect(url, {"type": "realtime"})
        await client.wait("session.created", timeout=15)
        client.send({"type": "response.cancel", "event_id": "evt_nothing"})
        await client.wait("error")
        client.send(user_text("Go on"))
        client.send({"type": "response.create"})
        await client.wait("response.output_audio_transcript.delta", count=2)
        client.send({"type": "response.cancel"})
        client.send({"type": "output_audio_buffer.clear"})
        done = await client.wait("response.done")
        await client.wait("output_audio_buffer.cleared")
        await client.close()

    error = client.of("error")[0]["error"]
    assert (error["code"], error["event_id"]) == ("response_cancel_not_active", "evt_nothing")
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert_conformant(client.events, client.sent)
