"""A RealtimeSession in a real WebRTC call with the local backend (LocalFrontend, no browser)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import respx
from aiortc import RTCConfiguration, RTCPeerConnection

import rt_notebook as rt
from rt_notebook.kernel import relay
from rt_notebook.testing import LocalFrontend
from tests.conftest import ANSWER, FAKE_KEY, OFFER
from tests.local.harness import espeak_pcm
from tests.protocol import assert_conformant


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return espeak_pcm("Plot x squared please.", tmp_path_factory.mktemp("k") / "s.wav")


async def test_tool_call_runs_in_the_kernel_and_the_bot_answers_after() -> None:
    s = rt.RealtimeSession(session={"output_modalities": ["text"]})
    frontend = LocalFrontend(
        s,
        scenario=[
            {"call": "plot_function", "arguments": {"expression": "x**2", "x_max": 3}},
            {"say": "Here is the parabola."},
        ],
    )
    plotted: list[tuple[str, float, float]] = []

    @s.tool
    def plot_function(expression: str, x_min: float = -5.0, x_max: float = 5.0) -> str:
        """Plot y = f(x)."""
        plotted.append((expression, x_min, x_max))
        return "plotted"

    s.connect()
    await frontend.wait("session.created", timeout=20)
    assert s.status == "connected"
    s.send_text("Plot x squared")
    await frontend.wait("response.done", count=2, timeout=30)
    await frontend.close()

    assert plotted == [("x**2", -5.0, 3.0)]
    assert [t.text for t in s.transcript] == [
        "Plot x squared",
        'plot_function({"expression": "x**2", "x_max": 3}) → plotted',
        "Here is the parabola.",
    ]
    assert [t.role for t in s.transcript] == ["user", "tool", "assistant"]
    outputs = [e.raw for e in s.events.of("conversation.item.create") if e.direction == "client"]
    assert outputs[-1]["item"]["output"] == "plotted"
    server = [e.raw for e in s.events if e.direction == "server"]
    client = [e.raw for e in s.events if e.direction == "client"]
    assert_conformant(server, client)


async def test_voice_turn_reaches_python_handlers(speech: np.ndarray) -> None:
    s = rt.RealtimeSession(voice="cedar")
    frontend = LocalFrontend(s)
    heard: list[str] = []
    s.on(
        "conversation.item.input_audio_transcription.completed",
        lambda e: heard.append(e.transcript),
    )
    s.connect()
    await frontend.wait("session.created", timeout=20)
    frontend.say(speech)
    await frontend.wait("output_audio_buffer.stopped", timeout=40)
    await frontend.close()

    assert heard
    assert heard[0].startswith("(speech, ")
    user, assistant = list(s.transcript)
    assert (user.role, user.modality, user.final) == ("user", "audio", True)
    assert user.start is not None
    assert user.end is not None
    assert user.end > user.start
    assert assistant.role == "assistant"
    assert assistant.text.startswith("I heard")
    assert not assistant.interrupted
    assert frontend.remote_samples > 24000
    created = s.events.of("session.created")[0]
    assert created.session["audio"]["output"]["voice"] == "cedar"


async def test_relay_exchanges_with_the_local_backend_without_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("oai-events")
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    reply = await _in_relay_thread(
        {"sdp": pc.localDescription.sdp, "session": {"instructions": "hi"}}
    )
    await pc.close()
    assert reply["backend"] == "local"
    assert reply["call_id"].startswith("rtc_")
    assert reply["sdp"].startswith("v=0")


async def test_relay_validates_like_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    bad_session = await _in_relay_thread({"sdp": OFFER, "session": {"voice": "x"}})
    assert bad_session["error"]["code"] == "invalid_session"
    assert "audio.output.voice" in bad_session["error"]["message"]
    bad_sdp = await _in_relay_thread({"sdp": "nope", "session": {}})
    assert bad_sdp["error"]["status"] == 400


async def test_relay_uses_the_kernel_key_with_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.test/v1")
    with respx.mock(base_url="https://api.openai.test/v1") as mock:
        route = mock.post("/realtime/calls").mock(
            return_value=httpx.Response(
                201, text=ANSWER, headers={"Location": "/v1/realtime/calls/rtc_k"}
            )
        )
        ok = await relay.exchange({"sdp": OFFER, "session": {"model": "gpt-realtime-2.1"}})
        route.mock(return_value=httpx.Response(401, json={"error": {"message": f"bad {FAKE_KEY}"}}))
        rejected = await relay.exchange({"sdp": OFFER, "session": {}})
    assert ok == {"sdp": ANSWER, "call_id": "rtc_k", "backend": "openai"}
    assert route.calls[0].request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert rejected["error"]["code"] == "openai_key_rejected"
    assert FAKE_KEY not in json.dumps(rejected)


async def _in_relay_thread(content: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    future = relay.background_loop().submit(relay.exchange(content))
    return await asyncio.wrap_future(future)  # type: ignore[no-any-return]


def test_widget_message_offer_goes_through_the_relay(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = rt.RealtimeSession()
    sent: list[dict[str, Any]] = []
    s.widget.send = lambda content, buffers=None: sent.append(content)
    s._on_frontend_message(s.widget, {"kind": "offer", "id": "o1", "sdp": "bad", "session": {}}, [])
    import time

    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sent[0]["kind"] == "answer"
    assert sent[0]["id"] == "o1"
    assert sent[0]["error"]["code"] == "invalid_sdp"


async def test_local_scenario_travels_with_the_session() -> None:
    s = rt.RealtimeSession(
        session={"output_modalities": ["text"]},
        local_scenario=[{"say": "From the notebook's own scenario."}],
    )
    assert s.widget.local_options == {"scenario": [{"say": "From the notebook's own scenario."}]}
    frontend = LocalFrontend(s)
    s.connect()
    await frontend.wait("session.created", timeout=20)
    s.send_text("hi")
    await frontend.wait("response.done", timeout=20)
    await frontend.close()
    assert s.transcript[-1].text == "From the notebook's own scenario."
    with pytest.raises(ValueError, match="step 0"):
        rt.RealtimeSession(local_scenario=[{"sayy": "typo"}])


async def test_tool_outputs_travel_by_sideband_not_through_the_browser() -> None:
    from rt_notebook.wire.sideband import InProcessSideband

    s = rt.RealtimeSession(session={"output_modalities": ["text"]})
    frontend = LocalFrontend(
        s, scenario=[{"call": "secret_number", "arguments": {}}, {"say": "The number is 42."}]
    )

    @s.tool
    def secret_number() -> int:
        return 42

    s.connect()
    await frontend.wait("session.created", timeout=20)
    call_id = s.widget.call_id
    s.attach_sideband(InProcessSideband(call_id, frontend.backend.sessions[call_id]))
    s.send_text("What is the number?")
    await frontend.wait("response.done", count=2, timeout=30)
    engine = frontend.backend.sessions[call_id]
    await frontend.close()

    browser_sent = [e["type"] for e in frontend.client_events]
    assert browser_sent == ["conversation.item.create"]  # only the user's message
    by_sideband = [e["type"] for e in s.sideband.sent]
    assert by_sideband == ["response.create", "conversation.item.create", "response.create"]
    outputs = [
        e
        for e in engine.record.client_events
        if e.get("item", {}).get("type") == "function_call_output"
    ]
    assert outputs[0]["item"]["output"] == "42"
    assert s.transcript[-1].text == "The number is 42."
    assert s.events.of("conversation.item.create")[-1].direction == "client"


def test_sideband_implies_kernel_signaling() -> None:
    assert rt.RealtimeSession(sideband=True).widget.signaling == "kernel"


async def test_relayed_call_is_joined_by_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = rt.RealtimeSession(sideband=True, instructions="First.")
    sent: list[dict[str, Any]] = []
    s.widget.send = lambda content, buffers=None: sent.append(content)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("oai-events")
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    s._on_frontend_message(
        s.widget,
        {"kind": "offer", "id": "o1", "sdp": pc.localDescription.sdp, "session": s.config},
        [],
    )
    for _ in range(250):
        if s.sideband is not None:
            break
        await asyncio.sleep(0.02)
    assert sent[0]["kind"] == "answer"
    assert s.sideband is not None
    assert s.sideband.call_id == sent[0]["call_id"]
    s.widget.status = "connected"
    s.update(instructions="Second, by sideband.")
    engine = relay.local_backend().sessions[sent[0]["call_id"]]
    for _ in range(100):
        if engine.session["instructions"] == "Second, by sideband.":
            break
        await asyncio.sleep(0.02)
    await pc.close()
    assert engine.session["instructions"] == "Second, by sideband."
    assert [m for m in sent if m.get("kind") == "send"] == []  # nothing went via the browser
