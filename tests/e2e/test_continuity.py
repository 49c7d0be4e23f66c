"""Session continuity in JupyterLab 4 (extension, local backend): a call never outlives its
control. Scrolling a windowed notebook keeps the call; re-running the creating cell, closing
the session, ``rt.disconnect_all()`` and a kernel restart end it and release the microphone.

One server and one page for the module; each check prints its figure (seconds to hang up).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    Browser,
    NotebookPage,
    browser_marks,
    ensure_connected,
    fresh_connection,
    local_session,
    notebook_page,
    wait_for,
    wait_reply,
)

pytestmark = browser_marks()

FULL_WINDOWING = {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "full"}}
FILLER = "\n".join(f"# filler line {i}" for i in range(80))

# The peer of the widget's n-th call, as the page's RTCPeerConnection log has it.
PEER_STATE = """
(index) => {
  const pc = (window.__rtnbPeers || [])[index];
  if (!pc) return null;
  const tracks = pc.getSenders().map((s) => s.track).filter(Boolean);
  return {state: pc.connectionState, mic: tracks.map((t) => t.readyState)};
}
"""


@pytest.fixture(scope="module")
def lab(e2e_dir: Path, browser: Browser) -> Iterator[NotebookPage]:
    """JupyterLab in full windowing mode (cells out of sight are detached); a long notebook."""
    with notebook_page(browser, e2e_dir, "continuity", lab_settings=FULL_WINDOWING) as p:
        # long cells below the widget, added once it shows (Run All would scroll to them)
        p.page.evaluate(
            "(source) => window.jupyterapp.shell.currentWidget.content.model.sharedModel"
            ".insertCells(1, Array.from({length: 12}, () => ({cell_type: 'code', source})))",
            FILLER,
        )
        p.run("s.widget.muted = True")
        yield p


def call_peer(page: NotebookPage) -> int:
    """Index of the current call's peer connection: the newest with an answer (the widget
    keeps a spare one, made ahead of the next call, with none)."""
    script = "() => (window.__rtnbPeers || []).findLastIndex((p) => p.remoteDescription)"
    return int(page.page.evaluate(script))


def wait_hung_up(page: NotebookPage, call_id: str, peer_index: int, started: float) -> float:
    """Seconds from ``started`` until the backend saw the call end and the mic was released."""
    wait_for(lambda: local_session(page, call_id)["closed"], timeout=15, what=f"{call_id} to end")
    took = time.monotonic() - started
    state = page.page.evaluate(PEER_STATE, peer_index)
    assert state["state"] == "closed", state
    assert state["mic"], state
    assert all(s == "ended" for s in state["mic"]), state
    return took


def scroll_to(page: NotebookPage, index: int) -> None:
    page.page.evaluate(
        "(i) => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " nb.activeCellIndex = i; return nb.scrollToItem(i, 'start'); }",
        index,
    )


def rerun_first_cell(page: NotebookPage) -> None:
    scroll_to(page, 0)
    page.page.evaluate(
        "() => { const app = window.jupyterapp;"
        " app.shell.currentWidget.content.activeCellIndex = 0;"
        " return app.commands.execute('notebook:run-cell'); }"
    )


def test_scrolling_the_widget_out_of_a_windowed_notebook_keeps_the_call(lab: NotebookPage) -> None:
    call_id = ensure_connected(lab)
    scroll_to(lab, 12)
    wait_for(
        lambda: lab.page.evaluate(
            "() => !window.jupyterapp.shell.currentWidget.content.widgets[0].isAttached"
        ),
        timeout=10,
        what="windowing to detach the widget's cell",
    )
    lab.page.wait_for_timeout(4000)  # twice the grace a removed view gets
    assert lab.query("[s.status, s.widget.call_id]") == ["connected", call_id]
    assert not local_session(lab, call_id)["closed"]
    scroll_to(lab, 0)
    lab.wait_status("connected")


TOOL_CELL = """
_ran = []
@s.tool
def add(a: int, b: int) -> int:
    "Add two numbers."
    _ran.append((a, b))
    return a + b
"""

# After a fault the new call starts its scenario again: its first step answers the replay.
DROP = [
    {"say": "Noted."},
    {"call": "add", "arguments": {"a": 2, "b": 40}},
    {"say": "Lost.", "fault": "drop_data_channel"},
]
CLOSE = [{"say": "Hello."}, {"say": "Lost.", "fault": "close_peer"}]


def records_after(page: NotebookPage, t: float, kind: str) -> list[dict[str, Any]]:
    return [r for r in page.events.events(kind) if float(r["t"]) >= t]


def reconnect_after_fault(page: NotebookPage, scenario: list[Any], texts: list[str]) -> float:
    """Send ``texts`` (the last one meets the fault); the seconds from the loss (as the kernel
    heard of it) to the new call's session. Checks the new call took the replayed history."""
    page.run(f"s.widget.local_options = {{'scenario': {scenario!r}}}")
    first = fresh_connection(page)
    since = page.events.mark()
    for text in texts[:-1]:
        page.run(f"s.send_text({text!r})")
        wait_reply(page, str(scenario[0]["say"]), since)
    page.run(f"s.send_text({texts[-1]!r})")
    lost = page.events.wait("rt_notebook.reconnecting", since=since, timeout=30)[0]
    back = page.events.wait("rt_notebook.reconnected", since=since, timeout=30)[0]
    assert back["event"]["previous_call_id"] == first
    assert back["event"]["call_id"] not in ("", first)
    wait_for(
        lambda: records_after(page, back["t"], "response.output_audio_transcript.done"),
        timeout=20,
        what="the new call's reply",
    )
    assert page.query("[s.status, s.widget.call_id]") == ["connected", back["event"]["call_id"]]
    # the new call took every replayed item (echoed it) and refused none
    replayed = [
        r["event"]["item"]["id"]
        for r in page.events.events("conversation.item.create", direction="client")
        if float(r["t"]) >= back["t"]
        and str(r["event"]["item"].get("id", "")).startswith("rtnb_replay_")
    ]
    added = records_after(page, back["t"], "conversation.item.added")
    assert replayed
    assert set(replayed) <= {r["event"]["item"]["id"] for r in added}
    assert records_after(page, lost["t"], "error") == []
    assert "reconnected at" in page.widget("continued").inner_text()  # the widget says so
    return float(back["t"]) - float(lost["t"])


def test_a_dropped_data_channel_reconnects_keeping_history_and_one_tool_answer(
    lab: NotebookPage,
) -> None:
    lab.run(TOOL_CELL)
    took = reconnect_after_fault(lab, DROP, ["Remember the number 42.", "Add 2 and 40."])
    print(f"drop_data_channel -> reconnected: {took:.2f} s")
    assert took < 8
    assert lab.query("_ran") == [[2, 40]]  # the tool ran once
    outputs = lab.query(
        "[(e.raw['item'].get('id', ''), e.raw['item']['output']) for e in s.events"
        " if e.direction == 'client' and e.type == 'conversation.item.create'"
        " and e.raw['item']['type'] == 'function_call_output']"
    )
    # answered once in the lost call, and given once to the new call as its history
    assert [output for _, output in outputs] == ["42", "42"]
    assert not outputs[0][0]
    assert outputs[1][0].startswith("rtnb_replay_")
    turns = lab.query("[(t.role, t.text) for t in s.transcript]")
    assert turns.count(["user", "Remember the number 42."]) == 1  # no turn lost, none doubled
    assert turns.count(["user", "Add 2 and 40."]) == 1
    assert turns.count(["assistant", "Noted."]) == 2  # before, and the new call's answer


def test_a_closed_peer_reconnects_keeping_history(lab: NotebookPage) -> None:
    took = reconnect_after_fault(lab, CLOSE, ["One.", "Two."])
    print(f"close_peer -> reconnected: {took:.2f} s")
    assert took < 8
    turns = lab.query("[(t.role, t.text) for t in s.transcript]")
    assert turns.count(["user", "One."]) == 1
    assert turns.count(["user", "Two."]) == 1


SUBSHELL_CELL = """
import threading
s.events_during_cells = True

@s.tool(main_thread=True)
def later() -> str:
    "Runs on the kernel's main thread."
    _ran.append(("later", threading.current_thread().name, time.time()))
    return "done"

@s.on("response.function_call_arguments.done")
def _where(event):
    print(f"handled on {threading.current_thread().name}")
"""

SUBSHELL_OFF = "s.events_during_cells = False; s.off('response.function_call_arguments.done')"


@pytest.mark.parametrize("during_cells", [False, True], ids=["main-shell", "subshell"])
def test_a_busy_kernel_loses_nothing_and_answers_the_tool_once(
    lab: NotebookPage, during_cells: bool
) -> None:
    """A 10 s cell while the call goes on. By default (``events_during_cells`` off) events
    wait for it; opted in, they are handled during it on the widgets' subshell, a handler's
    print lands under the widget, and a ``main_thread`` tool runs once the cell is over."""
    # the calls come 2 s into their responses: while the cell runs
    scenario: list[dict[str, Any]] = [{"call": "add", "arguments": {"a": 1, "b": 2}, "delay": 2}]
    if during_cells:
        scenario.append({"call": "later", "arguments": {}, "delay": 2})
    scenario.append({"say": "Three."})
    lab.run(TOOL_CELL)
    if during_cells:
        lab.run(SUBSHELL_CELL)
    try:
        busy_kernel(lab, scenario, during_cells)
    finally:
        lab.run(SUBSHELL_OFF)


def busy_kernel(lab: NotebookPage, scenario: list[dict[str, Any]], during_cells: bool) -> None:
    lab.run(f"s.widget.local_options = {{'scenario': {scenario!r}}}")
    call_id = fresh_connection(lab)
    ran_before = len(lab.query("_ran"))
    since = lab.events.mark()
    started = time.time()
    busy_out = lab.run('s.send_text("Add one and two."); time.sleep(10)')  # busy 10 s
    freed = time.time()
    wait_reply(lab, "Three.", since)
    during = [r for r in lab.events.records()[since:] if started + 0.5 < r["t"] < freed - 0.5]
    print(
        "kernel supports subshells, comms over subshells:",
        lab.page.evaluate(
            "() => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;"
            " return [k.supportsSubshells, window.jupyterapp.serviceManager.kernels"
            ".commsOverSubshells]; }"
        ),
    )
    print(
        f"busy kernel, events_during_cells={during_cells}:"
        f" {len(during)} events handled during the 10 s cell"
    )
    ran = lab.query("_ran")[ran_before:]
    if during_cells:
        assert lab.query("s.events_during_cells") is True
        assert len(during) > 0  # handled while the cell slept
        assert ran[0] == [1, 2]  # the tool ran once (on the subshell, while the cell slept)
        assert [entry[:2] for entry in ran[1:]] == [["later", "MainThread"]]  # once, after it
        assert ran[1][2] >= freed - 0.5
        assert "handled on" not in busy_out  # not in the busy cell's output …
        scroll_to(lab, 0)
        wait_for(  # … under the widget
            lambda: "handled on subshell" in lab.page.locator(".widget-output").first.inner_text(),
            timeout=10,
            what="the handler's print under the widget",
        )
    else:
        assert ran == [[1, 2]]  # the tool ran once
        # 0: ipykernel routes the widget's messages to the main shell, where the cell that sent
        # on the comm (s.send_text) runs (README, "When things go wrong")
        assert during == []
    # every event of the call reached Python, in the order it happened (the reply's last
    # events may still be on their way: wait until the backend has sent nothing more)
    deadline = time.time() + 15
    while True:
        state = lab.query(
            "[[e.seq, e.time, e.direction] for e in s.events"
            " if e.seq >= [x.seq for x in s.events.of('session.created')][-1]]"
        )
        sent = local_session(lab, call_id)["server_events"]
        got = sum(1 for _, _, d in state if d == "server")
        if got == sent or time.time() > deadline:
            break
        time.sleep(0.5)
    assert [seq for seq, _, _ in state] == list(range(state[0][0], state[0][0] + len(state)))
    # the server's events in the order the browser received them (the kernel's own client
    # events carry the time it sent them: after the busy cell, between the batch's events)
    times = [t for _, t, d in state if d == "server"]
    assert times == sorted(times)
    assert got == sent, f"the backend sent {sent} events, the kernel has {got}"
    outputs = lab.query(
        "[e.raw['item']['call_id'] for e in s.events"
        " if e.direction == 'client' and e.type == 'conversation.item.create'"
        f" and e.raw['item']['type'] == 'function_call_output' and e.seq >= {state[0][0]}]"
    )
    assert len(outputs) == len(set(outputs)) == len(scenario) - 1  # each call answered once


def test_a_session_rolls_over_before_it_expires(lab: NotebookPage) -> None:
    """Through the kernel relay's local backend, whose sessions last 12 s."""
    lab.run(
        "from rt_notebook.kernel.relay import local_backend\n"
        "local_backend().options.session_seconds = 12\n"
        "s.widget.signaling = 'kernel'"
    )
    try:
        lab.run(f"s.widget.local_options = {{'scenario': {[{'say': 'Noted.'}]!r}}}")
        first = fresh_connection(lab)
        since = lab.events.mark()
        lab.run('s.send_text("Remember seven.")')
        wait_reply(lab, "Noted.", since)
        back = lab.events.wait("rt_notebook.reconnected", since=since, timeout=20)[0]
        lost = lab.events.wait("rt_notebook.reconnecting", since=since)[0]
        assert back["event"]["rollover"] is True
        assert back["event"]["previous_call_id"] == first
        # make-before-break: the old call was hung up only after the new one's session started
        assert lost["event"]["make_before_break"] is True
        opened, closed = back["event"]["opened_at"], back["event"]["previous_closed_at"]
        assert closed >= opened, f"no call open for {opened - closed} ms"
        print(
            f"rollover at {12 - 0.2 * 12:.1f} s of 12: new call in {back['t'] - lost['t']:.2f} s,"
            f" old call hung up {closed - opened:.0f} ms after the new one opened"
        )
        # before the old session expired: no session_expired error reached the kernel
        assert lab.events.events("error", since=since) == []
        turns = lab.query("[(t.role, t.text) for t in s.transcript]")
        assert turns.count(["user", "Remember seven."]) == 1
        assert lab.query("[s.status, s.widget.call_id]") == ["connected", back["event"]["call_id"]]
        assert "rolled over to a new call" in lab.widget("continued").inner_text()
        assert lab.query("local_backend().sessions[" + repr(first) + "].record.closed") is True
    finally:
        lab.run("local_backend().options.session_seconds = 3600\ns.widget.signaling = 'auto'")
        lab.widget("disconnect").click()
        lab.wait_status("closed")


def test_injected_errors_and_a_slow_answer_during_the_reconnect(lab: NotebookPage) -> None:
    """Kernel relay: its local backend answers SDP offers 1.5 s late; an error event does not
    end the call; the drop after it is recovered, slow answer and all."""
    lab.run(
        "from rt_notebook.kernel.relay import local_backend\n"
        "local_backend().options.answer_delay = 1.5\n"
        "s.widget.signaling = 'kernel'"
    )
    error = {"type": "server_error", "code": "boom", "message": "Injected"}
    scenario = [{"say": "Noted.", "error": error}, {"say": "Lost.", "fault": "drop_data_channel"}]
    try:
        lab.run(f"s.widget.local_options = {{'scenario': {scenario!r}}}")
        fresh_connection(lab)
        since = lab.events.mark()
        lab.run('s.send_text("First.")')
        wait_reply(lab, "Noted.", since)
        assert [e["event"]["error"]["code"] for e in lab.events.events("error", since=since)] == [
            "boom"
        ]
        assert lab.events.events("rt_notebook.reconnecting", since=since) == []  # no new call
        lab.run('s.send_text("Second.")')
        lost = lab.events.wait("rt_notebook.reconnecting", since=since, timeout=20)[0]
        back = lab.events.wait("rt_notebook.reconnected", since=since, timeout=20)[0]
        took = back["t"] - lost["t"]
        print(f"drop with a 1.5 s SDP answer -> reconnected: {took:.2f} s")
        assert 1.5 <= took < 10
        wait_for(
            lambda: records_after(lab, back["t"], "response.output_audio_transcript.done"),
            timeout=20,
            what="the new call's reply",
        )
        turns = lab.query("[(t.role, t.text) for t in s.transcript]")
        assert turns.count(["user", "First."]) == 1
        assert turns.count(["user", "Second."]) == 1
    finally:
        lab.run("local_backend().options.answer_delay = 0.0\ns.widget.signaling = 'auto'")
        lab.widget("disconnect").click()
        lab.wait_status("closed")


def test_rerunning_the_creating_cell_ends_the_old_call(lab: NotebookPage) -> None:
    call_id = ensure_connected(lab)
    lab.run("_old = s")
    index = call_peer(lab)
    started = time.monotonic()
    rerun_first_cell(lab)
    took = wait_hung_up(lab, call_id, index, started)
    print(f"re-run cell -> old call ended, mic released: {took:.2f} s")
    assert took < 8
    wait_for(
        lambda: lab.query("[_old.status, (_old.error or {}).get('code')]") == ["closed", "no_view"],
        timeout=5,
        what="the old session closed because its view went",
    )
    lab.wait_status("idle")  # the new widget
    live = lab.query("[id(x) for x in rt.sessions()]")
    assert lab.query("id(s)") in live


def test_close_and_disconnect_all_end_calls_and_free_the_session(lab: NotebookPage) -> None:
    call_id = ensure_connected(lab)
    index = call_peer(lab)
    started = time.monotonic()
    lab.run("n_before = len(rt.sessions()); s.close()")
    took = wait_hung_up(lab, call_id, index, started)
    print(f"session.close() -> call ended, mic released: {took:.2f} s")
    assert lab.query("[x is s for x in rt.sessions()]").count(True) == 0
    assert lab.query("len(rt.sessions()) == n_before - 1")
    wait_for(
        lambda: lab.page.locator("[data-testid=status]").count() == 0,
        timeout=5,
        what="the closed widget to leave the page",
    )

    rerun_first_cell(lab)
    lab.widget("connect").wait_for(state="visible")
    call_id = ensure_connected(lab)
    index = call_peer(lab)
    started = time.monotonic()
    assert lab.query("rt.disconnect_all()") >= 1
    took = wait_hung_up(lab, call_id, index, started)
    print(f"rt.disconnect_all() -> call ended: {took:.2f} s")
    lab.wait_status("closed")


def test_a_kernel_restart_ends_the_call_and_says_why(lab: NotebookPage) -> None:
    call_id = ensure_connected(lab)
    index = call_peer(lab)
    started = time.monotonic()
    lab.page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"
    )
    took = wait_hung_up(lab, call_id, index, started)
    print(f"kernel restart -> call ended, mic released: {took:.2f} s")
    lab.wait_status("closed")
    error = lab.widget("error")
    assert error.get_attribute("data-code") == "kernel_restarted"
    assert "kernel restarted" in error.inner_text()
