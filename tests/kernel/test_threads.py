"""Events folded on another thread (a kernel subshell) while a cell reads the session: no
"changed size during iteration", no half-folded state, nothing lost or reordered."""

from __future__ import annotations

import threading
from typing import Any

import rt_notebook as rt
from rt_notebook.testing import ScriptedFrontend


def message(item_id: str, role: str, part: str, text: str) -> dict[str, Any]:
    content = [{"type": part, "text": text}]
    return {"id": item_id, "type": "message", "role": role, "content": content}


def turn_events(n: int) -> list[dict[str, Any]]:
    """A user text turn and a finished assistant reply with usage."""
    user = message(f"u{n}", "user", "input_text", f"q{n}")
    reply = message(f"a{n}", "assistant", "output_text", f"r{n}")
    usage = {
        "total_tokens": 20,
        "input_tokens": 12,
        "output_tokens": 8,
        "input_token_details": {"text_tokens": 12, "audio_tokens": 0, "cached_tokens": 0},
        "output_token_details": {"text_tokens": 8, "audio_tokens": 0},
    }
    response = {"id": f"resp{n}", "status": "completed", "output": [reply], "usage": usage}
    return [
        {"type": "conversation.item.added", "previous_item_id": None, "item": user},
        {"type": "response.created", "response": {"id": f"resp{n}", "output": []}},
        {"type": "conversation.item.added", "previous_item_id": f"u{n}", "item": reply},
        {"type": "conversation.item.done", "previous_item_id": f"u{n}", "item": reply},
        {"type": "response.done", "response": response},
    ]


def test_a_cell_reading_the_session_while_events_stream_in_on_another_thread() -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    s.connect()
    turns = 300
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            for n in range(turns):
                frontend.emit(*turn_events(n))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    feeder = threading.Thread(target=stream)
    feeder.start()
    reads = during = 0
    while feeder.is_alive() or reads < 5:
        during += feeder.is_alive()
        [t.text for t in s.transcript]  # raised "changed size during iteration" before
        with s.lock:  # one consistent picture: whole events only, between two of them
            done = len(s.events.of("response.done"))
            assert 2 * done <= len(s.transcript) <= 2 * done + 2
        list(s.events)
        s.transcript.to_dicts()
        s.usage()
        reads += 1
    feeder.join()
    assert errors == []
    assert during > 0  # the cell read while the events streamed in
    assert len(s.transcript) == 2 * turns
    assert [t.text for t in s.transcript][:4] == ["q0", "r0", "q1", "r1"]
    seqs = [e.seq for e in s.events]
    assert seqs == sorted(seqs) == list(range(len(s.events)))  # in order, none lost
    assert len(s.events.of("response.done")) == turns
