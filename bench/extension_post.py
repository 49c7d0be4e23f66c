"""What the server extension adds to the widget's SDP POST, against posting straight upstream.

One Jupyter server (a real ``jupyter lab`` subprocess with the rt_notebook extension,
``backend=openai``, ``api_base_url`` = a fake upstream child process on 127.0.0.1) and one
fake upstream that answers ``POST /v1/realtime/calls`` (multipart ``sdp`` + ``session``, as
OpenAI takes it) with an SDP answer at once. The same real offer (aiortc's, with its
candidates) is then posted, alternating, in one run:

- **direct**: multipart straight to the upstream, as a bare page does;
- **extension**: ``{sdp, session}`` JSON to ``api/rt-notebook/calls``, as the widget does
  (the extension checks it, applies its policy and forwards it to the same upstream);
- **status**: ``GET api/rt-notebook/status`` (the widget asks it before each call), beside
  Jupyter's own ``GET api/status`` as the cheapest authenticated handler there is.

Each client keeps one keep-alive connection per server, so only the servers' work is timed. It
prints medians, the extension's added milliseconds and the ratio, the Jupyter server's CPU
per request (from ``/proc``), a fresh server's first request of each kind, and the load
average. ``--browser`` also makes both POSTs from Chromium (Debian's, driven as ``tests/e2e``
drives it): FormData from a page on the upstream's origin (CORS, as a bare page posts) and
JSON from a page on Jupyter's origin (as the widget posts, without JupyterLab or a kernel
around it). ``--baseline SRC`` runs a second Jupyter server importing rt_notebook from another
tree (e.g. ``git archive <commit> src | tar -x -C /tmp/old``), interleaved with the first, so
two versions are compared in one run. Numbers are printed, never asserted.

    .venv/bin/python bench/extension_post.py [--rounds 200] [--deadline 180] [--browser]
        [--baseline SRC]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
sys.path.insert(0, str(ROOT))  # tests.e2e.harness: the browser tests' Jupyter helpers

from benchtools import load, serve_until_parent_goes, stats  # noqa: E402
from tests.conftest import answer_for  # noqa: E402
from tests.e2e.harness import TOKEN, JupyterServer, running  # noqa: E402

KEY = "sk-bench-extension-post"
SESSION = {
    "type": "realtime",
    "model": "gpt-realtime-2.1",
    "instructions": "You are a helpful assistant in a notebook.",
    "audio": {"output": {"voice": "marin"}},
}


# ---- the fake upstream (a child process) ------------------------------------------------------


def upstream_main() -> None:
    """``--upstream``: answer every offer at once; print the port; run until stdin closes."""
    from tornado import httputil, web
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    class Calls(web.RequestHandler):
        def set_default_headers(self) -> None:  # a page on another origin may post (CORS)
            self.set_header("Access-Control-Allow-Origin", "*")
            self.set_header("Access-Control-Allow-Headers", "authorization, content-type")
            self.set_header("Access-Control-Expose-Headers", "location")

        def options(self) -> None:
            self.set_status(204)

        def post(self) -> None:
            if self.request.headers.get("Authorization") != f"Bearer {KEY}":
                raise web.HTTPError(401)
            args: dict[str, list[bytes]] = {}
            files: dict[str, list[Any]] = {}
            httputil.parse_body_arguments(
                self.request.headers.get("Content-Type", ""), self.request.body, args, files
            )
            parts = {
                **{k: v[0] for k, v in args.items()},
                **{k: f[0].body for k, f in files.items()},
            }
            json.loads(parts["session"])
            self.set_status(201)
            self.set_header("Content-Type", "application/sdp")
            self.set_header("Location", f"/v1/realtime/calls/rtc_{uuid.uuid4().hex}")
            self.finish(answer_for(parts["sdp"].decode()))

    class Page(web.RequestHandler):
        def get(self) -> None:  # the bare page's origin, for --browser
            self.finish('<!doctype html><link rel="icon" href="data:,"><title>bare page</title>')

    async def serve() -> None:
        server = HTTPServer(web.Application([(r"/v1/realtime/calls", Calls), (r"/", Page)]))
        sockets = bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        print(json.dumps({"port": sockets[0].getsockname()[1]}), flush=True)
        await serve_until_parent_goes()
        server.stop()

    asyncio.run(serve())


class Upstream:
    """The ``--upstream`` child: started, stopped by closing its stdin."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--upstream"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.stop()
            raise RuntimeError("the upstream did not start")
        self.port = int(json.loads(line)["port"])

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# ---- the client --------------------------------------------------------------------------------


def real_offer() -> str:
    """An offer as a WebRTC peer makes it (audio + data channel, host candidates)."""
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    async def make() -> str:
        pc = RTCPeerConnection()
        pc.addTrack(AudioStreamTrack())
        pc.createDataChannel("oai-events")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


def multipart(sdp: str, session: dict[str, Any]) -> tuple[bytes, str]:
    """A browser FormData body with ``sdp`` and ``session``."""
    boundary = "----benchBoundary" + uuid.uuid4().hex
    parts = [
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
        for name, value in (("sdp", sdp), ("session", json.dumps(session)))
    ]
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Client:
    """One keep-alive connection; ``request`` returns (ms, status, body)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[float, int, bytes]:
        start = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        reply = self.conn.getresponse()
        data = reply.read()
        return (time.perf_counter() - start) * 1000, reply.status, data


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    server: JupyterServer, upstream: Upstream, rounds: int, baseline: JupyterServer | None
) -> dict[str, Any]:
    offer = real_offer()
    direct_body, direct_type = multipart(offer, SESSION)
    ext_body = json.dumps({"sdp": offer, "session": SESSION}).encode()
    token = {"Authorization": f"token {TOKEN}"}
    kinds: dict[str, tuple[Client, str, str, bytes | None, dict[str, str], int]] = {
        "direct": (
            Client(upstream.port),
            "POST",
            "/v1/realtime/calls",
            direct_body,
            {"Authorization": f"Bearer {KEY}", "Content-Type": direct_type},
            201,
        ),
        "extension": (
            Client(server.port),
            "POST",
            "/api/rt-notebook/calls",
            ext_body,
            {**token, "Content-Type": "application/json"},
            201,
        ),
        "status": (Client(server.port), "GET", "/api/rt-notebook/status", None, token, 200),
        "jupyter_status": (Client(server.port), "GET", "/api/status", None, token, 200),
    }
    if baseline is not None:
        kinds["extension_baseline"] = (Client(baseline.port), *kinds["extension"][1:])
        kinds["status_baseline"] = (Client(baseline.port), *kinds["status"][1:])
    times: dict[str, list[float]] = {name: [] for name in kinds}
    cpu: dict[str, float] = dict.fromkeys(kinds, 0.0)
    pids = dict.fromkeys(kinds, server.process.pid if server.process else 0)
    if baseline is not None and baseline.process is not None:
        pids["extension_baseline"] = pids["status_baseline"] = baseline.process.pid
    names = list(kinds)
    first: dict[str, float] = {}
    for name in names:  # a fresh server's first request of each kind (imports, caches)
        client, method, path, body, headers, _expected = kinds[name]
        first[name] = round(client.request(method, path, body, headers)[0], 1)
    for round_ in range(rounds + 5):  # the first 5 rounds warm up
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            client, method, path, body, headers, expected = kinds[name]
            before = cpu_seconds(pids[name])
            ms, status, data = client.request(method, path, body, headers)
            if status != expected:
                raise RuntimeError(f"{name}: {status} {data[:300]!r}")
            if round_ >= 5:
                times[name].append(ms)
                cpu[name] += cpu_seconds(pids[name]) - before
    result: dict[str, Any] = {name: stats(values, 2) for name, values in times.items()}
    result["first_ms"] = first
    for name in kinds:
        result[name]["jupyter_cpu_ms"] = round(cpu[name] / rounds * 1000, 2)
    ext, direct = result["extension"]["median"], result["direct"]["median"]
    result["extension_adds_ms"] = round(ext - direct, 2)
    result["extension_over_direct"] = round(ext / direct, 2)
    if baseline is not None:
        result["baseline_adds_ms"] = round(result["extension_baseline"]["median"] - direct, 2)
    result["offer_bytes"] = len(offer.encode())
    return result


# In a page: one offer as Chromium makes it; then a timed fetch (start → last byte read),
# given up after 10 s.
BROWSER_OFFER = """async () => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("audio");
  pc.createDataChannel("oai-events");
  await pc.setLocalDescription();
  const sdp = pc.localDescription.sdp;
  pc.close();
  return sdp;
}"""
BROWSER_POST = """async ([url, kind, sdp, session, auth]) => {
  const form = new FormData();
  form.set("sdp", sdp);
  form.set("session", JSON.stringify(session));
  const body = kind === "form" ? form : JSON.stringify({sdp, session});
  const headers = {Authorization: auth};
  if (kind !== "form") headers["Content-Type"] = "application/json";
  const start = performance.now();
  const signal = AbortSignal.timeout(10000);
  const reply = await fetch(url, {method: "POST", body, headers, signal});
  await reply.text();
  const ms = performance.now() - start;
  if (reply.status !== 201) throw new Error(`${url}: ${reply.status}`);
  return ms;
}"""


def measure_browser(
    server: JupyterServer,
    upstream: Upstream,
    rounds: int,
    home: Path,
    baseline: JupyterServer | None,
) -> dict[str, Any]:
    """The same two POSTs made by Chromium: a page on the upstream's origin posts FormData
    straight to it (CORS, as a bare page does), a page on Jupyter's origin posts JSON to the
    extension (as the widget does, without JupyterLab and a kernel around it)."""
    from tests.e2e.harness import Browser

    browser = Browser(home / "no-microphone.wav", home / "chromium")
    try:
        context = browser.browser.new_context()
        direct, via = context.new_page(), context.new_page()
        direct.goto(f"http://127.0.0.1:{upstream.port}/", timeout=30_000)
        # a Jupyter page whose CSP lets scripts fetch (the API's JSON pages forbid it)
        via.goto(server.url + "static/favicons/favicon.ico", timeout=30_000)
        sdp = direct.evaluate(BROWSER_OFFER)
        paths = {
            "direct": (
                direct,
                f"http://127.0.0.1:{upstream.port}/v1/realtime/calls",
                "form",
                f"Bearer {KEY}",
            ),
            "extension": (via, server.url + "api/rt-notebook/calls", "json", f"token {TOKEN}"),
        }
        if baseline is not None:
            old = context.new_page()
            old.goto(baseline.url + "static/favicons/favicon.ico", timeout=30_000)
            paths["extension_baseline"] = (
                old,
                baseline.url + "api/rt-notebook/calls",
                "json",
                f"token {TOKEN}",
            )
        times: dict[str, list[float]] = {name: [] for name in paths}
        for round_ in range(rounds + 5):  # the first 5 rounds warm up
            order = list(paths) if round_ % 2 == 0 else list(paths)[::-1]
            for name in order:
                page, url, kind, auth = paths[name]
                ms = float(page.evaluate(BROWSER_POST, [url, kind, sdp, SESSION, auth]))
                if round_ >= 5:
                    times[name].append(ms)
    finally:
        browser.close()
    result: dict[str, Any] = {name: stats(values, 2) for name, values in times.items()}
    result["extension_adds_ms"] = round(
        result["extension"]["median"] - result["direct"]["median"], 2
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds for the whole run")
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also run a Jupyter server importing rt_notebook from SRC (e.g. an older tree's "
        "src/), side by side with this one",
    )
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also time both POSTs from Chromium pages (Debian's, as tests/e2e drives it)",
    )
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        upstream_main()
        return
    print(f"extension_post: {args.rounds} rounds; start: {load()}", flush=True)
    # a total deadline: past it, stop everything this run started and exit
    timer = threading.Timer(args.deadline, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.daemon = True
    timer.start()
    upstream = Upstream()
    try:
        lab_args = [
            '--ServerApp.jpserver_extensions={"rt_notebook": True}',
            "--RealtimeExtension.backend=openai",
            f"--RealtimeExtension.api_key={KEY}",
            f"--RealtimeExtension.api_base_url=http://127.0.0.1:{upstream.port}/v1",
            "--RealtimeExtension.rate_limit_per_minute=0",
        ]
        workdir = Path(tempfile.mkdtemp(prefix="rtnb-extpost-"))
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(
                running(JupyterServer("new", "lab", workdir / "new", lab_args))
            )
            baseline = None
            if args.baseline:
                baseline = JupyterServer("baseline", "lab", workdir / "baseline", lab_args)
                os.environ["PYTHONPATH"] = str(Path(args.baseline).resolve())  # for its env
                try:
                    stack.enter_context(running(baseline))
                finally:
                    del os.environ["PYTHONPATH"]
            result = measure(server, upstream, args.rounds, baseline)
            if args.browser:
                result["browser"] = measure_browser(
                    server, upstream, args.rounds, workdir, baseline
                )
    except KeyboardInterrupt:
        print(f"extension_post: deadline of {args.deadline:g} s passed; stopped", flush=True)
        return
    finally:
        timer.cancel()
        with contextlib.suppress(Exception):
            upstream.stop()
    print(f"end: {load()}; offer {result['offer_bytes']} bytes", flush=True)
    print("a fresh server's first request, ms: " + json.dumps(result["first_ms"]))
    print(f"{'request':<44}{'median':>8}{'p10':>8}{'p90':>8}{'jupyter CPU':>13}")
    rows = [
        ("POST offer straight to the upstream", "direct"),
        ("POST offer via the extension", "extension"),
        ("POST offer via the extension (baseline)", "extension_baseline"),
        ("GET api/rt-notebook/status", "status"),
        ("GET api/rt-notebook/status (baseline)", "status_baseline"),
        ("GET api/status (Jupyter's own)", "jupyter_status"),
    ]
    for label, name in rows:
        if name not in result:
            continue
        r = result[name]
        print(
            f"{label:<44}{r['median']:>6.2f}ms{r['p10']:>6.2f}ms{r['p90']:>6.2f}ms"
            f"{r['jupyter_cpu_ms']:>10.2f} ms"
        )
    print(
        f"the extension adds {result['extension_adds_ms']:.2f} ms (median) over posting straight "
        f"to the upstream: {result['extension_over_direct']:.2f}x [goal: ≤ 3 ms]"
    )
    if "browser" in result:
        b = result["browser"]
        for label, name in (
            ("Chromium: POST straight to the upstream", "direct"),
            ("Chromium: POST via the extension", "extension"),
            ("Chromium: POST via the extension (baseline)", "extension_baseline"),
        ):
            if name not in b:
                continue
            r = b[name]
            print(f"{label:<44}{r['median']:>6.2f}ms{r['p10']:>6.2f}ms{r['p90']:>6.2f}ms")
        print(f"from Chromium, the extension adds {b['extension_adds_ms']:.2f} ms (median)")
        if "extension_baseline" in b:
            adds = b["extension_baseline"]["median"] - b["direct"]["median"]
            print(f"from Chromium, the baseline adds {adds:.2f} ms (median)")
    if "baseline_adds_ms" in result:
        print(f"the baseline ({args.baseline}) adds {result['baseline_adds_ms']:.2f} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
