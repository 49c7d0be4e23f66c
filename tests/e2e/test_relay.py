"""JupyterLab with the rt_notebook server extension disabled: the widget's ``signaling="auto"``
finds no ``api/rt-notebook/status`` and relays the offer through the kernel, whose own local
backend answers (the kernel has no key either)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    Browser,
    NotebookPage,
    browser_marks,
    notebook_page,
    wait_reply,
)

pytestmark = browser_marks()


@pytest.fixture(scope="module")
def relay(e2e_dir: Path, browser: Browser) -> Iterator[NotebookPage]:
    with notebook_page(browser, e2e_dir, "relay", extension=False, muted=True) as page:
        yield page


def test_the_widget_falls_back_to_the_kernel_relay(relay: NotebookPage) -> None:
    status, _ = relay.server.get("api/rt-notebook/status")
    assert status == 404  # the extension is off on this server

    since = relay.events.mark()
    relay.widget("connect").click()
    relay.wait_status("connected")
    relay.events.wait("session.created", since=since)
    assert relay.widget("banner").is_visible()
    state = relay.query(
        "{'backend': s.widget.backend, 'call_id': s.widget.call_id, 'relay': s._relay is not None}"
    )
    assert (state["backend"], state["relay"]) == ("local", True)
    assert state["call_id"].startswith("rtc_")
    # the widget says why the kernel carries the setup and what to install; Python knows too
    notice = relay.widget("route")
    assert notice.is_visible()
    assert "server extension is not enabled" in notice.inner_text()
    assert "pip install rt_notebook" in notice.inner_text()
    assert relay.query("s.signaling_path") == "kernel-fallback"

    relay.run('s.send_text("Through the kernel")')
    wait_reply(relay, 'You said: "Through the kernel"', since)

    # hang up and call again through the same relay: a new call
    relay.widget("disconnect").click()
    relay.wait_status("closed")
    since = relay.events.mark()
    relay.widget("connect").click()
    relay.wait_status("connected")
    relay.events.wait("session.created", since=since)
    second = relay.query("s.widget.call_id")
    assert second.startswith("rtc_")
    assert second != state["call_id"]
