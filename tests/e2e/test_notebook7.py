"""Notebook 7 with the rt_notebook extension and a scenario file for the local backend:
connect, a text turn, and a scripted tool call that runs a ``@s.tool`` in the kernel.

The scenario starts over with every call, so each test makes a fresh one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    Browser,
    NotebookPage,
    axe_violations,
    browser_marks,
    fresh_connection,
    notebook_page,
    wait_for,
    wait_reply,
)

pytestmark = browser_marks()

TOOL_CELL = '''
@s.tool
def plot_function(expression: str, x_max: float = 5.0) -> str:
    """Plot y = f(x) from 0 to x_max.

    Args:
        expression: a Python expression in x
        x_max: the right end of the range
    """
    _record("tool", name="plot_function", expression=expression, x_max=x_max)
    return f"plotted {expression} up to {x_max}"
'''
SCENARIO = [
    {"say": "Hello from the scripted scenario."},
    {"call": "plot_function", "arguments": {"expression": "x**2", "x_max": 3}},
    {"say": "Here is the parabola you asked for."},
]


@pytest.fixture(scope="module")
def notebook7(e2e_dir: Path, browser: Browser) -> Iterator[NotebookPage]:
    """Notebook 7 with the extension and a scenario; a muted session with one tool."""
    base = e2e_dir / "notebook"
    base.mkdir()
    scenario = base / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    with notebook_page(
        browser,
        e2e_dir,
        "notebook",
        notebook="nb7",
        app="notebook",
        server_args=[f"--RealtimeExtension.local_scenario={scenario}"],
        muted=True,
        extra=TOOL_CELL,
    ) as page:
        yield page


def test_connect_from_python_and_a_text_turn(notebook7: NotebookPage) -> None:
    if notebook7.status() in ("connecting", "connected", "interrupted"):
        notebook7.widget("disconnect").click()
        notebook7.wait_status("closed")
    since = notebook7.events.mark()
    notebook7.run("s.connect()")  # the kernel's connect message, not the button
    notebook7.wait_status("connected")
    notebook7.events.wait("session.created", since=since)
    assert notebook7.widget("banner").is_visible()
    assert notebook7.query("[s.status, s.widget.backend]") == ["connected", "local"]

    notebook7.run('s.send_text("Hello from Notebook 7")')
    reply = wait_reply(notebook7, "Hello from the scripted scenario", since)
    turns = notebook7.query("[[t.role, t.text] for t in s.transcript]")
    assert ["user", "Hello from Notebook 7"] in turns
    assert ["assistant", reply] in turns


def test_scripted_tool_call_runs_in_the_kernel_and_the_reply_follows(
    notebook7: NotebookPage,
) -> None:
    fresh_connection(notebook7)  # the scenario starts over with each call
    since = notebook7.events.mark()
    notebook7.run('s.send_text("Hi")')
    wait_reply(notebook7, "Hello from the scripted scenario", since)

    notebook7.run('s.send_text("Plot x squared up to three")')
    calls = wait_for(
        lambda: [r for r in notebook7.events.records()[since:] if r["kind"] == "tool"],
        timeout=30,
        what="the tool to run in the kernel",
    )
    assert (calls[0]["expression"], calls[0]["x_max"]) == ("x**2", 3)
    outputs = wait_for(
        lambda: [
            e["event"]["item"]
            for e in notebook7.events.events(
                "conversation.item.create", since=since, direction="client"
            )
            if e["event"]["item"]["type"] == "function_call_output"
        ],
        timeout=10,
        what="the tool's output sent back",
    )
    assert outputs[0]["output"] == "plotted x**2 up to 3.0"
    wait_reply(notebook7, "Here is the parabola you asked for.", since)
    texts = notebook7.query("[t.text for t in s.transcript]")
    assert texts[-1] == "Here is the parabola you asked for."
    # the widget shows the call as its own row, and passes axe-core in Notebook 7 too
    tool = notebook7.page.locator("[data-testid=transcript] .rtnb-turn[data-role=tool]").last
    text = tool.locator(".rtnb-turn-text").inner_text()
    assert text.startswith("plot_function(")
    assert " → plotted x**2 up to 3.0 (" in text  # the output, then its duration
    assert axe_violations(notebook7) == []
