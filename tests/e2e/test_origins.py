"""In Chromium: a page on a foreign origin can neither read the standalone local backend's
sessions nor mint keys, while a page on a loopback origin talks to it with OpenAI's own
browser SDK (``@openai/agents-realtime``, unchanged, bundled here at test time)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from rt_notebook.local.access import Access
from rt_notebook.local.backend import LocalRealtime
from rt_notebook.local.server import make_app
from tests.e2e import harness

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).parent / "pages"
PAGE_HOST = "127.0.0.2"  # a loopback origin other than the backend's
FOREIGN = harness.FOREIGN_HOST  # resolved to PAGE_HOST by Chromium: same page server

pytestmark = pytest.mark.skipif(
    bool(harness.missing_tools())
    or not (ROOT / "node_modules" / "@openai" / "agents-realtime").exists(),
    reason="needs chromium and npm's @openai/agents-realtime (scripts/setup)",
)


class Servers:
    """The local backend (as ``python -m rt_notebook.local`` runs it) and a static page
    server, on a thread with their own loop."""

    def __init__(self, pages: Path) -> None:
        self.backend = LocalRealtime()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(pages, ready), daemon=True).start()
        assert ready.wait(15)

    def _run(self, pages: Path, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        api = HTTPServer(make_app(self.backend, Access.create(host="127.0.0.1")))
        sockets = bind_sockets(0, "127.0.0.1")
        api.add_sockets(sockets)
        self.api = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/v1"
        static = web.Application([(r"/(.*)", web.StaticFileHandler, {"path": str(pages)})])
        page_sockets = bind_sockets(0, PAGE_HOST)
        HTTPServer(static).add_sockets(page_sockets)
        self.page_port = page_sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.backend.close(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two test pages, the SDK one bundled with esbuild (into a temporary directory)."""
    out = tmp_path_factory.mktemp("pages")
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    bundle = [str(esbuild), str(PAGES / "agents_sdk.js"), "--bundle", "--format=esm"]
    subprocess.run(
        [*bundle, f"--outfile={out / 'agents_sdk.js'}", "--log-level=warning"],
        check=True,
        cwd=ROOT,
    )
    shutil.copy(PAGES / "foreign.js", out / "foreign.js")
    for name in ("agents_sdk", "foreign"):
        html = (
            f'<!doctype html><meta charset="utf-8"><script type="module" src="{name}.js"></script>'
        )
        (out / f"{name}.html").write_text(html)
    return out


@pytest.fixture(scope="module")
def servers(pages: Path) -> Iterator[Servers]:
    running = Servers(pages)
    yield running
    running.close()


@pytest.fixture(scope="module")
def chromium(browser: harness.Browser) -> Any:
    """The package's Chromium (one Playwright per process: a second one fails inside the first's
    loop); it resolves the foreign name to the page server."""
    return browser.browser


def open_page(chromium: Any, url: str, ready: str) -> Any:
    page = chromium.new_context().new_page()
    page.goto(url)
    page.wait_for_function(f"typeof window.{ready} === 'function'", timeout=15_000)
    return page


def test_a_foreign_page_can_neither_read_sessions_nor_mint_keys(
    chromium: Any, servers: Servers
) -> None:
    page = open_page(chromium, f"http://{FOREIGN}:{servers.page_port}/foreign.html", "attack")
    tried = page.evaluate("(base) => window.attack(base)", servers.api)
    page.context.close()
    assert tried["sessions"].startswith("refused: TypeError")
    assert tried["mint"].startswith("refused: TypeError")
    assert tried["blind_post"] == "sent"  # no-cors goes out, opaque; the backend refused it
    assert tried["websocket"] == "refused: error"
    assert servers.backend._secrets == {}
    assert servers.backend.sessions == {}


def test_openai_agents_sdk_connects_from_a_loopback_page(chromium: Any, servers: Servers) -> None:
    page = open_page(
        chromium, f"http://{PAGE_HOST}:{servers.page_port}/agents_sdk.html", "agentsTalk"
    )
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    talked = page.evaluate("(base) => window.agentsTalk(base)", servers.api)
    page.context.close()
    assert talked["keyKind"] == "ek_"
    order = ["session.created", "session.updated", "response.created", "response.done"]
    seen = [t for t in talked["types"] if t in order]
    assert seen[:2] == ["session.created", "session.updated"], talked["types"]
    assert "response.done" in seen
    assert "assistant" in talked["history"]
    (record,) = servers.backend.sessions.values()
    assert record.record.transport == "webrtc"
    assert record.record.client_events, "the SDK's events reached the backend"
    assert not [e for e in errors if "CORS" in e or "Failed to fetch" in e]
