"""The widget as a user sees it, in JupyterLab 4 with the local backend: settings before
connecting, the complete transcript (tool rows, interrupted replies, images, times), the status
line (activity, push-to-talk, latency, cost), the inspector, downloads, and accessibility
(axe-core). Screenshots of the states a person checks, in the light and dark themes, go to
``tests/e2e/artifacts/`` (gitignored).

One server, one notebook and one call for the module, in push-to-talk mode (chosen in the
widget's settings), so the fake microphone only speaks while the button is held. The scenario
scripts the local backend's responses in order; the tests run in file order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    Browser,
    NotebookPage,
    axe_violations,
    browser_marks,
    local_calls,
    notebook_page,
    wait_for,
    wait_reply,
)

pytestmark = browser_marks()

SHOTS = Path(__file__).parent / "artifacts"
STORY = (
    "Once upon a time there was a small robot who lived in a lighthouse by the sea, and every "
    "night it counted the ships that passed, one by one, until the morning came."
)
SCENARIO = [
    {"call": "plot_function", "arguments": {"expression": "x**2"}},
    {"say": "Here is the parabola."},
    {"say": STORY},
    {"say": "A nice gradient."},
    {"say": "I heard you."},
]
TOOL = '''
import asyncio

@s.tool
async def plot_function(expression: str) -> str:
    """Plot y = f(x)."""
    await asyncio.sleep(6)  # long enough to look at the running tool
    return f"plotted {expression}"
'''


@pytest.fixture(scope="module")
def ux(e2e_dir: Path, browser: Browser) -> Iterator[NotebookPage]:
    session_args = f"local_scenario={SCENARIO!r}"
    with notebook_page(browser, e2e_dir, "ux", session_args=session_args, extra=TOOL) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        yield page


def theme(page: NotebookPage, dark: bool) -> None:
    name = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.page.evaluate(
        "(name) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: name})",
        name,
    )
    page.page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === String(light)", arg=not dark
    )
    page.page.wait_for_timeout(300)  # the theme's CSS applied


def shoot(page: NotebookPage, name: str) -> None:
    """The widget in both themes: artifacts/<name>-light.png and -dark.png."""
    SHOTS.mkdir(exist_ok=True)
    widget = page.page.locator(".rtnb").first
    for dark in (False, True):
        theme(page, dark)
        widget.screenshot(path=str(SHOTS / f"{name}-{'dark' if dark else 'light'}.png"))
    theme(page, False)


def turn_rows(page: NotebookPage, role: str) -> Any:
    return page.page.locator(f"[data-testid=transcript] .rtnb-turn[data-role={role}]")


def test_settings_before_connecting_are_validated_by_python(ux: NotebookPage) -> None:
    ux.widget("settings").locator("summary").click()
    offered = ux.widget("settings").locator("datalist option")
    voices = ux.query("s.widget.voices")
    assert "marin" in voices
    assert offered.evaluate_all("options => options.map(o => o.value)") == voices
    ux.widget("setting-voice").fill("robot")
    ux.widget("settings-apply").click()
    error = ux.widget("error")
    error.wait_for(state="visible")
    assert "robot" in error.inner_text()
    assert error.get_attribute("data-code") == "invalid_settings"
    assert ux.query("s.config['audio'].get('output', {}).get('voice')") is None  # nothing changed
    shoot(ux, "error")

    ux.widget("setting-voice").fill("cedar")
    ux.widget("setting-instructions").fill("Be brief.")
    ux.widget("setting-turn-mode").select_option("push_to_talk")
    ux.widget("settings-apply").click()
    wait_for(lambda: ux.query("s.widget.push_to_talk") is True, timeout=10, what="push-to-talk")
    config = ux.query("s.config")
    assert config["audio"]["output"]["voice"] == "cedar"
    assert config["instructions"] == "Be brief."
    assert config["audio"]["input"]["turn_detection"] is None
    assert not error.is_visible()
    assert ux.widget("ptt").is_visible()


def test_connected_shows_what_the_session_is_doing_accessibly(ux: NotebookPage) -> None:
    since = ux.events.mark()
    ux.widget("connect").click()
    ux.wait_status("connected")
    ux.events.wait("session.created", since=since)
    assert ux.widget("setting-voice").is_disabled()  # settings are for before connecting
    activity = ux.widget("activity")
    assert activity.inner_text() == "listening"
    assert activity.get_attribute("role") == "status"
    meter = ux.widget("meter-in")
    assert meter.get_attribute("role") == "meter"
    assert meter.get_attribute("aria-valuenow") is not None
    transcript = ux.widget("transcript")
    assert transcript.get_attribute("aria-live") == "polite"
    assert ux.widget("route").is_hidden()
    assert ux.query("s.signaling_path") == "server"
    shoot(ux, "connected")
    assert axe_violations(ux) == []


def test_a_tool_call_is_its_own_row_while_running_and_after(ux: NotebookPage) -> None:
    since = ux.events.mark()
    ux.run('s.send_text("Plot x squared")')
    tool = turn_rows(ux, "tool")
    tool.first.wait_for(timeout=20_000)
    wait_for(
        lambda: ux.widget("activity").inner_text() == "tool running",
        timeout=5,
        what="the activity 'tool running'",
    )
    assert "plot_function" in tool.first.inner_text()
    assert "running…" in tool.first.inner_text()
    shoot(ux, "mid-reply-tool")
    wait_reply(ux, "Here is the parabola.", since)
    text = tool.first.locator(".rtnb-turn-text").inner_text()
    assert text.startswith('plot_function({"expression": "x**2"}) → plotted x**2 (')
    seconds = float(text.rsplit("(", 1)[1].removesuffix(" s)"))
    assert 5.5 <= seconds < 30  # the tool slept 6 s
    assert tool.first.get_attribute("data-final") == "true"
    # each turn has its local time
    clock = turn_rows(ux, "user").first.locator("time").inner_text()
    assert len(clock) == 8
    assert clock[2] == clock[5] == ":"


def test_an_interrupted_reply_is_marked(ux: NotebookPage) -> None:
    since = ux.events.mark()
    ux.run('s.send_text("Tell me a story")')
    ux.events.wait("output_audio_buffer.started", since=since, timeout=20)
    ux.page.wait_for_timeout(1500)
    ux.run("s.interrupt()")
    row = ux.page.locator(
        "[data-testid=transcript] .rtnb-turn[data-role=assistant][data-interrupted=true]"
    )
    row.first.wait_for(timeout=10_000)
    assert "interrupted" in row.first.locator(".rtnb-turn-note").inner_text()
    assert row.first.locator(".rtnb-turn-text").inner_text().startswith("Once upon a time")
    python = ux.query("[t.interrupted for t in s.transcript if t.role == 'assistant']")
    assert python[-1] is True  # the widget and Python agree
    wait_for(
        lambda: ux.widget("activity").inner_text() == "listening",
        timeout=10,
        what="listening after the interruption",
    )
    shoot(ux, "interrupted")


def test_an_image_shows_as_a_thumbnail(ux: NotebookPage) -> None:
    since = ux.events.mark()
    ux.run(
        "s.send_image(np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1)), "
        'text="What is this?")'
    )
    wait_reply(ux, "A nice gradient.", since)
    thumb = ux.page.locator("[data-testid=transcript] .rtnb-user img.rtnb-thumb").last
    thumb.wait_for()
    assert thumb.get_attribute("src").startswith("data:image/png;base64,")
    assert thumb.evaluate("img => img.complete && img.naturalWidth") == 64
    assert thumb.get_attribute("alt")


def test_push_to_talk_shows_talking_then_the_latency_and_cost(ux: NotebookPage) -> None:
    since = ux.events.mark()
    ptt = ux.widget("ptt")
    ptt.hover()
    ux.page.mouse.down()
    wait_for(
        lambda: ux.widget("activity").inner_text() == "talking",
        timeout=5,
        what="the 'talking' state while held",
    )
    assert ptt.get_attribute("aria-pressed") == "true"
    assert ptt.inner_text().startswith("Talking")
    ux.page.wait_for_timeout(2500)
    ux.page.mouse.up()
    assert ptt.get_attribute("aria-pressed") == "false"
    wait_reply(ux, "I heard you.", since)
    latency = ux.widget("latency")
    latency.wait_for()
    ms = int(latency.inner_text().removeprefix("reply in ").removesuffix(" ms"))
    assert 0 < ms < 20_000
    note = turn_rows(ux, "assistant").last.locator(".rtnb-turn-note").inner_text()
    assert note.startswith("replied in ")
    cost = ux.widget("cost")
    wait_for(lambda: cost.is_visible(), timeout=10, what="the running cost")
    python = ux.query("s.cost()")
    tokens = python["input_tokens"] + python["output_tokens"]
    wait_for(
        lambda: cost.inner_text().startswith(f"{tokens:,} tokens · "),
        timeout=10,
        what=f"{tokens} tokens in the widget",
    )
    assert f"${python['cost_usd']:.4f}" in cost.inner_text()


def test_the_inspector_local_time_filter_keyboard_copy_clear(ux: NotebookPage) -> None:
    inspector = ux.widget("inspector")
    inspector.locator("summary").click()
    zone = ux.page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert ux.widget("zone").inner_text() == f"times in {zone}"
    total = int(inspector.locator("summary").inner_text().split("(")[1].rstrip(")"))
    ux.widget("filter").fill("response.done")
    summary = inspector.locator("summary").inner_text()
    shown = ux.page.locator("[data-testid=rows] [data-row]").count()
    assert shown == 5  # one per response of the scenario
    counted, of = summary.removeprefix("Events (").removesuffix(")").split(" of ")
    assert int(counted) == shown  # the count follows the filter
    assert int(of) >= total  # out of every event (more may have come meanwhile)

    first = ux.page.locator("[data-testid=rows] [data-row]").first
    first.focus()
    ux.page.keyboard.press("Enter")
    assert json.loads(ux.widget("json").inner_text())["type"] == "response.done"
    ux.page.keyboard.press("ArrowDown")
    focused = ux.page.evaluate("() => document.activeElement.dataset.row")
    assert focused == "1"
    ux.widget("copy-json").click()
    copied = ux.page.evaluate("() => navigator.clipboard.readText()")
    assert json.loads(copied) == json.loads(ux.widget("json").inner_text())

    ux.widget("filter").fill("")
    ux.widget("clear-events").click()
    wait_for(  # redrawn on the next animation frame
        lambda: inspector.locator("summary").inner_text() == "Events (0)",
        timeout=5,
        what="an empty inspector after Clear",
    )
    assert ux.query("len(s.events)") >= total  # Python keeps its log


def test_downloads_come_from_the_kernels_copy(ux: NotebookPage, tmp_path: Path) -> None:
    ux.widget("downloads").locator("summary").click()
    files: dict[str, bytes] = {}
    for what in ("transcript-md", "events-jsonl", "mic-wav"):
        with ux.page.expect_download() as info:
            ux.widget(f"download-{what}").click()
        path = tmp_path / what
        info.value.save_as(path)
        files[what] = path.read_bytes()
    assert b"Plot x squared" in files["transcript-md"]
    assert b"*(interrupted)*" in files["transcript-md"]
    lines = files["events-jsonl"].decode().splitlines()
    assert len(lines) == ux.query("len(s.events)")
    assert json.loads(lines[0])["event"]["type"]
    assert files["mic-wav"][:4] == b"RIFF"
    assert len(files["mic-wav"]) > 44 + 24000  # the held push-to-talk's second or more


def test_keyboard_reaches_every_control_and_axe_finds_nothing_serious(ux: NotebookPage) -> None:
    for part in ("settings", "downloads"):
        if ux.widget(part).get_attribute("open") is None:
            ux.widget(part).locator("summary").click()
    controls = ux.page.evaluate(
        """() => [...document.querySelector('.rtnb').querySelectorAll(
             'button, select, input, textarea, summary, [role=button]')]
           .filter(el => el.offsetParent !== null && !el.disabled)
           .map(el => el.tabIndex)"""
    )
    assert controls
    assert all(index >= 0 for index in controls)
    # Tab from the first control lands on the next with a visible focus ring
    ux.widget("disconnect").focus()
    ux.page.keyboard.press("Tab")
    outline = ux.page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    assert axe_violations(ux) == []
    theme(ux, True)
    try:
        assert axe_violations(ux) == []
    finally:
        theme(ux, False)


def connect_without_a_microphone(page: NotebookPage) -> None:
    page.widget("connect").click()
    page.wait_status("error")
    error = page.widget("error")
    assert error.get_attribute("data-code") == "mic_unavailable"
    assert "Fix: Pick another microphone" in error.inner_text()
    wait_for(
        lambda: page.query("(s.error or {}).get('code')") == "mic_unavailable",
        timeout=10,
        what="the error in Python",
    )


def test_a_connection_error_shows_with_its_fix(ux: NotebookPage) -> None:
    """A microphone that is not there: the error box says so and how to fix it. Without the
    microphone's permission granted, no call is made before getUserMedia answers; with it, the
    offer goes out first, and the call it made is ended when the microphone fails."""
    ux.widget("disconnect").click()
    ux.wait_status("closed")
    wait_for(lambda: all(local_calls(ux).values()), timeout=10, what="the earlier call to end")
    before = local_calls(ux)
    ux.run('s.widget.mic_device_id = "no-such-microphone"')
    # this module's context grants the clipboard only: the microphone's permission is asked
    query = "async () => (await navigator.permissions.query({name: 'microphone'})).state"
    assert ux.page.evaluate(query) != "granted"
    connect_without_a_microphone(ux)
    assert local_calls(ux) == before  # no call made

    ux.context.grant_permissions(["microphone"])
    connect_without_a_microphone(ux)
    made = [c for c in local_calls(ux) if c not in before]
    assert len(made) == 1, made
    wait_for(lambda: local_calls(ux)[made[0]], timeout=20, what="the call made to end")
    shoot(ux, "error-connect")
    assert axe_violations(ux) == []
    ux.run('s.widget.mic_device_id = ""')
