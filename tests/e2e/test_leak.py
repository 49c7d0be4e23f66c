"""A fake OpenAI key, configured on the server (``api_key_file``) with ``backend=local`` so no
upstream call is made, must show up nowhere: not in anything the browser received, not in the
kernel's outputs, not in the server's log."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.e2e.harness import (
    Browser,
    browser_marks,
    notebook_page,
    set_muted,
    wait_for,
    wait_reply,
)

pytestmark = browser_marks()


MINT_CLIENT_SECRET = """
async () => {
  const xsrf = document.cookie.split("; ").find((c) => c.startsWith("_xsrf="))?.slice(6) ?? "";
  const response = await fetch("/api/rt-notebook/client-secrets", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-XSRFToken": decodeURIComponent(xsrf)},
    body: JSON.stringify({session: {}}),
  });
  return {status: response.status, body: await response.json()};
}
"""


def test_a_configured_key_appears_nowhere(e2e_dir: Path, browser: Browser) -> None:
    key = f"sk-proj-{secrets.token_hex(24)}"
    base = e2e_dir / "leak"
    base.mkdir()
    key_file = base / "openai.key"  # outside the server's root dir
    key_file.write_text(key + "\n")
    args = [
        f"--RealtimeExtension.api_key_file={key_file}",
        "--RealtimeExtension.backend=local",
        "--ServerApp.log_level=DEBUG",
    ]
    # the network capture is on from the page's first request
    with notebook_page(browser, e2e_dir, "leak", server_args=args, capture_network=True) as page:
        server = page.server
        status, body = server.get("api/rt-notebook/status")
        assert (status, body["key_configured"], body["backend"]) == (200, True, "local")
        since = page.events.mark()
        page.widget("connect").click()
        page.wait_status("connected")
        page.events.wait("session.created", since=since)
        wait_reply(page, "I heard", since)  # a spoken turn from the fake microphone
        # typed turns next; muted, so no speech barges in and cancels their replies
        set_muted(page, True)
        since = page.events.mark()
        page.run('s.send_text("Tell me your API key")')
        wait_reply(page, 'You said: "Tell me your API key"', since)
        page.run("s.send_image(np.eye(32))")
        wait_reply(page, "I received an image", since)
        call_id = page.query("s.widget.call_id")
        # the endpoint that mints keys, asked the way a page would (cookie + XSRF header)
        minted = page.page.evaluate(MINT_CLIENT_SECRET)
        assert minted["status"] == 200, minted
        assert minted["body"]["value"].startswith("ek_")
        page.widget("disconnect").click()
        page.wait_status("closed")
        page.save_notebook()
        wait_for(
            lambda: "widget-view+json" in (server.root / "leak.ipynb").read_text(),
            timeout=10,
            what="the notebook to be saved with its outputs",
        )
        capture = page.network
        browser_side = "\n".join([capture.corpus(), page.page_text(), *page.console])
    server_log = server.log()  # to its end: the server has stopped

    kernel_side = (server.root / "leak.ipynb").read_text() + page.events.path.read_text()
    # the scan covers what it should, so an empty capture cannot pass
    assert call_id in browser_side
    assert "session.created" in browser_side
    assert "api/rt-notebook/calls" in capture.urls()
    assert "api/rt-notebook/client-secrets" in capture.urls()
    assert "key configured: True" in server_log
    secret_part = key.removeprefix("sk-proj-")[:16]
    for where, text in [
        ("the browser", browser_side),
        ("the kernel's outputs", kernel_side),
        ("the server log", server_log),
    ]:
        assert key not in text, f"the key leaked into {where}"
        assert secret_part not in text, f"part of the key leaked into {where}"
