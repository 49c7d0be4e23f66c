"""The shipped notebooks, run in JupyterLab against the local backend with their own scripts.

A silent microphone (getUserMedia answered with a silent stream) keeps spoken turns out of
it, so each notebook's `local_scenario` plays exactly as written; the checks read the kernel's
state and the rendered outputs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    Browser,
    JupyterServer,
    browser_marks,
    extension_server,
    opened,
    running,
    wait_for,
)
from tests.e2e.harness import NotebookPage as _Page

pytestmark = browser_marks()

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


SILENT_MIC = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  devices.getUserMedia = async () => {
    const ctx = new AudioContext();
    const sink = ctx.createMediaStreamDestination();
    const source = ctx.createOscillator();
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(mute).connect(sink);
    source.start();
    return sink.stream;
  };
})();
"""


class NotebookPage(_Page):
    """A notebook with no test log and a silent microphone: runs all cells, waits."""

    def __init__(self, browser: Browser, server: JupyterServer, notebook: str) -> None:
        super().__init__(browser, server, notebook, f"{notebook}.unused.jsonl")
        self.context.add_init_script(SILENT_MIC)

    def ready(self, timeout: float = 90.0) -> NotebookPage:
        """Every cell running and the widget shown (these notebooks have no setup cell)."""
        self.run_all_cells(timeout)
        self.widget("status").wait_for(state="visible", timeout=timeout * 1000)
        return self

    def value(self, expression: str) -> Any:
        self.run("import json")
        return self.query(expression)


@pytest.fixture(scope="module")
def server(e2e_dir: Path) -> Iterator[JupyterServer]:
    with running(extension_server(e2e_dir / "notebooks")) as lab:
        for notebook in NOTEBOOKS.glob("0[1245]_*.ipynb"):
            shutil.copy(notebook, lab.root / notebook.name)
        yield lab


def test_quickstart(browser: Browser, server: JupyterServer) -> None:
    with opened(NotebookPage(browser, server, "01_quickstart.ipynb")) as page:
        page.wait_status("connected")
        wait_for(
            lambda: page.value("len(s.events.of('response.done'))") >= 1,
            timeout=30,
            what="the reply to the typed greeting",
        )
        turns = page.value("[(t.role, t.text) for t in s.transcript]")
        assert turns[0] == ["user", "Hello! What can you do?"]
        assert turns[1] == ["assistant", 'You said: "Hello! What can you do?".']
        page.page.get_by_text('assistant: You said: "Hello! What can you do?".').first.wait_for()
        assert page.value("s.config['tools'][0]['name']") == "current_time"


def test_tools_and_plots(browser: Browser, server: JupyterServer) -> None:
    with opened(NotebookPage(browser, server, "02_tools_and_plots.ipynb")) as page:
        wait_for(
            lambda: page.value("len(s.events.of('response.done'))") >= 2,
            timeout=40,
            what="the tool call and the reply after it",
        )
        calls = page.value("[(c['name'], c['output']) for c in s.tool_calls()]")
        assert calls[0][0] == "plot_function"
        assert calls[0][1].startswith("plotted y = x**2 for x in [-3.0, 3.0]")
        assert page.value("s.transcript[-1].text") == (
            "Here is the parabola y equals x squared. It is lowest at the origin."
        )
        images = page.value(
            "[e.raw['item']['content'][0]['image_url'][:22] for e in s.events"
            " if e.type == 'conversation.item.create' and e.direction == 'client'"
            " and e.raw['item'].get('content', [{}])[0].get('type') == 'input_image']"
        )
        assert images == ["data:image/png;base64,"]  # the model was shown the plot
        page.page.locator(".jp-OutputArea-output img").first.wait_for(timeout=15_000)


def test_teaching_in_stages(browser: Browser, server: JupyterServer) -> None:
    with opened(NotebookPage(browser, server, "04_teaching_demo.ipynb")) as page:
        wait_for(
            lambda: page.value("len(s.events.of('response.done'))") >= 3,
            timeout=40,
            what="three responses (greeting, stage change, next question)",
        )
        assert page.value("stage") == 1
        instructions = page.value(
            "[e.session['instructions'][:7] for e in s.events.of('session.updated')]"
        )
        assert instructions[-1] == "Stage 2"
        assert page.value("s.transcript[-1].text") == (
            "Great. Now, what is one half plus one quarter?"
        )
        page.page.get_by_text("now: Stage 2").first.wait_for(timeout=15_000)


def test_gpt_live(browser: Browser, server: JupyterServer) -> None:
    with opened(NotebookPage(browser, server, "05_gpt_live.ipynb")) as page:
        page.wait_status("connected")
        assert page.value("[s.protocol, s.model]") == ["live", "gpt-live-1"]
        wait_for(
            lambda: page.value("[c['output'] for c in s.tool_calls()]") == ["68.0"],
            timeout=40,
            what="the backend tool call answered from the kernel",
        )
        wait_for(
            lambda: "sixty-eight" in page.value("' '.join(t.text for t in s.transcript)"),
            timeout=40,
            what="the follow-up spoken after the tool output",
        )
        sent = page.value("[e.type for e in s.events if e.direction == 'client']")
        assert sent.count("response.create") == 1
        assert sent[0] == "session.commentary.append"
        page.page.get_by_text("Hi from a headless Live session.").first.wait_for(timeout=15_000)
        page.page.get_by_text("is not available in a GPT-Live session").first.wait_for()
