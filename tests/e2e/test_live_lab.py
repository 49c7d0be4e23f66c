"""GPT-Live in JupyterLab: ``RealtimeSession(model="gpt-live-1")`` runs its call in the widget
through the server extension's JSON exchange with the in-process local backend (no key).

One server, one notebook, one call: typed text answered aloud, a voice turn from the fake
microphone, a ``@s.tool`` run as a Live backend tool (answered once, one follow-up
``response.create``), the transcript in the widget and in Python, usage in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    Browser,
    NotebookPage,
    browser_marks,
    notebook_page,
    set_muted,
    wait_for,
)
from tests.protocol import assert_live_conformant

pytestmark = browser_marks()

SCENARIO = [
    {"say": "Hello from GPT Live."},
    {"call": "add", "arguments": {"a": 2, "b": 3}},
    {"say": "The sum is five."},
]
TOOL_CELL = '''
@s.tool
def add(a: int, b: int) -> int:
    """Add two whole numbers.

    Args:
        a: the first
        b: the second
    """
    _record("tool", name="add", a=a, b=b)
    return a + b
'''


@pytest.fixture(scope="module")
def live_lab(e2e_dir: Path, browser: Browser) -> Iterator[NotebookPage]:
    session_args = f'model="gpt-live-1", local_scenario={SCENARIO!r}'
    with notebook_page(
        browser,
        e2e_dir,
        "live-lab",
        notebook="live",
        session_args=session_args,
        muted=True,
        extra=TOOL_CELL,
    ) as page:
        yield page


def said(page: NotebookPage, since: int) -> str:
    deltas = page.events.events("session.output_transcript.delta", since=since)
    return "".join(e["event"]["delta"] for e in deltas)


def test_a_live_call_in_the_widget(live_lab: NotebookPage) -> None:
    page = live_lab
    assert page.query("[s.protocol, s.widget.protocol]") == ["live", "live"]
    since = page.events.mark()
    page.widget("connect").click()
    page.wait_status("connected")
    started = page.events.wait("session.started", since=since)[0]["event"]
    state = page.query("[s.status, s.widget.backend, s.widget.call_id, s.model]")
    assert state[:2] == ["connected", "local"]
    assert state[2] == started["session"]["id"]
    assert state[2].startswith("live_")
    assert state[3] == "gpt-live-1"
    assert page.widget("banner").is_visible()
    # the tool went to the Responses backend, as a delegation
    tools = started["session"]["delegation"]["responses"]["tools"]
    assert [t["name"] for t in tools] == ["add"]

    # typed text: a commentary append, answered aloud
    page.run('s.send_text("Say hello.")')
    wait_for(lambda: "Hello from GPT Live." in said(page, since), timeout=30, what="the reply")

    # a voice turn from the fake microphone: the model calls the tool on its backend
    mark = page.events.mark()
    set_muted(page, False)
    page.events.wait("session.input_transcript.delta", since=mark, timeout=30)
    page.events.wait("response.event", since=mark, timeout=30)
    wait_for(
        lambda: [r for r in page.events.records()[mark:] if r.get("kind") == "tool"],
        timeout=30,
        what="the add tool to run in the kernel",
    )
    set_muted(page, True)
    wait_for(lambda: "The sum is five." in said(page, mark), timeout=40, what="the follow-up")
    sent = page.events.events(direction="client", since=since)
    outputs = [e for e in sent if e["type"] == "response.item.create"]
    assert [o["event"]["item"]["output"] for o in outputs] == ["5"]
    assert [e["type"] for e in sent].count("response.create") == 1

    # the widget shows the grouped turns; Python has them with their times
    transcript = page.widget("transcript")
    wait_for(lambda: "The sum is five." in transcript.inner_text(), timeout=10, what="widget text")
    assert transcript.locator('[data-role="user"]').count() >= 2
    turns = page.query("[t.to_dict() for t in s.transcript]")
    assert turns[0]["role"] == "user"
    assert turns[0]["text"] == "Say hello."
    spoken = [t for t in turns if t["role"] == "user" and t["modality"] == "audio"]
    assert spoken
    assert all(t["end"] >= t["start"] for t in spoken)
    assert any("five" in t["text"] for t in turns if t["role"] == "assistant")
    assert page.query("[c['name'] for c in s.tool_calls()]") == ["add"]
    latencies = page.query("[[r['trigger'], r['first_output_ms']] for r in s.latencies()]")
    assert latencies[0][0] == "text"
    assert latencies[0][1] > 0  # typed text → the reply's first words, on the browser's clock
    # after speech, on the session's clock (negative: the model started before the user ended)
    assert all(isinstance(ms, float) for _, ms in latencies)

    # usage in seconds, priced per minute
    page.events.wait("session.usage.updated", since=since, timeout=20)
    cost = page.query("s.cost()")
    assert cost["model"] == "gpt-live-1"
    assert cost["seconds"] > 0
    assert cost["cost_usd"] > 0

    page.widget("disconnect").click()
    page.wait_status("closed")
    records = page.events.records()[since:]
    server = [r["event"] for r in records if r.get("kind") == "event" and r["dir"] == "server"]
    client = [r["event"] for r in records if r.get("kind") == "event" and r["dir"] == "client"]
    # Disconnect closed the Live call gracefully: its final usage reached Python
    assert client[-1]["type"] == "session.close"
    closed = [e for e in server if e["type"] == "session.closed"]
    assert closed
    assert closed[0]["reason"] == "close_requested"
    assert page.query("s.cost()['seconds']") == closed[0]["usage"]["seconds"]
    assert assert_live_conformant(server, client, channel="data_channel") > 20


def test_a_lost_live_call_is_replaced_by_one_that_starts_with_the_conversation(
    live_lab: NotebookPage,
) -> None:
    """GPT-Live keeps nothing across calls: the new session's startup ``input`` carries the
    user and assistant turns so far (the local backend starts its history from it)."""
    page = live_lab
    scenario = [{"say": "Noted."}, {"say": "Lost.", "fault": "drop_data_channel"}]
    page.run(f"s.widget.local_options = {{'scenario': {scenario!r}}}")
    try:
        since = page.events.mark()
        page.widget("connect").click()
        page.wait_status("connected")
        first = page.events.wait("session.started", since=since)[0]["event"]["session"]
        assert "input" not in first
        page.run('s.send_text("Remember the number 42.")')
        wait_for(lambda: "Noted." in said(page, since), timeout=30, what="the first reply")
        mark = page.events.mark()
        page.run('s.send_text("Are you there?")')
        back = page.events.wait("rt_notebook.reconnected", since=mark, timeout=30)[0]["event"]
        page.wait_status("connected")
        started = page.events.wait("session.started", since=mark)[0]["event"]["session"]
        assert started["id"] == back["call_id"] != first["id"]
        history = [(i["role"], i["content"][0]["text"]) for i in started["input"]]
        assert history[:3] == [
            ("user", "Remember the number 42."),
            ("assistant", "Noted."),
            ("user", "Are you there?"),
        ]
        # the Python session goes on as one: both calls' turns, once each
        turns = page.query("[(t.role, t.text) for t in s.transcript]")
        assert turns.count(["user", "Remember the number 42."]) == 1
        print(f"live reconnect: new call {started['id']} started with {len(history)} items")
    finally:
        page.run("s.widget.local_options = {}")
        page.widget("disconnect").click()
        page.wait_status("closed")
