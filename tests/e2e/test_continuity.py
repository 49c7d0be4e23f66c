"""Session continuity in JupyterLab 4 (extension, local backend): a call never outlives its
control. Scrolling a windowed notebook keeps the call; re-running the creating cell, closing
the session, ``rt.disconnect_all()`` and a kernel restart end it and release the microphone.

One server and one page for the module; each check prints its figure (seconds to hang up).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    Browser,
    JupyterServer,
    NotebookPage,
    ensure_connected,
    local_session,
    missing_tools,
    opened,
    running,
    setup_cell,
    wait_for,
    write_notebook,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(missing_tools()), reason=f"needs {', '.join(missing_tools())}"),
]

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
    args = ['--ServerApp.jpserver_extensions={"rt_notebook": True}']
    with running(JupyterServer("continuity", "lab", e2e_dir / "continuity", args)) as server:
        settings = server.home / "jupyter" / "lab-settings" / "@jupyterlab" / "notebook-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "full"}))
        write_notebook(server.root / "continuity.ipynb", [setup_cell("continuity.jsonl")])
        with opened(NotebookPage(browser, server, "continuity.ipynb", "continuity.jsonl")) as p:
            # long cells below the widget, added once it shows (Run All would scroll to them)
            p.page.evaluate(
                "(source) => window.jupyterapp.shell.currentWidget.content.model.sharedModel"
                ".insertCells(1, Array.from({length: 12}, () => ({cell_type: 'code', source})))",
                FILLER,
            )
            p.run("s.widget.muted = True")
            yield p


def peers(page: NotebookPage) -> int:
    return int(page.page.evaluate("() => (window.__rtnbPeers || []).length"))


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


def test_rerunning_the_creating_cell_ends_the_old_call(lab: NotebookPage) -> None:
    call_id = ensure_connected(lab)
    lab.run("_old = s")
    index = peers(lab) - 1
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
    index = peers(lab) - 1
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
    index = peers(lab) - 1
    started = time.monotonic()
    assert lab.query("rt.disconnect_all()") >= 1
    took = wait_hung_up(lab, call_id, index, started)
    print(f"rt.disconnect_all() -> call ended: {took:.2f} s")
    lab.wait_status("closed")


def test_a_kernel_restart_ends_the_call_and_says_why(lab: NotebookPage) -> None:
    call_id = ensure_connected(lab)
    index = peers(lab) - 1
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
