"""RealtimeSession: composition, callbacks, tools and response sequencing (scripted frontend)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rt_notebook as rt
from rt_notebook.testing import ScriptedFrontend
from tests.protocol import assert_client_event


def test_convenience_keywords_compose_a_ga_session() -> None:
    s = rt.RealtimeSession(
        model="gpt-realtime-2.1",
        voice="marin",
        instructions="Be kind.",
        turn_detection="semantic_vad",
        session={"audio": {"output": {"speed": 1.1}}},
    )
    assert s.config == {
        "type": "realtime",
        "model": "gpt-realtime-2.1",
        "instructions": "Be kind.",
        "audio": {
            "input": {
                "transcription": {"model": "gpt-transcribe"},
                "turn_detection": {"type": "semantic_vad"},
            },
            "output": {"voice": "marin", "speed": 1.1},
        },
    }
    assert s.widget.session_config == s.config


def test_push_to_talk_means_manual_turns() -> None:
    s = rt.RealtimeSession(push_to_talk=True, transcription=None)
    assert s.config["audio"]["input"] == {"transcription": None, "turn_detection": None}
    assert s.widget.push_to_talk is True


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"session": {"voice": "marin"}}, "session.voice"),
        ({"session": {"session": {}}}, "session.session"),
        ({"voice": "robot"}, "session.audio.output.voice"),
        ({"turn_detection": "loud"}, "session.audio.input.turn_detection.type"),
    ],
)
def test_bad_config_names_the_ga_path(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(rt.SessionConfigError) as exc:
        rt.RealtimeSession(**kwargs)
    assert exc.value.param == param


def server(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": "event_x", **fields}


def test_on_off_once_and_wildcard() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    seen: list[str] = []

    @s.on("input_audio_buffer.speech_started")
    def started(event: rt.RealtimeEvent) -> None:
        seen.append(f"started:{event.item_id}:{event.audio_start_ms}")

    s.on("*", lambda e: seen.append(f"*:{e.type}"))
    s.once("response.done", lambda e: seen.append("once"))
    frontend.emit(
        server("input_audio_buffer.speech_started", item_id="i1", audio_start_ms=5),
        server("response.done", response={"id": "r1", "output": []}),
        server("response.done", response={"id": "r2", "output": []}),
        server("brand.new_event_type", surprise=True),
    )
    s.off("input_audio_buffer.speech_started", started)
    frontend.emit(server("input_audio_buffer.speech_started", item_id="i2", audio_start_ms=9))
    assert seen == [
        "started:i1:5",
        "*:input_audio_buffer.speech_started",
        "once",
        "*:response.done",
        "*:response.done",
        "*:brand.new_event_type",
        "*:input_audio_buffer.speech_started",
    ]
    assert s.events[3].type == "brand.new_event_type"
    assert s.events[3].surprise is True
    assert s.events[0].time > 1e9  # browser epoch timestamps


def test_once_is_per_registration_not_per_handler() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    seen: list[str] = []

    def note(event: rt.RealtimeEvent) -> None:
        seen.append(event.type)

    s.once("a.event", note).once("b.event", note)
    s.on("c.event", note).once("c.event", note)
    s.once("d.event", note).off("d.event", note)
    frontend.emit(*(server(kind) for kind in ["b.event", "b.event", "a.event", "a.event"]))
    frontend.emit(*(server(kind) for kind in ["c.event", "c.event", "d.event"]))
    assert seen == ["b.event", "a.event", "c.event", "c.event", "c.event"]
    assert s._handlers["c.event"] == [note]


def test_handler_errors_are_shown_not_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    after: list[str] = []
    s.on("response.done", lambda e: 1 / 0)
    s.on("response.done", lambda e: after.append("still called"))
    frontend.emit(server("response.done", response={"id": "r1", "output": []}))
    assert after == ["still called"]
    (shown,) = s.output.outputs
    assert shown["name"] == "stderr"
    assert "ZeroDivisionError" in shown["text"]
    assert "ZeroDivisionError" in caplog.text
    # the user's frames first: the traceback starts in this file, not in the kit's dispatch
    frames = [line for line in shown["text"].splitlines() if line.lstrip().startswith("File ")]
    assert frames
    assert "test_session_api.py" in frames[0]
    assert "core.py" not in shown["text"]


def test_tool_schema_from_hints_and_docstring() -> None:
    s = rt.RealtimeSession()

    @s.tool
    def plot_function(expression: str, x_min: float = -5.0, x_max: float = 5.0) -> str:
        """Plot y = f(x) for the student.

        Args:
            expression: A Python expression in x, e.g. "x**2".
            x_min: Left end of the range.
            x_max: Right end of the range.
        """
        return "ok"

    assert plot_function("x") == "ok"  # the decorator returns the function itself
    (tool,) = s.config["tools"]
    assert tool == {
        "type": "function",
        "name": "plot_function",
        "description": "Plot y = f(x) for the student.",
        "parameters": {
            "type": "object",
            "additionalProperties": False,
            "required": ["expression"],
            "properties": {
                "expression": {
                    "type": "string",
                    "description": 'A Python expression in x, e.g. "x**2".',
                },
                "x_min": {
                    "type": "number",
                    "default": -5.0,
                    "description": "Left end of the range.",
                },
                "x_max": {
                    "type": "number",
                    "default": 5.0,
                    "description": "Right end of the range.",
                },
            },
        },
    }


def function_call(call_id: str, name: str, arguments: str) -> list[dict[str, Any]]:
    item = {
        "id": f"item_{call_id}",
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }
    return [
        server("response.created", response={"id": f"resp_{call_id}", "output": []}),
        server(
            "response.function_call_arguments.done",
            response_id=f"resp_{call_id}",
            item_id=item["id"],
            output_index=0,
            call_id=call_id,
            name=name,
            arguments=arguments,
        ),
    ], server("response.done", response={"id": f"resp_{call_id}", "output": [item]})


def sent_types(frontend: ScriptedFrontend) -> list[str]:
    return [e["type"] for e in frontend.client_events]


async def test_tool_call_output_then_exactly_one_response_after_done() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    calls: list[tuple[float, float]] = []

    @s.tool
    def area(width: float, height: float) -> dict[str, float]:
        calls.append((width, height))
        return {"area": width * height}

    started, done = function_call("c1", "area", '{"width": 2, "height": 3.5}')
    frontend.emit(*started)
    await asyncio.sleep(0.05)
    assert calls == [(2.0, 3.5)]
    assert sent_types(frontend) == ["conversation.item.create"]  # no response.create yet
    output = frontend.client_events[0]["item"]
    assert output == {"type": "function_call_output", "call_id": "c1", "output": '{"area": 7.0}'}
    frontend.emit(done)
    assert sent_types(frontend) == ["conversation.item.create", "response.create"]
    frontend.emit(
        server("response.created", response={"id": "r2", "output": []}),
        server("response.done", response={"id": "r2", "output": []}),
    )
    assert sent_types(frontend).count("response.create") == 1
    for event in frontend.client_events:
        assert_client_event(event)


async def test_failing_and_async_tools_report_to_the_model() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)

    @s.tool
    async def slow_double(n: int) -> int:
        await asyncio.sleep(0.05)
        return n * 2

    @s.tool
    def broken() -> str:
        raise RuntimeError("sensor offline")

    for call_id, name, args in [
        ("a", "slow_double", '{"n": 21}'),
        ("b", "broken", "{}"),
        ("c", "slow_double", '{"n": "many"}'),
        ("d", "missing", "{}"),
    ]:
        started, done = function_call(call_id, name, args)
        frontend.emit(*started, done)
        await asyncio.sleep(0.15)
        frontend.emit(
            server("response.created", response={"id": f"f{call_id}", "output": []}),
            server("response.done", response={"id": f"f{call_id}", "output": []}),
        )
    outputs = {
        e["item"]["call_id"]: json.loads(e["item"]["output"])
        for e in frontend.client_events
        if e["type"] == "conversation.item.create"
    }
    assert outputs["a"] == 42
    assert outputs["b"] == {"error": "RuntimeError: sensor offline"}
    assert "invalid arguments for slow_double" in outputs["c"]["error"]
    assert "no tool named 'missing'" in outputs["d"]["error"]
    assert sent_types(frontend).count("response.create") == 4
    assert "sensor offline" in s.output.outputs[0]["text"]


async def test_busy_server_gets_the_response_request_again() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    s.send_text("hello")
    request = frontend.client_events[-1]
    assert request["type"] == "response.create"
    frontend.emit(
        server(
            "error",
            error={
                "type": "invalid_request_error",
                "code": "conversation_already_has_active_response",
                "message": "busy",
                "event_id": request["event_id"],
            },
        )
    )
    assert sent_types(frontend).count("response.create") == 1
    frontend.emit(server("response.done", response={"id": "r_other", "output": []}))
    assert sent_types(frontend).count("response.create") == 2


def test_update_send_image_interrupt_are_valid_ga_events() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    s.widget.status = "connected"
    s.update(instructions="Stage 2", voice="cedar", turn_detection=None)
    assert frontend.client_events[-1] == {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": "Stage 2",
            "audio": {"input": {"turn_detection": None}, "output": {"voice": "cedar"}},
        },
    }
    assert s.config["audio"]["input"]["transcription"] == {"model": "gpt-transcribe"}
    s.send_image(np.linspace(0, 1, 64).reshape(8, 8), text="What is this?")
    image = frontend.client_events[-2]["item"]["content"][0]
    assert image["image_url"].startswith("data:image/png;base64,iVBOR")
    assert frontend.messages[-2]["event"]["item"]["content"][0]["image_url"] == ""  # sent binary
    frontend.emit(server("response.created", response={"id": "r1", "output": []}))
    s.interrupt()
    assert sent_types(frontend)[-2:] == ["response.cancel", "output_audio_buffer.clear"]
    with pytest.raises(rt.SessionConfigError, match=r"^voice= must be one of"):
        s.update(voice="robot")
    for event in frontend.client_events:
        assert_client_event(event)


def ask(s: rt.RealtimeSession, frontend: ScriptedFrontend, message: dict[str, Any]) -> None:
    """A message from the widget, as its comm delivers it."""
    s._on_frontend_message(s.widget, message, [])


def test_downloads_answer_with_the_sessions_files() -> None:
    s = rt.RealtimeSession(record_audio=True)
    frontend = ScriptedFrontend(s)
    ask(s, frontend, {"kind": "download", "id": "d1", "what": "mic.wav"})
    assert frontend.messages[-1]["kind"] == "file"
    assert frontend.messages[-1]["error"]["message"].startswith("Nothing recorded on the mic")
    s.send_text("Hello there")
    frontend.emit(
        server(
            "conversation.item.added",
            item={
                "id": "u1",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello there"}],
            },
        )
    )
    s.recordings.receive({"kind": "audio", "track": "mic", "t": 1.0}, [b"\x01\x00" * 480])
    for what, mime, check in [
        ("transcript.md", "text/markdown", lambda b: b"Hello there" in b),
        ("transcript.jsonl", "application/jsonl", lambda b: json.loads(b)["text"] == "Hello there"),
        ("events.jsonl", "application/jsonl", lambda b: len(b.splitlines()) == len(s.events)),
        ("mic.wav", "audio/wav", lambda b: b[:4] == b"RIFF" and len(b) == 44 + 960),
    ]:
        ask(s, frontend, {"kind": "download", "id": what, "what": what})
        message, buffers = frontend.messages[-1], frontend.buffers[-1]
        assert message == {"kind": "file", "id": what, "name": message["name"], "mime": mime}
        assert message["name"].endswith(what)
        assert check(buffers[0]), what
    count = len(frontend.messages)
    ask(s, frontend, {"kind": "download", "id": "x", "what": "../etc/passwd"})
    assert len(frontend.messages) == count  # unknown kinds are ignored


def test_settings_form_uses_the_sessions_validator() -> None:
    s = rt.RealtimeSession(voice="marin")
    from rt_notebook.wire.session_config import VOICES

    assert s.widget.voices == list(VOICES)  # what the form offers
    ask(s, ScriptedFrontend(s), {"kind": "configure", "voice": "robot"})
    assert s.widget.error is not None
    assert s.widget.error["code"] == "invalid_settings"
    assert "robot" in s.widget.error["message"]
    assert s.config["audio"]["output"]["voice"] == "marin"  # nothing changed
    ask(
        s,
        ScriptedFrontend(s),
        {
            "kind": "configure",
            "voice": "cedar",
            "instructions": "Be brief.",
            "turn_mode": "push_to_talk",
        },
    )
    assert s.widget.error is None
    assert s.widget.session_config["audio"]["output"]["voice"] == "cedar"
    assert s.widget.session_config["instructions"] == "Be brief."
    assert s.config["audio"]["input"]["turn_detection"] is None
    assert s.widget.push_to_talk is True
    ask(s, ScriptedFrontend(s), {"kind": "configure", "turn_mode": "semantic_vad"})
    assert s.config["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert s.widget.push_to_talk is False


def test_running_cost_muted_and_signaling_path() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    assert s.widget.cost is None
    usage = {
        "input_tokens": 100,
        "output_tokens": 50,
        "total_tokens": 150,
        "input_token_details": {"text_tokens": 100, "audio_tokens": 0},
        "output_token_details": {"text_tokens": 10, "audio_tokens": 40},
    }
    frontend.emit(server("response.done", response={"id": "r1", "output": [], "usage": usage}))
    assert s.widget.cost is not None
    assert s.widget.cost["input_tokens"] == 100
    assert s.widget.cost["output_tokens"] == 50
    assert s.widget.cost["usd"] == pytest.approx(s.cost()["cost_usd"])
    assert s.widget.cost["usd"] > 0
    s.muted = True
    assert s.widget.muted is True
    assert s.muted is True
    assert s.signaling_path == ""
    s.widget.route = "kernel-fallback"
    assert s.signaling_path == "kernel-fallback"


def test_a_bad_config_raises_from_the_users_line_in_the_users_words() -> None:
    import traceback

    with pytest.raises(rt.SessionConfigError) as exc:
        rt.RealtimeSession(voice="robot")
    frames = traceback.extract_tb(exc.value.__traceback__)
    assert len(frames) <= 2  # this test's line and the (IPython-hidden) wrapper, no library
    assert str(exc.value).startswith("voice= must be one of ")
    assert "(got 'robot')" in str(exc.value)
    s = rt.RealtimeSession()
    with pytest.raises(rt.SessionConfigError) as exc:
        s.update(turn_detection="loud")
    assert len(traceback.extract_tb(exc.value.__traceback__)) <= 2
    assert str(exc.value).startswith("turn_detection= ")
    with pytest.raises(rt.SessionConfigError) as exc:  # a GA path the user wrote stays
        rt.RealtimeSession(session={"audio": {"output": {"voice": "robot"}}})
    assert "session.audio.output.voice" in str(exc.value)


def test_a_failed_connect_is_reported_under_the_calling_cell() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    with capture_output() as captured:
        s.connect()  # the scripted frontend connects: nothing to report
        s.widget.status = "closed"
        frontend._connect = lambda: setattr(s.widget, "status", "connecting")  # type: ignore[method-assign]
        s.connect()
        s.widget.status = "error"
        s.widget.error = {"code": "mic_denied", "message": "Microphone access was denied"}
        s.widget.error = {"code": "other", "message": "a later error, not this attempt's"}
    updates = [o.data["text/plain"] for o in captured.outputs if o.update]
    assert updates == ["Could not connect: Microphone access was denied"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["download", "configure"]),
    fields=st.dictionaries(
        st.sampled_from(["id", "what", "voice", "instructions", "turn_mode", "x"]), _JSON
    ),
)
def test_any_settings_or_download_message_is_answered_or_refused_never_raises(
    kind: str, fields: dict[str, Any]
) -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    before = s.config
    ask(s, frontend, {**fields, "kind": kind})  # never raises
    from rt_notebook.wire.session_config import validate_session

    assert validate_session(s.config) == s.config  # still a valid session config
    if kind == "configure" and s.widget.error:
        assert s.config == before  # a refused change changes nothing
        assert s.widget.error["code"] == "invalid_settings"
    for message in frontend.messages:
        assert message["kind"] == "file"
        assert message["id"] == str(fields.get("id", ""))
