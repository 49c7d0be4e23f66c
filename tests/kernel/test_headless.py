"""Headless WebSocket sessions and the batch helper, against the local backend."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

import rt_notebook as rt
from rt_notebook.local.backend import LocalOptions, LocalRealtime
from rt_notebook.local.server import serve
from tests.local.harness import espeak_pcm
from tests.protocol import assert_conformant


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return espeak_pcm("What time is it in Tokyo?", tmp_path_factory.mktemp("h") / "s.wav")


def conformant(session: rt.HeadlessSession) -> int:
    server = [e.raw for e in session.events if e.direction == "server"]
    client = [e.raw for e in session.events if e.direction == "client"]
    return assert_conformant(server, client)


async def test_key_and_base_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serve(LocalRealtime()) as (upstream, base):
        monkeypatch.setenv("OPENAI_API_KEY", "sk-kernel-env-key")
        monkeypatch.setenv("OPENAI_BASE_URL", base)  # an OpenAI-shaped server
        s = rt.HeadlessSession(session={"output_modalities": ["text"]})
        async with s:
            reply = await s.ask("hello")
        served = list(upstream.sessions)
    assert s.backend == "openai"  # chosen by the key, at the environment's base URL
    assert reply == 'You said: "hello".'
    assert [call_id[:3] for call_id in served] == ["ws_"]


async def test_text_turn_and_tools_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = rt.HeadlessSession(
        instructions="Be brief.",
        session={"output_modalities": ["text"]},
        local_scenario=[
            {"call": "clock", "arguments": {"city": "Tokyo"}},
            {"say": "It is noon in Tokyo."},
        ],
    )
    seen: list[str] = []
    s.on("response.done", lambda e: seen.append(e.response["status"]))

    @s.tool
    def clock(city: str) -> str:
        return f"12:00 in {city}"

    async with s:
        assert s.backend == "local"
        assert s.status == "connected"
        reply = await s.ask("What time is it in Tokyo?")
        await s.next_response()  # the follow-up after the tool output
        updated = s.events.of("session.updated")[0]
    assert reply == ""  # the first response was the tool call
    assert s.transcript[-1].text == "It is noon in Tokyo."
    assert s.tool_calls()[0]["output"] == "12:00 in Tokyo"
    assert seen == ["completed", "completed"]
    assert updated.session["instructions"] == "Be brief."
    assert updated.session["tools"][0]["name"] == "clock"
    assert s.status == "closed"
    assert conformant(s) > 20


async def test_audio_from_numpy_and_wav_and_audio_back(speech: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "q.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(rt_resample(speech, 16000).tobytes())
    async with serve(LocalRealtime(LocalOptions(realtime_factor=8.0))) as (backend, base):
        url = base.replace("http://", "ws://") + "/realtime"
        async with rt.HeadlessSession(url=url, voice="cedar") as s:
            await s.send_audio(speech, pace=False)
            first = await s.wait_for("response.done", timeout=30)
            await s.send_audio(path, pace=False)  # a 16 kHz WAV, resampled
            second = await s.wait_for("response.done", count=2, timeout=30)
            audio = s.assistant_audio()
    assert first.response["status"] == second.response["status"] == "completed"
    user_turns = [t for t in s.transcript if t.role == "user"]
    assert len(user_turns) == 2
    assert all(t.text.startswith("(speech, ") for t in user_turns)
    assert len(audio) > 24000 // 2
    assert np.abs(audio).max() > 1000
    assert s.recordings.mic.duration > 2 * len(speech) / 24000
    assert s.recordings.assistant.duration >= len(audio) / 24000
    (record,) = backend.sessions.values()
    assert record.record.audio_in_rms > 0.005
    assert conformant(s) > 30


def rt_resample(samples: np.ndarray, rate: int) -> np.ndarray:
    from rt_notebook.wire.audio import resample

    return resample(samples, 24000, rate)


async def test_refused_and_unreachable() -> None:
    with pytest.raises(rt.RealtimeError) as exc:
        await rt.HeadlessSession(url="ws://127.0.0.1:9/v1/realtime").connect(timeout=5)
    assert exc.value.code == "unreachable"
    s = rt.HeadlessSession()
    with pytest.raises(rt.RealtimeError, match="Connect first"):
        s.send_text("hello")


async def test_batch_of_five(speech: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    prompts: list = [
        "Hello there",
        {"text": "Second prompt", "name": "second"},
        {"audio": speech, "rate": 24000, "name": "spoken"},
        "Fourth",
        {"bogus": 1},
    ]
    table = await rt.run_batch(
        prompts, concurrency=2, progress=False, session={"output_modalities": ["text"]}
    )
    assert [row["index"] for row in table] == [0, 1, 2, 3, 4]
    assert table[0]["reply"] == 'You said: "Hello there".'
    assert table[1]["prompt"] == "second"
    assert table[2]["kind"] == "audio"
    assert table[2]["heard"].startswith("(speech, ")
    assert table[2]["reply"].startswith("I heard ")
    assert all(row["backend"] == "local" for row in table[:4])
    assert all(row["response_ms"] is not None and row["response_ms"] >= 0 for row in table[:4])
    assert all(row["cost_usd"] > 0 for row in table[:4])
    assert "a prompt is text" in table[4]["error"]
    frame = table.to_dataframe()
    assert list(frame.columns)[:3] == ["index", "prompt", "kind"]
