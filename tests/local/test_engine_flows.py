"""Engine flows the other local tests leave out: items, out-of-band responses, overrides, VAD
modes, buffers, scenarios, callables, G.711, session.update rules, bad input and usage."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rt_notebook.local.engine import EngineOptions, SessionEngine, default_session
from rt_notebook.local.g711 import decode as g711_decode
from rt_notebook.local.g711 import encode as g711_encode
from rt_notebook.local.responders import Reply, ResponseContext, ScriptedResponder
from rt_notebook.local.speech import synthesize
from rt_notebook.wire.audio import SAMPLE_RATE, resample, to_pcm16
from tests.local.harness import WsClient, espeak_pcm, running_backend, silence, wait_until
from tests.protocol import assert_conformant, assert_in_order

FAST = 20.0  # realtime_factor: WebSocket sessions generate 20x faster than real time


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return espeak_pcm("Please plot a parabola for me.", tmp_path_factory.mktemp("eng") / "s.wav")


# ---- helpers ---------------------------------------------------------------------------


async def open_session(url: str, session: dict[str, Any] | None = None) -> WsClient:
    """A WebSocket session, updated with ``session`` (GA fields) when given."""
    ws = await WsClient.open(url, "model=gpt-realtime-2.1")
    await ws.wait("session.created")
    if session is not None:
        ws.send({"type": "session.update", "session": {"type": "realtime", **session}})
        await ws.wait("session.updated")
    return ws


def send_invalid(ws: WsClient, event: dict[str, Any]) -> None:
    """Send an event that is *not* valid GA on purpose (kept out of ``ws.sent``)."""
    ws.connection.write_message(json.dumps(event))


def user_item(text: str, item_id: str | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    if item_id:
        item["id"] = item_id
    return {"type": "conversation.item.create", "item": item, **extra}


def appends(
    samples: np.ndarray, fmt: str = "audio/pcm", chunk_ms: int = 100
) -> list[dict[str, Any]]:
    step = SAMPLE_RATE * chunk_ms // 1000
    events = []
    for i in range(0, len(samples), step):
        chunk = samples[i : i + step]
        raw = (
            to_pcm16(chunk)
            if fmt == "audio/pcm"
            else g711_encode(resample(chunk, SAMPLE_RATE, 8000), fmt)
        )
        events.append(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(raw).decode()}
        )
    return events


def tiny_png() -> bytes:
    """A valid 1x1 RGB PNG, built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")  # filter byte, then one RGB pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def error_codes(ws: WsClient) -> list[str]:
    return [e["error"]["code"] for e in ws.of("error")]


def delta_bytes(ws: WsClient, response_id: str | None = None) -> bytes:
    return b"".join(
        base64.b64decode(e["delta"])
        for e in ws.of("response.output_audio.delta")
        if response_id in (None, e["response_id"])
    )


# ---- 1. conversation items -----------------------------------------------------------


async def test_item_positions_retrieve_and_delete() -> None:
    contexts: list[list[str]] = []

    def responder(context: ResponseContext) -> None:
        contexts.append([item["id"] for item in context.conversation])

    async with running_backend(realtime_factor=FAST, scenario=responder) as (_, url):
        ws = await open_session(
            url, {"output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}
        )
        ws.send(user_item("A", "item_a"))
        ws.send(user_item("B", "item_b"))
        ws.send(user_item("C", "item_c", previous_item_id="root"))
        ws.send(user_item("D", "item_d", previous_item_id="item_a"))
        ws.send(user_item("X", "item_x", previous_item_id="item_nope", event_id="evt_prev"))
        ws.send(user_item("E", "item_e"))
        ws.send({"type": "conversation.item.retrieve", "item_id": "item_d"})
        ws.send({"type": "conversation.item.delete", "item_id": "item_b", "event_id": "evt_del"})
        ws.send({"type": "conversation.item.retrieve", "item_id": "item_b", "event_id": "evt_get"})
        ws.send({"type": "conversation.item.delete", "item_id": "item_b", "event_id": "evt_del2"})
        ws.send({"type": "response.create"})
        done = await ws.wait("response.done")
        await ws.close()

    added = [(e["item"]["id"], e["previous_item_id"]) for e in ws.of("conversation.item.added")]
    expected = [
        ("item_a", None),
        ("item_b", "item_a"),
        ("item_c", None),  # "root": the start of the conversation
        ("item_d", "item_a"),  # right after item_a, not at the end
        ("item_e", "item_b"),  # appending still goes after the last item
    ]
    assert added[:5] == expected
    done_items = [(e["item"]["id"], e["previous_item_id"]) for e in ws.of("conversation.item.done")]
    assert done_items[:5] == expected
    assert "item_x" not in [i for i, _ in added]

    errors = [e["error"] for e in ws.of("error")]
    assert [(e["code"], e["param"], e["event_id"]) for e in errors] == [
        ("item_not_found", "previous_item_id", "evt_prev"),
        ("item_not_found", "item_id", "evt_get"),
        ("item_not_found", "item_id", "evt_del2"),
    ]
    (retrieved,) = ws.of("conversation.item.retrieved")
    assert retrieved["item"] == {
        "id": "item_d",
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "D"}],
    }
    (deleted,) = ws.of("conversation.item.deleted")
    assert deleted["item_id"] == "item_b"
    # the model saw the conversation in its real order, without the deleted item
    assert contexts == [["item_c", "item_a", "item_d", "item_e"]]
    assert done["response"]["output"][0]["content"][0]["text"] == 'You said: "E".'
    assert_in_order(
        ws.types(),
        ["conversation.item.retrieved", "conversation.item.deleted", "error", "error"],
    )
    assert_conformant(ws.events, ws.sent)


async def test_truncate_assistant_audio_and_retrieve_it() -> None:
    async with running_backend(realtime_factor=FAST) as (_, url):
        ws = await open_session(url, {"audio": {"input": {"turn_detection": None}}})
        ws.send(user_item("Say something", "item_user"))
        ws.send({"type": "response.create"})
        done = await ws.wait("response.done")
        assistant = done["response"]["output"][0]
        samples = len(delta_bytes(ws)) // 2
        audio_ms = samples * 1000 // SAMPLE_RATE
        ws.send({"type": "conversation.item.retrieve", "item_id": assistant["id"]})
        ws.send(
            {
                "type": "conversation.item.truncate",
                "item_id": "item_user",
                "content_index": 0,
                "audio_end_ms": 0,
                "event_id": "evt_user",
            }
        )
        ws.send(
            {
                "type": "conversation.item.truncate",
                "item_id": assistant["id"],
                "content_index": 0,
                "audio_end_ms": audio_ms + 1,
                "event_id": "evt_past",
            }
        )
        half = audio_ms // 2
        ws.send(
            {
                "type": "conversation.item.truncate",
                "item_id": assistant["id"],
                "content_index": 0,
                "audio_end_ms": half,
            }
        )
        ws.send({"type": "conversation.item.retrieve", "item_id": assistant["id"]})
        ws.send(
            {
                "type": "conversation.item.truncate",
                "item_id": assistant["id"],
                "content_index": 0,
                "audio_end_ms": half + 100,
                "event_id": "evt_past_cut",
            }
        )
        await ws.wait("error", count=3)
        await ws.close()

    assert done["response"]["status"] == "completed"
    assert assistant["content"][0]["type"] == "output_audio"
    assert audio_ms > 500
    errors = [e["error"] for e in ws.of("error")]
    assert [(e["param"], e["event_id"]) for e in errors] == [
        ("item_id", "evt_user"),  # only assistant messages can be truncated
        ("audio_end_ms", "evt_past"),
        ("audio_end_ms", "evt_past_cut"),  # the audio now ends at the cut
    ]
    (truncated,) = ws.of("conversation.item.truncated")
    assert truncated["item_id"] == assistant["id"]
    assert truncated["content_index"] == 0
    assert truncated["audio_end_ms"] == half

    before, after = (e["item"] for e in ws.of("conversation.item.retrieved"))
    # retrieve gives the full item *with* its audio (in the session's output format)
    assert before["id"] == after["id"] == assistant["id"]
    assert before["content"][0]["transcript"] == assistant["content"][0]["transcript"]
    assert base64.b64decode(before["content"][0]["audio"]) == delta_bytes(ws)
    cut = base64.b64decode(after["content"][0]["audio"])
    assert len(cut) // 2 == half * SAMPLE_RATE // 1000
    assert cut == delta_bytes(ws)[: len(cut)]
    assert_conformant(ws.events, ws.sent)


async def test_item_content_checks_and_images() -> None:
    png = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    async with running_backend(realtime_factor=FAST) as (_, url):
        ws = await open_session(
            url, {"output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}
        )
        ws.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "system",
                    "content": [{"type": "input_text", "text": "Be brief."}],
                },
            }
        )
        send_invalid(
            ws,
            {
                "type": "conversation.item.create",
                "event_id": "evt_beta",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Beta shape."}],
                },
            },
        )
        ws.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "GA shape."}],
                },
            }
        )
        ws.send(
            {
                "type": "conversation.item.create",
                "event_id": "evt_url",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": "https://example.com/cat.png"}
                    ],
                },
            }
        )
        ws.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": png, "detail": "low"},
                        {"type": "input_text", "text": "What is this?"},
                    ],
                },
            }
        )
        ws.send({"type": "response.create"})
        done = await ws.wait("response.done")
        await ws.close()

    beta, url_error = (e["error"] for e in ws.of("error"))
    assert beta["event_id"] == "evt_beta"
    assert "output_text" in beta["message"]
    assert beta["param"] == "item.content[0].type"
    assert url_error["event_id"] == "evt_url"
    assert url_error["param"] == "item.content[0].image_url"
    items = [e["item"] for e in ws.of("conversation.item.added")]
    assert [(i["role"], i["content"][0]["type"]) for i in items[:3]] == [
        ("system", "input_text"),
        ("assistant", "output_text"),
        ("user", "input_image"),
    ]
    assert items[2]["content"][0]["image_url"] == png
    text = done["response"]["output"][0]["content"][0]["text"]
    assert text == 'I received an image. You wrote: "What is this?".'
    assert done["response"]["usage"]["input_token_details"]["image_tokens"] > 0
    assert_conformant(ws.events, ws.sent)


# ---- 2. out-of-band responses --------------------------------------------------------


def side_or_main(context: ResponseContext) -> Reply:
    if context.response.get("conversation") == "none":
        return Reply(say="A side answer.")
    return Reply(say="The main answer, which takes a while.", delay=20.0)  # 1 s at FAST


async def test_out_of_band_response_runs_beside_the_main_one() -> None:
    async with running_backend(realtime_factor=FAST, scenario=side_or_main) as (_, url):
        ws = await open_session(
            url, {"output_modalities": ["audio"], "audio": {"input": {"turn_detection": None}}}
        )
        ws.send(user_item("Hello"))
        ws.send({"type": "response.create"})
        main = (await ws.wait("response.created"))["response"]
        ws.send({"type": "response.create", "event_id": "evt_busy"})
        ws.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "metadata": {"k": "v"},
                },
            }
        )
        await ws.wait("response.done", count=2)
        done = {e["response"]["id"]: e["response"] for e in ws.of("response.done")}
        side_id = next(i for i in done if i != main["id"])
        side = done[side_id]
        ws.send({"type": "conversation.item.retrieve", "item_id": side["output"][0]["id"]})
        await ws.wait("error", count=2)
        await ws.close()

    busy, not_found = (e["error"] for e in ws.of("error"))
    assert busy["code"] == "conversation_already_has_active_response"
    assert busy["event_id"] == "evt_busy"
    assert not_found["code"] == "item_not_found"  # out-of-band output is not in the conversation
    assert main["conversation_id"].startswith("conv_")
    assert main["metadata"] is None
    created = {e["response"]["id"]: e["response"] for e in ws.of("response.created")}
    assert created[side_id]["conversation_id"] is None
    assert created[side_id]["metadata"] == {"k": "v"}
    assert side["conversation_id"] is None
    assert side["metadata"] == {"k": "v"}
    assert side["output_modalities"] == ["text"]
    assert side["status"] == done[main["id"]]["status"] == "completed"
    assert side["output"][0]["content"][0] == {"type": "output_text", "text": "A side answer."}
    main_out = done[main["id"]]["output"][0]
    assert main_out["content"][0]["type"] == "output_audio"
    # the side response started and finished while the main one was running
    finished = [e["response"]["id"] for e in ws.of("response.done")]
    assert finished == [side_id, main["id"]]
    conversation_ids = {
        e["item"]["id"] for e in ws.of("conversation.item.added") + ws.of("conversation.item.done")
    }
    assert side["output"][0]["id"] not in conversation_ids
    assert main_out["id"] in conversation_ids
    side_items = [e for e in ws.of("response.output_item.added") if e["response_id"] == side_id]
    assert len(side_items) == 1
    assert_conformant(ws.events, ws.sent)


# ---- 3. response.create overrides ----------------------------------------------------


async def test_response_overrides_and_invalid_modalities() -> None:
    seen: list[tuple[object, object]] = []

    def responder(context: ResponseContext) -> str:
        seen.append((context.response.get("instructions"), context.session["instructions"]))
        return "Arr, understood."

    async with running_backend(realtime_factor=FAST, scenario=responder) as (_, url):
        ws = await open_session(
            url, {"instructions": "Session rules.", "audio": {"input": {"turn_detection": None}}}
        )
        ws.send(user_item("Hi"))
        ws.send(
            {
                "type": "response.create",
                "response": {"instructions": "Talk like a pirate.", "output_modalities": ["text"]},
            }
        )
        first = await ws.wait("response.done")
        ws.send({"type": "response.create"})
        second = await ws.wait("response.done", count=2)
        send_invalid(
            ws,
            {
                "type": "response.create",
                "event_id": "evt_video",
                "response": {"output_modalities": ["video"]},
            },
        )
        ws.send(
            {
                "type": "response.create",
                "event_id": "evt_both",
                "response": {"output_modalities": ["audio", "text"]},
            }
        )
        await ws.wait("error", count=2)
        await ws.close()

    assert seen == [("Talk like a pirate.", "Session rules."), (None, "Session rules.")]
    first_r, second_r = first["response"], second["response"]
    assert first_r["output_modalities"] == ["text"]
    assert first_r["output"][0]["content"][0] == {"type": "output_text", "text": "Arr, understood."}
    assert second_r["output_modalities"] == ["audio"]  # the override was for one response only
    assert second_r["output"][0]["content"][0]["type"] == "output_audio"
    first_types = [e["type"] for e in ws.events if e.get("response_id") == first_r["id"]]
    assert "response.output_text.delta" in first_types
    assert "response.output_audio.delta" not in first_types
    errors = [e["error"] for e in ws.of("error")]
    assert [(e["code"], e["param"], e["event_id"]) for e in errors] == [
        ("invalid_value", "response.output_modalities", "evt_video"),
        ("invalid_value", "response.output_modalities", "evt_both"),
    ]
    assert len(ws.of("response.created")) == 2
    assert_conformant(ws.events, ws.sent)


# ---- 4-6. idle timeout, semantic VAD, buffer clears ----------------------------------


async def test_idle_timeout_triggers_a_response() -> None:
    vad = {"type": "server_vad", "idle_timeout_ms": 1000}
    async with running_backend(realtime_factor=FAST) as (_, url):
        ws = await open_session(
            url, {"output_modalities": ["text"], "audio": {"input": {"turn_detection": vad}}}
        )
        for event in appends(silence(1.5)):
            ws.send(event)
        timeout = await ws.wait("input_audio_buffer.timeout_triggered")
        done = await ws.wait("response.done")
        await ws.close()

    assert not ws.of("input_audio_buffer.speech_started")
    assert 900 <= timeout["audio_end_ms"] - timeout["audio_start_ms"] <= 1200
    assert timeout["audio_end_ms"] <= 1500
    assert done["response"]["status"] == "completed"
    assert_in_order(
        ws.types(),
        [
            "input_audio_buffer.timeout_triggered",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "response.created",
            "response.done",
        ],
    )
    # the idle audio is committed as the item the timeout names
    (committed,) = ws.of("input_audio_buffer.committed")
    assert committed["item_id"] == timeout["item_id"]
    user = ws.of("conversation.item.added")[0]["item"]
    assert (user["id"], user["content"][0]["type"]) == (timeout["item_id"], "input_audio")
    assert_conformant(ws.events, ws.sent)


async def test_semantic_vad_detects_a_turn(speech: np.ndarray) -> None:
    vad = {"type": "semantic_vad", "eagerness": "high"}
    async with running_backend(realtime_factor=FAST) as (_, url):
        ws = await open_session(
            url, {"output_modalities": ["text"], "audio": {"input": {"turn_detection": vad}}}
        )
        for event in appends(np.concatenate([silence(0.5), speech, silence(1.5)])):
            ws.send(event)
        done = await ws.wait("response.done")
        await ws.close()

    updated = ws.of("session.updated")[0]["session"]
    assert updated["audio"]["input"]["turn_detection"] == vad
    started = ws.of("input_audio_buffer.speech_started")[0]
    (stopped,) = ws.of("input_audio_buffer.speech_stopped")
    (committed,) = ws.of("input_audio_buffer.committed")
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    spoken_ms = len(speech) * 1000 // SAMPLE_RATE
    assert 0.6 * spoken_ms < stopped["audio_end_ms"] - started["audio_start_ms"] < 1.6 * spoken_ms
    # "high" eagerness ends the turn after ~400 ms of silence ("auto" would wait ~800 ms)
    last_loud_ms = 500 + int(np.nonzero(np.abs(speech) > 300)[0][-1]) * 1000 // SAMPLE_RATE
    assert 300 < stopped["audio_end_ms"] - last_loud_ms < 650
    assert done["response"]["output"][0]["content"][0]["text"].startswith("I heard ")
    assert_in_order(
        ws.types(),
        [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "response.created",
            "response.done",
        ],
    )
    assert_conformant(ws.events, ws.sent)


async def test_input_buffer_clear_and_output_buffer_clear_on_websocket(
    speech: np.ndarray,
) -> None:
    async with running_backend(realtime_factor=FAST) as (_, url):
        ws = await open_session(url, {"output_modalities": ["text"]})
        for event in appends(np.concatenate([silence(0.5), speech[: len(speech) // 2]])):
            ws.send(event)
        await ws.wait("input_audio_buffer.speech_started")
        ws.send({"type": "input_audio_buffer.clear", "event_id": "evt_clear"})
        ws.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
        for event in appends(silence(1.5)):
            ws.send(event)
        ws.send({"type": "output_audio_buffer.clear", "event_id": "evt_out"})
        await ws.wait("error", count=2)
        await asyncio.sleep(0.2)
        await ws.close()

    assert len(ws.of("input_audio_buffer.cleared")) == 1
    errors = [e["error"] for e in ws.of("error")]
    assert [(e["code"], e["event_id"]) for e in errors] == [
        ("input_audio_buffer_commit_empty", "evt_commit"),  # the clear emptied the buffer
        ("invalid_value", "evt_out"),  # output_audio_buffer.* is WebRTC/SIP only
    ]
    assert "WebRTC" in errors[1]["message"]
    # the turn in progress was forgotten: it never stops, commits or gets a response
    assert not ws.of("input_audio_buffer.speech_stopped")
    assert not ws.of("input_audio_buffer.committed")
    assert not ws.of("response.created")
    assert not [t for t in ws.types() if t.startswith("output_audio_buffer.")]
    assert_conformant(ws.events, ws.sent)


# ---- 7-8. scripted scenarios and callables -------------------------------------------


async def test_scripted_user_said_and_expect_mismatch(speech: np.ndarray) -> None:
    responder = ScriptedResponder(
        [
            {"say": "Here is your plot.", "user_said": "Plot a parabola", "expect": "sine wave"},
            {"say": "Hi again.", "expect": "hello"},
        ]
    )
    async with running_backend(realtime_factor=FAST, scenario=responder) as (backend, url):
        ws = await open_session(
            url,
            {
                "output_modalities": ["text"],
                "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
            },
        )
        for event in appends(np.concatenate([silence(0.5), speech, silence(1.5)])):
            ws.send(event)
        completed = await ws.wait("conversation.item.input_audio_transcription.completed")
        first = await ws.wait("response.done")
        ws.send(user_item("Hello there"))
        ws.send({"type": "response.create"})
        second = await ws.wait("response.done", count=2)
        ws.send({"type": "conversation.item.retrieve", "item_id": completed["item_id"]})
        retrieved = (await ws.wait("conversation.item.retrieved"))["item"]
        engines = list(backend.sessions.values())
        await ws.close()

    assert completed["transcript"] == "Plot a parabola"
    deltas = ws.of("conversation.item.input_audio_transcription.delta")
    assert "".join(d["delta"] for d in deltas) == "Plot a parabola"
    assert completed["usage"]["type"] == "duration"
    assert completed["usage"]["seconds"] > 0.5
    assert first["response"]["output"][0]["content"][0]["text"] == "Here is your plot."
    assert second["response"]["output"][0]["content"][0]["text"] == "Hi again."
    assert len(responder.mismatches) == 1
    assert "'sine wave'" in responder.mismatches[0]
    assert "'Plot a parabola'" in responder.mismatches[0]
    assert engines[0].record.turns[0]["transcript"] == "Plot a parabola"
    assert retrieved["content"][0]["transcript"] == "Plot a parabola"
    assert len(base64.b64decode(retrieved["content"][0]["audio"])) > SAMPLE_RATE  # > 0.5 s
    assert_conformant(ws.events, ws.sent)


def echo_sync(context: ResponseContext) -> Reply | str | None:
    heard = context.heard or ""
    if heard == "string":
        return "A plain string."
    if heard == "reply":
        return Reply(say="A Reply object.")
    return None  # the default responder answers


async def echo_async(context: ResponseContext) -> Reply | str | None:
    await asyncio.sleep(0.01)
    return echo_sync(context)


@pytest.mark.parametrize("fn", [echo_sync, echo_async], ids=["sync", "async"])
async def test_callable_responder_drives_the_engine_directly(fn: Any) -> None:
    events: list[dict[str, Any]] = []
    session = default_session()
    session["output_modalities"] = ["text"]
    session["audio"]["input"]["turn_detection"] = None
    engine = SessionEngine(
        session=session,
        options=EngineOptions(scenario=fn, realtime_factor=FAST),
        transport="websocket",
        send=events.append,
        call_id="ws_direct",
    )
    engine.start()
    sent: list[dict[str, Any]] = []
    texts: list[str] = []

    def dones() -> list[dict[str, Any]]:
        return [e for e in events if e["type"] == "response.done"]

    for said in ["string", "reply", "anything else"]:
        for event in (user_item(said), {"type": "response.create"}):
            sent.append(event)
            engine.handle_event(event)
        await wait_until(lambda: len(dones()) > len(texts))
        texts.append(dones()[-1]["response"]["output"][0]["content"][0]["text"])
    await engine.close()

    assert texts == ["A plain string.", "A Reply object.", 'You said: "anything else".']
    assert events[0]["type"] == "session.created"
    assert list(engine.record.client_events) == sent
    assert not [e for e in events if e["type"] == "error"]
    assert_conformant(events, sent)


# ---- 9. G.711 µ-law on WebSocket -----------------------------------------------------


async def test_pcmu_input_and_output(speech: np.ndarray) -> None:
    ulaw = {"type": "audio/pcmu"}
    audio_in = np.concatenate([silence(0.5), speech, silence(1.5)])
    async with running_backend(realtime_factor=FAST) as (backend, url):
        ws = await open_session(
            url, {"audio": {"input": {"format": ulaw}, "output": {"format": ulaw}}}
        )
        sent = appends(audio_in, "audio/pcmu")
        for event in sent:
            ws.send(event)
        done = await ws.wait("response.done")
        record = next(iter(backend.sessions.values())).record
        await ws.close()

    session = ws.of("session.updated")[0]["session"]
    assert session["audio"]["input"]["format"] == ulaw
    assert session["audio"]["output"]["format"] == ulaw
    assert done["response"]["audio"]["output"]["format"] == ulaw
    # one µ-law byte per 8 kHz sample, decoded and brought up to the session's 24 kHz
    appended = sum(len(base64.b64decode(e["audio"])) for e in sent)
    assert appended == pytest.approx(len(audio_in) / 3, abs=len(sent))
    assert record.audio_in_samples == pytest.approx(len(audio_in), rel=0.01)
    assert record.audio_in_rms > 0.005
    assert_in_order(
        ws.types(),
        [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "response.created",
            "response.output_audio.delta",
            "response.done",
        ],
    )
    # the output is 8 kHz µ-law of the synthesized speech: one byte per 8 kHz sample
    transcript = ws.of("response.output_audio_transcript.done")[0]["transcript"]
    expected = resample(synthesize(transcript, voice="marin", speed=1.0).samples, 24000, 8000)
    out = delta_bytes(ws)
    assert len(out) == pytest.approx(len(expected), abs=len(ws.of("response.output_audio.delta")))
    decoded = g711_decode(out, "audio/pcmu").astype(np.float64)[: len(expected)]
    reference = expected.astype(np.float64)[: len(decoded)]
    error = np.sqrt(np.mean((decoded - reference) ** 2))
    assert error < 0.15 * np.sqrt(np.mean(reference**2))  # µ-law, resampled per chunk
    assert_conformant(ws.events, ws.sent)


# ---- 10. session.update rules --------------------------------------------------------


async def test_session_update_voice_model_and_partial_updates() -> None:
    vad = {
        "type": "server_vad",
        "threshold": 0.7,
        "silence_duration_ms": 650,
        "create_response": True,
    }
    async with running_backend(realtime_factor=FAST) as (_, url):
        ws = await open_session(url, {"audio": {"input": {"turn_detection": vad}}})
        ws.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}},
            }
        )
        ws.send(user_item("Hi"))
        ws.send({"type": "response.create"})
        done = await ws.wait("response.done")
        ws.send(
            {
                "type": "session.update",
                "event_id": "evt_voice",
                "session": {"type": "realtime", "audio": {"output": {"voice": "alloy"}}},
            }
        )
        ws.send(
            {
                "type": "session.update",
                "event_id": "evt_model",
                "session": {"type": "realtime", "model": "gpt-realtime-2.1-mini"},
            }
        )
        ws.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "instructions": "Only the instructions change."},
            }
        )
        ws.send(  # the same voice again is not a change
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}},
            }
        )
        await ws.wait("session.updated", count=4)
        await ws.close()

    updates = [e["session"] for e in ws.of("session.updated")]
    assert len(updates) == 4  # the refused updates changed nothing
    before_audio, partial = updates[1], updates[2]
    assert before_audio["audio"]["output"]["voice"] == "cedar"  # allowed before any audio
    assert done["response"]["audio"]["output"]["voice"] == "cedar"
    assert done["response"]["output"][0]["content"][0]["type"] == "output_audio"
    errors = [e["error"] for e in ws.of("error")]
    assert [(e["code"], e["param"], e["event_id"]) for e in errors] == [
        ("cannot_update_voice", "session.audio.output.voice", "evt_voice"),
        ("invalid_value", "session.model", "evt_model"),
    ]
    assert partial["instructions"] == "Only the instructions change."
    assert partial["audio"]["input"]["turn_detection"] == vad
    assert partial["audio"] == before_audio["audio"]
    assert partial["model"] == "gpt-realtime-2.1"
    assert {k: v for k, v in partial.items() if k != "instructions"} == {
        k: v for k, v in before_audio.items() if k != "instructions"
    }
    assert updates[3]["audio"]["output"]["voice"] == "cedar"
    assert_conformant(ws.events, ws.sent)


# ---- 11. bad input -------------------------------------------------------------------


async def test_malformed_messages_leave_the_session_usable() -> None:
    async with running_backend(realtime_factor=FAST) as (_, url):
        ws = await open_session(
            url, {"output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}
        )
        ws.connection.write_message("{not json")
        ws.connection.write_message("[1, 2, 3]")
        ws.connection.write_message('"response.create"')
        send_invalid(ws, {"event_id": "evt_untyped"})
        await ws.wait("error", count=4)
        ws.send(user_item("Still there?"))
        ws.send({"type": "response.create"})
        done = await ws.wait("response.done")
        await ws.close()

    errors = [e["error"] for e in ws.of("error")]
    assert len(errors) == 4
    assert all(e["type"] == "invalid_request_error" and e["message"] for e in errors)
    assert errors[3]["event_id"] == "evt_untyped"
    assert errors[3]["param"] == "type"
    assert done["response"]["status"] == "completed"
    assert done["response"]["output"][0]["content"][0]["text"] == 'You said: "Still there?".'
    assert_conformant(ws.events, ws.sent)


# ---- 12. usage -----------------------------------------------------------------------

DETAILS_IN = {
    "text_tokens",
    "audio_tokens",
    "image_tokens",
    "cached_tokens",
    "cached_tokens_details",
}


def check_usage(usage: dict[str, Any]) -> None:
    assert set(usage) == {
        "total_tokens",
        "input_tokens",
        "output_tokens",
        "input_token_details",
        "output_token_details",
    }
    inputs, outputs = usage["input_token_details"], usage["output_token_details"]
    assert set(inputs) == DETAILS_IN
    assert set(outputs) == {"text_tokens", "audio_tokens"}
    assert set(inputs["cached_tokens_details"]) == {"text_tokens", "audio_tokens", "image_tokens"}
    assert usage["input_tokens"] + usage["output_tokens"] == usage["total_tokens"]
    in_parts = inputs["text_tokens"] + inputs["audio_tokens"] + inputs["image_tokens"]
    assert in_parts == usage["input_tokens"]
    assert outputs["text_tokens"] + outputs["audio_tokens"] == usage["output_tokens"]
    assert sum(inputs["cached_tokens_details"].values()) == inputs["cached_tokens"]
    counts = [*outputs.values(), inputs["text_tokens"], inputs["audio_tokens"]]
    assert all(isinstance(v, int) and v >= 0 for v in counts)


async def test_usage_shape_and_totals() -> None:
    async with running_backend(realtime_factor=FAST) as (_, url):
        ws = await open_session(url, {"audio": {"input": {"turn_detection": None}}})
        ws.send(user_item("First question"))
        ws.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await ws.wait("response.done")
        ws.send(user_item("Second question, spoken back"))
        ws.send({"type": "response.create"})
        await ws.wait("response.done", count=2)
        ws.send({"type": "response.create", "response": {"conversation": "none"}})
        await ws.wait("response.done", count=3)
        await ws.close()

    text_r, audio_r, side_r = (e["response"] for e in ws.of("response.done"))
    for response in (text_r, audio_r, side_r):
        assert response["status"] == "completed"
        check_usage(response["usage"])
        assert response["usage"]["output_token_details"]["text_tokens"] > 0
    assert text_r["usage"]["output_token_details"]["audio_tokens"] == 0
    assert audio_r["usage"]["output_token_details"]["audio_tokens"] > 0
    # an out-of-band audio response is billed for its audio too
    assert side_r["conversation_id"] is None
    assert side_r["usage"]["output_token_details"]["audio_tokens"] > 0
    # the second response saw a longer conversation than the first
    assert audio_r["usage"]["input_tokens"] > text_r["usage"]["input_tokens"]
    for event in ws.of("response.created"):
        assert event["response"]["usage"] is None
    assert_conformant(ws.events, ws.sent)


def test_helpers_make_valid_data(tmp_path: Path) -> None:
    """The hand-made PNG is a real PNG (matplotlib reads it)."""
    image = pytest.importorskip("matplotlib.image")
    path = tmp_path / "one.png"
    path.write_bytes(tiny_png())
    pixels = image.imread(str(path))
    assert pixels.shape[:2] == (1, 1)
    assert list(np.round(pixels[0, 0, :3] * 255)) == [255, 128, 0]


async def test_the_session_record_is_bounded_and_keeps_audio_by_its_length() -> None:
    """An hour of WebSocket audio is ~36,000 appends of ~6 KB each: the record keeps the
    latest events, audio by its length, and counts them all."""
    from rt_notebook.local.engine.core import RECORD_EVENTS

    session = default_session()
    session["audio"]["input"]["turn_detection"] = None
    events: list[dict[str, Any]] = []
    engine = SessionEngine(
        session=session,
        options=EngineOptions(scenario=lambda _ctx: "ok", realtime_factor=FAST),
        transport="websocket",
        send=events.append,
        call_id="ws_record",
    )
    engine.start()
    chunk = base64.b64encode(bytes(4800)).decode()  # 100 ms of silence
    total = RECORD_EVENTS + 250
    for i in range(total):
        engine.handle_event(
            {"type": "input_audio_buffer.append", "audio": chunk, "event_id": f"a{i}"}
        )
    engine.handle_event({"type": "input_audio_buffer.clear"})
    await engine.close()
    record = engine.record
    assert record.client_count == total + 1
    assert len(record.client_events) == RECORD_EVENTS
    assert record.client_events[-1]["type"] == "input_audio_buffer.clear"
    assert record.client_events[0]["event_id"] == f"a{total + 1 - RECORD_EVENTS}"
    appended = [e for e in record.client_events if e["type"] == "input_audio_buffer.append"]
    assert all("audio" not in e and e["audio_chars"] == len(chunk) for e in appended)
    assert record.audio_in_ms == total * 100  # the audio itself was all counted
    assert record.server_count >= len(record.server_events) > 0
