"""Real-browser end-to-end helpers: Jupyter servers, a headless Chromium, notebooks, polling.

Everything here follows docs/e2e-recipe.md (the shared recipe): Debian's chromium driven by
Playwright's sync API (no downloaded browser), espeak-ng speech as the fake microphone, HOME and
every Jupyter/XDG directory isolated under the test's tmp dir, JupyterLab in command mode
(``window.jupyterapp``), and the kernel's handlers writing a JSONL file that the test polls
instead of blocking a cell.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pytest

CHROMIUM = "/usr/bin/chromium"
TOKEN = "e2e-" + secrets.token_hex(12)
ARTIFACTS: Path | None = None
"""Where failure diagnostics go (a pytest tmp dir, set by conftest.py)."""
LIVE_SERVERS: list[JupyterServer] = []
LIVE_PAGES: list[NotebookPage] = []
EARLY_DIAGNOSTICS: list[Path] = []
"""Saved by a page closed before the failure was reported (a page opened inside a test)."""

LAB_QUIET = {
    "lab": [
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None",
    ],
    "notebook": [],
}

# The kernel-side helpers every test notebook starts with. `_record` appends one JSON line to
# the notebook's log file, which the test polls (a cell must never block waiting for events:
# the kernel handles widget messages only between executions).
SETUP_CELL = """\
import json, time
from pathlib import Path
import numpy as np
import rt_notebook as rt

_LOG = Path({log!r})

def _clip(value, limit=400):
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {{k: _clip(v, limit) for k, v in value.items()}}
    if isinstance(value, list):
        return [_clip(v, limit) for v in value]
    return value

def _record(kind, **fields):
    with _LOG.open("a") as f:
        record = {{"kind": kind, "t": time.time(), **_clip(fields)}}
        f.write(json.dumps(record, default=str) + "\\n")

s = rt.RealtimeSession({session_args})
s.widget.muted = {muted!r}

@s.on("*")
def _every_event(event):
    _record("event", dir=event.direction, type=event.type, event=event.raw)

{extra}
_record("ready")
s
"""


def missing_tools() -> list[str]:
    """What this machine lacks for the browser tests (empty when they can run)."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (python)")
    return missing


def browser_marks(*also_missing: str) -> list[pytest.MarkDecorator]:
    """A browser test module's ``pytestmark``: the ``browser`` marker, and a skip that names
    what this machine lacks (``also_missing``: the module's own needs)."""
    import pytest

    missing = [*missing_tools(), *also_missing]
    return [
        pytest.mark.browser,
        pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}"),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def speech_wav(text: str, path: Path, *, lead: float = 0.3, trail: float = 3.5) -> Path:
    """espeak-ng speech as a 48 kHz mono WAV with silence around it (the fake mic loops it)."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-s", "165", "-w", str(raw), text], check=True)
    convert = ["-r", "48000", "-c", "1", "-b", "16"]
    pad = ["pad", str(lead), str(trail)]
    subprocess.run(["sox", str(raw), *convert, str(path), *pad], check=True)
    raw.unlink()
    return path


def wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def isolated_env(home: Path) -> dict[str, str]:
    """The environment for Jupyter and Chromium: no OpenAI key, every side file under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JUPYTER"))}
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_RUNTIME_DIR": home / ".runtime",
        "JUPYTER_CONFIG_DIR": home / "jupyter" / "config",
        "JUPYTER_DATA_DIR": home / "jupyter" / "data",
        "JUPYTER_RUNTIME_DIR": home / "jupyter" / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "jupyter" / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "jupyter" / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
        "MPLCONFIGDIR": home / "mpl",
    }
    for name, directory in dirs.items():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[name] = str(directory)
    env["PYTHONUNBUFFERED"] = "1"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # No news or update checks, no notification toasts over the notebook.
    settings = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True})
    )
    return env


def launch(
    argv: list[str], *, cwd: Path, env: dict[str, str], log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Start ``argv`` leading a process group of its own (see stop_group), output to ``log``."""
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def wait_up(
    process: subprocess.Popen[bytes],
    probe: Callable[[], bool],
    *,
    what: str,
    log_path: Path,
    timeout: float = 60.0,
) -> None:
    """Poll ``probe()`` (an OSError counts as not yet) until it is true; fail with the log's
    end if ``process`` exits first or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {process.returncode}; log: {log_path}\n"
                f"{read_log(log_path)[-4000:]}"
            )
        with contextlib.suppress(OSError):
            if probe():
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"{what} did not answer in {timeout} s; log: {log_path}\n{read_log(log_path)[-4000:]}"
    )


def stop_group(
    process: subprocess.Popen[bytes], *, grace: float = 15.0, sweep: bool = False
) -> None:
    """SIGTERM the process group ``process`` leads, SIGKILL it if still up after ``grace`` s;
    ``sweep``: SIGKILL the group at the end anyway (whatever its leader left behind)."""
    if process.poll() is None:
        # launch made it a group leader: signal its group while the leader is alive (so
        # the group id cannot have been reused)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    if sweep:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def request(
    method: str, url: str, body: Any = None, *, token: str | None = None, timeout: float = 20.0
) -> tuple[int, Any]:
    """A JSON request: ``(status, parsed body or text)``."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            text, status = response.read().decode(), response.status
    except urllib.error.HTTPError as error:
        text, status = error.read().decode(), error.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


@dataclass
class JupyterServer:
    """A ``jupyter lab`` or ``jupyter notebook`` subprocess on a free loopback port."""

    name: str
    app: str  # "lab" or "notebook"
    base: Path
    args: list[str] = field(default_factory=list)
    lab_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """JupyterLab settings by plugin id (``"@jupyterlab/notebook-extension:tracker"``)."""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def log_path(self) -> Path:
        return self.base / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60.0) -> JupyterServer:
        self.root.mkdir(parents=True, exist_ok=True)
        env = isolated_env(self.home)
        for plugin, values in self.lab_settings.items():
            package, name = plugin.split(":")
            path = Path(env["JUPYTERLAB_SETTINGS_DIR"], package, f"{name}.jupyterlab-settings")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.port = free_port()
        module = "jupyterlab" if self.app == "lab" else "notebook"
        app_class = "LabApp" if self.app == "lab" else "JupyterNotebookApp"
        argv = [
            sys.executable,
            "-m",
            module,
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.disable_check_xsrf=False",
            f"--{app_class}.expose_app_in_browser=True",
            *LAB_QUIET[self.app],
            *self.args,
        ]
        self._log = self.log_path.open("ab")
        self.process = launch(argv, cwd=self.root, env=env, log=self._log)
        wait_up(
            self.process,
            lambda: self.get("api/status", timeout=2)[0] == 200,
            what=f"jupyter {self.app}",
            log_path=self.log_path,
            timeout=timeout,
        )
        return self

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, Any]:
        """GET a server path with the token: ``(status, parsed JSON or text)``."""
        return request("GET", self.url + path, token=TOKEN, timeout=timeout)

    def page_url(self, notebook: str) -> str:
        if self.app == "lab":
            return f"{self.url}lab/tree/{notebook}?token={TOKEN}&reset"
        return f"{self.url}notebooks/{notebook}?token={TOKEN}"

    def log(self) -> str:
        return read_log(self.log_path)

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), SIGKILL if it hangs; close the log."""
        process, self.process = self.process, None
        if process is None:
            return
        stop_group(process)
        self._log.close()


def extension_server(
    base: Path,
    *,
    app: str = "lab",
    args: Sequence[str] = (),
    extension: bool = True,
    lab_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> JupyterServer:
    """A server in ``base``, named after it, with the rt_notebook server extension enabled
    (``extension=False``: disabled) and then ``args``."""
    argv = [extension_switch(extension), *args]
    return JupyterServer(base.name, app, base, argv, dict(lab_settings or {}))


def extension_switch(enabled: bool = True) -> str:
    """The jupyter server option that enables (or disables) the rt_notebook extension."""
    return f'--ServerApp.jpserver_extensions={{"rt_notebook": {enabled}}}'


def write_notebook(path: Path, cells: list[str]) -> None:
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def setup_cell(log: str, *, session_args: str = "", muted: bool = False, extra: str = "") -> str:
    return SETUP_CELL.format(log=log, session_args=session_args, muted=muted, extra=extra)


class EventFile:
    """The JSONL file a notebook's handlers append to, read by polling."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def events(
        self, kind: str | None = None, *, since: int = 0, direction: str = "server"
    ) -> list[dict[str, Any]]:
        """Events after record index ``since`` (optionally of one type, server side)."""
        return [
            r
            for r in self.records()[since:]
            if r.get("kind") == "event"
            and r.get("dir") == direction
            and (kind is None or r.get("type") == kind)
        ]

    def mark(self) -> int:
        """The current record count, to look only at what comes after."""
        return len(self.records())

    def wait(
        self,
        kind: str,
        *,
        count: int = 1,
        since: int = 0,
        timeout: float = 30.0,
        direction: str = "server",
    ) -> list[dict[str, Any]]:
        found = wait_for(
            lambda: (
                e
                if len(e := self.events(kind, since=since, direction=direction)) >= count
                else None
            ),
            timeout=timeout,
            what=f"{count} x {kind!r} in {self.path.name}",
        )
        return list(found)


def wait_for(
    predicate: Callable[[], Any],
    *,
    timeout: float = 30.0,
    what: str | Callable[[], str] = "",
    interval: float = 0.1,
) -> Any:
    """Poll until ``predicate()`` is truthy; after ``timeout`` s fail with ``what`` (a text, or
    a callable that describes the state at that moment)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            description = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {description}")
        time.sleep(interval)


# Keep every RTCPeerConnection the page creates, to read getStats() (the widget's own is
# private to its module). A call's is the newest with an answer: the widget also keeps a
# spare one, made ahead of the next call, with no description yet.
RECORD_PEERS = """
(() => {
  const Original = window.RTCPeerConnection;
  if (!Original || window.__rtnbPeers) return;
  window.__rtnbPeers = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__rtnbPeers.push(this); }
  };
})();
"""

KERNEL_EXECUTE = """
async (code) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, store_history: false, stop_on_error: true});
  let out = "", error = null;
  future.onIOPub = (msg) => {
    const type = msg.header.msg_type;
    if (type === "stream") out += msg.content.text;
    else if (type === "error") {
      error = `${msg.content.ename}: ${msg.content.evalue}\\n${msg.content.traceback.join("\\n")}`;
    }
  };
  const reply = await future.done;
  return {out, error, status: reply.content.status};
}
"""

KERNEL_IDLE = """
() => {
  const panel = window.jupyterapp?.shell?.currentWidget;
  const kernel = panel?.sessionContext?.session?.kernel;
  return Boolean(kernel && kernel.status === "idle" && kernel.connectionStatus === "connected");
}
"""

INBOUND_AUDIO = """
async () => {
  const pc = (window.__rtnbPeers || []).findLast((p) => p.remoteDescription);
  if (!pc || pc.connectionState === "closed") return null;
  const stats = await pc.getStats();
  let result = null;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") {
      result = {bytes: r.bytesReceived || 0, energy: r.totalAudioEnergy || 0,
                samples: r.totalSamplesReceived || 0};
    }
  });
  return result;
}
"""


FOREIGN_HOST = "evil.test"
"""A name Chromium resolves to 127.0.0.2: a page on another origin, still on this machine."""


class Browser:
    """One headless Chromium (Debian's) whose fake microphone plays a WAV file in a loop."""

    def __init__(self, mic_wav: Path, home: Path) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                env=isolated_env(home),
                args=[
                    # a foreign origin for the origin tests, served from loopback
                    f"--host-resolver-rules=MAP {FOREIGN_HOST} 127.0.0.2",
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={mic_wav}",
                    "--autoplay-policy=no-user-gesture-required",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-quic",
                ],
            )
        except Exception:
            self._pw.stop()
            raise

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.browser.close()
        self._pw.stop()


class NotebookPage:
    """A notebook open in JupyterLab or Notebook 7, in its own browser context (own cookies)."""

    def __init__(
        self,
        browser: Browser,
        server: JupyterServer,
        notebook: str,
        log: str,
        *,
        capture_network: bool = False,
    ) -> None:
        self.server = server
        self.notebook = notebook
        self.events = EventFile(server.root / log)
        self.context = browser.browser.new_context(viewport={"width": 1280, "height": 1000})
        self.context.add_init_script(RECORD_PEERS)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda msg: self.console.append(f"[{msg.type}] {msg.text}"))
        self.page.on("pageerror", lambda err: self.console.append(f"[pageerror] {err}"))
        self._network = NetworkCapture(self.page) if capture_network else None

    @property
    def network(self) -> NetworkCapture:
        """What the page received from its first request on (``capture_network=True``)."""
        if self._network is None:
            raise AssertionError(f"{self.notebook}'s page was made without capture_network")
        return self._network

    def open(self, timeout: float = 90.0) -> NotebookPage:
        """Load the notebook, then wait until it is ready (see ``ready``)."""
        self.page.goto(self.server.page_url(self.notebook), wait_until="domcontentloaded")
        return self.ready(timeout)

    def ready(self, timeout: float = 90.0) -> NotebookPage:
        """Once the notebook is loading: run every cell (see ``run_all_cells``), then wait for
        the setup cell to record ``ready`` and for the widget."""
        self.run_all_cells(timeout)
        wait_for(
            lambda: any(r.get("kind") == "ready" for r in self.events.records()),
            timeout=timeout,
            what=f"the setup cell of {self.notebook} to run",
        )
        self.widget("connect").wait_for(state="visible", timeout=timeout * 1000)
        return self

    def run_all_cells(self, timeout: float = 90.0) -> None:
        """Wait for the kernel to be idle, then run every cell (without waiting for them)."""
        self.page.wait_for_function(KERNEL_IDLE, timeout=timeout * 1000, polling=200)
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    def widget(self, testid: str) -> Any:
        return self.page.locator(f"[data-testid={testid}]").first

    def status(self) -> str:
        return str(self.widget("status").get_attribute("data-status"))

    def wait_status(self, status: str, timeout: float = 30.0) -> None:
        self.page.locator(f'[data-testid=status][data-status="{status}"]').first.wait_for(
            timeout=timeout * 1000
        )

    def run(self, code: str) -> str:
        """Execute code in the notebook's kernel (not as a cell); return its stdout."""
        result = self.page.evaluate(KERNEL_EXECUTE, code)
        if result["status"] != "ok":
            raise AssertionError(f"kernel error running {code!r}:\n{result['error']}")
        return str(result["out"])

    def query(self, expression: str) -> Any:
        """The JSON value of a Python expression in the kernel."""
        return json.loads(self.run(f"print(json.dumps({expression}, default=str))"))

    def inbound_audio(self) -> dict[str, float] | None:
        result = self.page.evaluate(INBOUND_AUDIO)
        return dict(result) if result else None

    def page_text(self) -> str:
        """The DOM of every frame, cookies and web storage: what the page holds now."""
        parts = [frame.content() for frame in self.page.frames]
        parts.append(json.dumps(self.context.cookies()))
        parts.append(
            self.page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
        )
        return "\n".join(parts)

    def save_notebook(self) -> None:
        self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")

    def diagnose(self, directory: Path) -> list[Path]:
        """Save a screenshot, the console log and a copy of the server log; return the paths."""
        directory.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        shot = directory / f"{self.server.name}.png"
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(shot), full_page=True, timeout=10_000)
            saved.append(shot)
        console = directory / f"{self.server.name}.console.txt"
        console.write_text("\n".join(self.console))
        saved.append(console)
        log = directory / f"{self.server.name}.server.log"
        log.write_text(self.server.log())
        saved.append(log)
        if self.events.path.exists():
            events = directory / self.events.path.name
            shutil.copy(self.events.path, events)
            saved.append(events)
        return saved

    def close(self) -> None:
        """Close the context; the console log stays next to the server's log."""
        (self.server.base / "console.txt").write_text("\n".join(self.console))
        with contextlib.suppress(Exception):
            self.context.close()


@contextlib.contextmanager
def running(server: JupyterServer) -> Iterator[JupyterServer]:
    """Start a server for the duration of the block (registered for failure diagnostics)."""
    LIVE_SERVERS.append(server)
    try:
        yield server.start()
    finally:
        server.stop()
        LIVE_SERVERS.remove(server)


Page = TypeVar("Page", bound=NotebookPage)


@contextlib.contextmanager
def opened(page: Page) -> Iterator[Page]:
    """Open a notebook page for the duration of the block (registered for diagnostics)."""
    LIVE_PAGES.append(page)
    try:
        try:
            page.open()
        except Exception as exc:
            where = (ARTIFACTS or page.server.base) / f"open-{page.server.name}"
            paths = "\n".join(f"  {p}" for p in page.diagnose(where))
            raise AssertionError(f"{page.notebook} did not open: {exc}\nsaved:\n{paths}") from exc
        try:
            yield page
        except Exception:
            # a test using the page inside the block failed: keep what it showed
            EARLY_DIAGNOSTICS.extend(
                page.diagnose((ARTIFACTS or page.server.base) / f"failed-{page.server.name}")
            )
            raise
    finally:
        page.close()
        LIVE_PAGES.remove(page)


@contextlib.contextmanager
def notebook_page(
    browser: Browser,
    base_dir: Path,
    name: str,
    *,
    notebook: str | None = None,
    app: str = "lab",
    server_args: Sequence[str] = (),
    extension: bool = True,
    lab_settings: Mapping[str, Mapping[str, Any]] | None = None,
    session_args: str = "",
    muted: bool = False,
    extra: str = "",
    capture_network: bool = False,
) -> Iterator[NotebookPage]:
    """The browser tests' setup: a server ``name`` in ``base_dir / name`` (extension_server's
    options), a notebook ``<notebook>.ipynb`` (default: ``name``) whose one cell is the setup
    cell (setup_cell's options) logging to ``<notebook>.jsonl``, opened in a context of its
    own. Yields the opened page (its server is ``page.server``); stops both after the block."""
    stem = notebook or name
    server = extension_server(
        base_dir / name, app=app, args=server_args, extension=extension, lab_settings=lab_settings
    )
    with running(server):
        cell = setup_cell(f"{stem}.jsonl", session_args=session_args, muted=muted, extra=extra)
        write_notebook(server.root / f"{stem}.ipynb", [cell])
        page = NotebookPage(
            browser, server, f"{stem}.ipynb", f"{stem}.jsonl", capture_network=capture_network
        )
        with opened(page):
            yield page


def save_diagnostics(directory: Path) -> list[Path]:
    """Screenshots and console logs of the open pages, and every running server's log."""
    saved, EARLY_DIAGNOSTICS[:] = list(EARLY_DIAGNOSTICS), []
    for page in LIVE_PAGES:
        saved += page.diagnose(directory)
    for server in LIVE_SERVERS:
        log = directory / f"{server.name}.server.log"
        if not log.exists():
            directory.mkdir(parents=True, exist_ok=True)
            log.write_text(server.log())
            saved.append(log)
    return saved


def meter_levels(
    page: NotebookPage, testid: str, seconds: float, interval: float = 0.05
) -> list[float]:
    """The widget meter's level (``data-level``, an RMS) sampled for ``seconds``."""
    levels = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = page.widget(testid).get_attribute("data-level")
        levels.append(float(value or 0))
        time.sleep(interval)
    return levels


class NetworkCapture:
    """What a page receives: documents and API responses (bodies), and WebSocket frames."""

    KINDS = ("document", "xhr", "fetch", "eventsource", "other")

    def __init__(self, page: Any) -> None:
        self.responses: list[Any] = []
        self.frames: list[str] = []
        page.on("response", self._response)
        page.on("websocket", self._websocket)

    def _response(self, response: Any) -> None:
        if response.request.resource_type in self.KINDS:
            self.responses.append(response)

    def _websocket(self, ws: Any) -> None:
        def keep(payload: str | bytes) -> None:
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            self.frames.append(text)

        ws.on("framereceived", keep)
        ws.on("framesent", keep)

    def urls(self) -> str:
        return "\n".join(r.url for r in self.responses)

    def corpus(self) -> str:
        """Every captured URL, header and body, and every frame, as one text."""
        parts = []
        for response in self.responses:
            try:
                body = response.body().decode("utf-8", "replace")
            except Exception as exc:  # redirects and evicted bodies have none
                body = f"(no body: {type(exc).__name__})"
            parts.append(
                f"{response.status} {response.url}\n{json.dumps(response.headers)}\n{body}"
            )
        return "\n".join(parts + self.frames)


# ---- driving the widget --------------------------------------------------------------


def ensure_connected(page: NotebookPage) -> str:
    """Connect with the widget's button unless already connected; the call id."""
    if page.status() != "connected":
        since = page.events.mark()
        page.widget("connect").click()
        page.wait_status("connected")
        page.events.wait("session.created", since=since)
    # the call id comes in the widget's trait sync, which may reach the kernel's subshell just
    # after session.created's handler ran there and this query on the main shell
    return str(wait_for(lambda: page.query("s.widget.call_id"), timeout=5, what="the call id"))


def fresh_connection(page: NotebookPage) -> str:
    """A new call (so a scenario starts again from its first step); the call id."""
    if page.status() in ("connecting", "connected", "interrupted"):
        page.widget("disconnect").click()
        page.wait_status("closed")
    return ensure_connected(page)


def replies(page: NotebookPage, since: int) -> list[str]:
    """The assistant's final texts (spoken transcript or text) after record ``since``."""
    done = page.events.events("response.output_audio_transcript.done", since=since)
    texts = page.events.events("response.output_text.done", since=since)
    return [e["event"]["transcript"] for e in done] + [e["event"]["text"] for e in texts]


def wait_reply(page: NotebookPage, needle: str, since: int, timeout: float = 30.0) -> str:
    """The first reply after record ``since`` that contains ``needle``."""
    found = wait_for(
        lambda: [text for text in replies(page, since) if needle in text],
        timeout=timeout,
        what=lambda: f"a reply containing {needle!r} (replies so far: {replies(page, since)})",
    )
    return str(found[0])


def set_muted(page: NotebookPage, muted: bool) -> None:
    """Set the ``muted`` trait from Python and wait for the widget to show it."""
    page.run(f"s.widget.muted = {muted!r}")
    page.page.locator(f'[data-testid=mute][aria-pressed="{str(muted).lower()}"]').wait_for()
    if muted:
        # Audio already on its way can still start a turn, whose speech_started would cancel
        # (barge in on) a reply the test is about to ask for.
        page.page.wait_for_timeout(800)


def local_calls(page: NotebookPage) -> dict[str, bool]:
    """The local backend's calls: id → closed."""
    status, body = page.server.get("api/rt-notebook/local/sessions")
    assert status == 200, body
    return {s["id"]: s["closed"] for s in body["data"]}


def local_session(page: NotebookPage, call_id: str) -> dict[str, Any]:
    """The server's record of one local-backend call (``api/rt-notebook/local/sessions``)."""
    status, body = page.server.get("api/rt-notebook/local/sessions")
    assert status == 200, body
    found = [s for s in body["data"] if s["id"] == call_id]
    assert found, f"{call_id} not among the local sessions {[s['id'] for s in body['data']]}"
    return dict(found[0])


def meter_level(page: NotebookPage, testid: str) -> float:
    return float(page.widget(testid).get_attribute("data-level") or 0)


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core, installed by npm (package.json), injected into the page under test."""


def axe_violations(page: NotebookPage) -> list[dict[str, Any]]:
    """axe-core's serious and critical accessibility violations inside the widget."""
    if not page.page.evaluate("() => Boolean(window.axe)"):
        page.page.add_script_tag(path=str(AXE))
    found = page.page.evaluate(
        "async () => (await axe.run('.rtnb', {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.html.slice(0, 200))}))"
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]
