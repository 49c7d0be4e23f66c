"""After a reconnect the kernel replays the conversation into the new call, answers every tool
call exactly once, and asks once for the reply the lost call never gave."""

from __future__ import annotations

from typing import Any

import rt_notebook as rt
from rt_notebook.kernel.replay import (
    REPLAY_ID_PREFIX,
    conversation_items,
    replay_events,
    wants_response,
    within_budget,
)
from rt_notebook.testing import ScriptedFrontend
from rt_notebook.wire.events import EventLog
from tests.protocol import assert_client_event

ARGUMENTS = '{"a": 2, "b": 40}'


def server(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": "event_x", **fields}


def assistant_said(item_id: str, text: str) -> dict[str, Any]:
    item = {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_audio", "transcript": text}],
    }
    return server("response.output_item.done", response_id="r", output_index=0, item=item)


def function_call(call_id: str) -> list[dict[str, Any]]:
    item = {
        "id": f"item_{call_id}",
        "type": "function_call",
        "call_id": call_id,
        "name": "add",
        "arguments": ARGUMENTS,
    }
    return [
        server("response.created", response={"id": "resp_t", "output": []}),
        server("response.output_item.done", response_id="resp_t", output_index=0, item=item),
        server(
            "response.function_call_arguments.done",
            response_id="resp_t",
            item_id=item["id"],
            output_index=0,
            call_id=call_id,
            name="add",
            arguments=item["arguments"],
        ),
    ]


def text_item(role: str, text: str) -> dict[str, Any]:
    part = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": part, "text": text}]}


def replays(frontend: ScriptedFrontend) -> list[list[dict[str, Any]]]:
    return [m["events"] for m in frontend.messages if m.get("kind") == "replay"]


def test_the_new_call_gets_the_conversation_and_the_tool_answer_once() -> None:
    s = rt.RealtimeSession()
    ran: list[tuple[int, int]] = []

    @s.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        ran.append((a, b))
        return a + b

    frontend = ScriptedFrontend(s)
    s.connect()
    frontend.emit(server("session.created", session={"id": "sess_1"}))
    s.send_text("Remember the number 42.", respond=False)
    frontend.emit(assistant_said("item_a1", "Noted: 42."))
    frontend.emit(server("input_audio_buffer.committed", item_id="item_u2", previous_item_id=None))
    frontend.emit(
        server(
            "conversation.item.input_audio_transcription.completed",
            item_id="item_u2",
            content_index=0,
            transcript="Add two and forty.",
        )
    )
    frontend.emit(*function_call("call_1"))  # the tool runs and its output goes out
    assert ran == [(2, 40)]
    turns_before = [(t.role, t.text) for t in s.transcript]

    # the call drops before the response that called the tool is done
    frontend.emit(server("rt_notebook.reconnecting", attempt=1, of=3, reason="x", call_id="c1"))
    assert "response.create" not in [e["type"] for e in frontend.client_events]
    frontend.emit(server("session.created", session={"id": "sess_2"}))
    sent_before = len(frontend.client_events)
    frontend.emit(server("rt_notebook.reconnected", call_id="c2", previous_call_id="c1"))

    [replay] = replays(frontend)
    for event in replay:
        assert_client_event(event)
        assert event["item"]["id"].startswith(REPLAY_ID_PREFIX)
        assert len(event["item"]["id"]) <= 32
    items = [{k: v for k, v in e["item"].items() if k != "id"} for e in replay]
    assert items == [
        text_item("user", "Remember the number 42."),
        text_item("assistant", "Noted: 42."),
        text_item("user", "Add two and forty."),
        {"type": "function_call", "call_id": "call_1", "name": "add", "arguments": ARGUMENTS},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    ]
    # the reply the lost call never gave is asked for once, after the replay; the tool did
    # not run again
    after = [e["type"] for e in frontend.client_events[sent_before:]]
    assert after == ["response.create"]
    assert ran == [(2, 40)]
    outputs = [
        e
        for e in frontend.client_events
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert len(outputs) == 1

    # the new call's echoes of replayed items are not new turns
    for event in replay:
        frontend.emit(server("conversation.item.added", previous_item_id=None, item=event["item"]))
    assert [(t.role, t.text) for t in s.transcript] == turns_before

    # a second reconnect replays the same conversation, not the replay again
    frontend.emit(server("rt_notebook.reconnecting", attempt=1, of=3, reason="y", call_id="c2"))
    frontend.emit(server("session.created", session={"id": "sess_3"}))
    frontend.emit(server("rt_notebook.reconnected", call_id="c3", previous_call_id="c2"))
    second = replays(frontend)[1]
    assert [{k: v for k, v in e["item"].items() if k != "id"} for e in second] == items
    assert {e["item"]["id"] for e in second}.isdisjoint(e["item"]["id"] for e in replay)


def test_a_tool_finishing_during_the_gap_is_sent_after_the_replay_with_one_response() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    s.connect()
    frontend.emit(server("session.created", session={"id": "sess_1"}))
    s.send_text("Hi", respond=False)
    frontend.emit(server("rt_notebook.reconnecting", attempt=1, of=3, reason="x", call_id="c1"))
    s.create_response()  # asked for while the call is being replaced: waits
    assert "response.create" not in [e["type"] for e in frontend.client_events]
    frontend.emit(server("rt_notebook.reconnected", call_id="c2", previous_call_id="c1"))
    kinds = [m["kind"] for m in frontend.messages]
    assert kinds[-2:] == ["replay", "send"]
    assert [e["type"] for e in frontend.client_events].count("response.create") == 1


def test_budget_keeps_the_newest_items_and_no_orphan_outputs() -> None:
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x" * 400}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "y" * 40},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "last"}]},
    ]
    assert within_budget(items, 10_000) == items
    assert within_budget(items, 30) == [items[3]]  # the call went, so its output went too
    assert within_budget(items, 0) == []
    assert wants_response(items)
    assert not wants_response([])
    assert replay_events([], iter(range(3))) == []


def test_nothing_to_replay_in_an_empty_or_odd_log() -> None:
    log = EventLog()
    assert conversation_items(log) == []
    log.append({"type": "response.output_item.done", "item": "not an item"}, 0, "server")
    log.append({"type": "conversation.item.create", "item": {"type": "message"}}, 0, "client")
    log.append({"type": "input_audio_buffer.committed", "item_id": "u"}, 0, "server")
    assert conversation_items(log) == []  # an untranscribed audio turn has nothing to replay


async def test_a_headless_session_reconnects_and_replays_the_conversation() -> None:
    async with rt.HeadlessSession(local_scenario=[{"say": "Noted."}]) as s:
        assert await s.ask("Remember the number 42.") == "Noted."
        await s._ws.close()  # the connection is lost (not closed by the user)
        back = await s.wait_for("rt_notebook.reconnected", timeout=15)
        assert back.attempt == 1
        assert s.status == "connected"
        created = [e for e in s.events.of("session.created") if e.direction == "server"]
        assert len(created) == 2
        # the new socket got the conversation, each item once, and nothing was refused
        replayed = [
            e.raw["item"]
            for e in s.events.of("conversation.item.create")
            if str(e.raw["item"].get("id", "")).startswith(REPLAY_ID_PREFIX)
        ]
        assert [(i["role"], i["content"][0]["text"]) for i in replayed] == [
            ("user", "Remember the number 42."),
            ("assistant", "Noted."),
        ]
        assert await s.ask("What was it?") == "Noted."
        assert [e for e in s.events.of("error") if e.direction == "server"] == []
        turns = [(t.role, t.text) for t in s.transcript]
        assert turns.count(("user", "Remember the number 42.")) == 1
        assert s in rt.sessions()
    assert s.status == "closed"
    assert s not in rt.sessions()
