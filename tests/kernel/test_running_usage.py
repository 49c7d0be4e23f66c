"""A live session's usage and cost, kept as it goes, equal a full scan of its event log."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import rt_notebook as rt
from rt_notebook.analysis.recorded import RecordedSession
from rt_notebook.testing import ScriptedFrontend

from .test_session_api import server

COUNTS = st.integers(min_value=0, max_value=5000)


def done(i: int, text_in: int, audio_in: int, text_out: int, audio_out: int) -> dict[str, Any]:
    usage = {
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "cached_tokens": audio_in // 2,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": audio_in // 2},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }
    return server("response.done", response={"id": f"r{i}", "output": [], "usage": usage})


@settings(max_examples=25, deadline=None)
@given(
    responses=st.lists(st.tuples(COUNTS, COUNTS, COUNTS, COUNTS), max_size=12),
    model=st.sampled_from(["gpt-realtime", "gpt-realtime-mini"]),
    ask_between=st.booleans(),
)
def test_running_usage_equals_a_full_scan(
    responses: list[tuple[int, int, int, int]], model: str, ask_between: bool
) -> None:
    s = rt.RealtimeSession(budget_usd=1e9)
    frontend = ScriptedFrontend(s)
    frontend.emit(server("session.created", session={"model": model}))
    for i, counts in enumerate(responses):
        frontend.emit(server("response.created", response={"id": f"r{i}", "output": []}))
        frontend.emit(done(i, *counts))
        if ask_between:
            s.cost()  # the running state must not depend on when it is read
    scanned = RecordedSession(s.events)
    assert s.model == scanned.model == model
    assert s.usage() == scanned.usage()
    assert s.cost() == scanned.cost()
