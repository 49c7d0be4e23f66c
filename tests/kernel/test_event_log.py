"""The event log: bounded memory (older events on disk), lookups by type, the same answers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rt_notebook.wire.events import EventLog


def fill(log: EventLog, kinds: list[str]) -> list[dict[str, Any]]:
    raws = [{"type": kind, "n": i, "text": "é" * (i % 3)} for i, kind in enumerate(kinds)]
    for i, raw in enumerate(raws):
        log.append(raw, 1_700_000_000_000.0 + i, "client" if i % 5 == 0 else "server")
    return raws


KINDS = st.lists(st.sampled_from(["a", "b", "c.d", "response.done"]), max_size=120)


@settings(max_examples=40, deadline=None)
@given(kinds=KINDS, limit=st.integers(min_value=1, max_value=20))
def test_a_bounded_log_reads_as_the_unbounded_one(kinds: list[str], limit: int) -> None:
    bounded, full = EventLog(max_memory_events=limit), EventLog()
    fill(bounded, kinds)
    fill(full, kinds)
    assert len(bounded) == len(full) == len(kinds)
    assert [e.to_dict() for e in bounded] == [e.to_dict() for e in full]
    assert [e.seq for e in bounded] == list(range(len(kinds)))
    for kind in ("a", "response.done", "missing"):
        assert [e.to_dict() for e in bounded.of(kind)] == [e.to_dict() for e in full.of(kind)]
    mixed = bounded.of("a", "c.d")
    assert [e.seq for e in mixed] == [i for i, k in enumerate(kinds) if k in ("a", "c.d")]
    assert bounded.types() == full.types() == kinds
    if kinds:
        assert bounded[0].to_dict() == full[0].to_dict()
        assert bounded[-1].raw == full[-1].raw


def test_memory_stays_bounded_and_older_events_are_on_disk() -> None:
    log = EventLog(max_memory_events=100)
    fill(log, ["x"] * 1000)
    assert len(log._events) < 100 + 100 // 8 + 1
    assert log.spilled == 1000 - len(log._events)
    assert log[5].raw["n"] == 5
    assert log[999].raw["n"] == 999
    with pytest.raises(IndexError):
        log[1000]
    log.clear()
    assert len(log) == 0
    assert log.spilled == 0
    assert list(log) == []


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_memory_events"):
        EventLog(max_memory_events=0)
