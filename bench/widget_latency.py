"""What the notebook path costs: the widget + Jupyter + kernel, against a bare page, in one run.

Everything runs here in one headless Chromium (Debian's, driven by Playwright like
``tests/e2e``), against an *upstream* child process on 127.0.0.1 that speaks
``POST /v1/realtime/calls``. JupyterLab's rt_notebook extension forwards the widget's offers
to it (``backend=openai``, ``api_base_url`` = the upstream), exactly as it would to OpenAI.

- **P1** connect → ``session.created``: the widget (click Connect → a Python ``s.on`` handler)
  against a bare page (getUserMedia → RTCPeerConnection + ``oai-events`` → multipart POST
  straight to the upstream → ``session.created`` in page JS). The upstream is then the real
  local backend (``LocalRealtime`` behind ``rt_notebook.local.server``'s handlers), the same
  process for both paths; runs alternate, first run of each dropped as warm-up.
- **P2** data-channel event → Python handler: the upstream switches to a *flood* peer (aiortc)
  that streams GA ``response.output_text.delta`` events whose ``event_id`` carries the send
  time in ns: 200 events/s for a while, then a burst of 5,000 as fast as it can. The kernel's
  handler keeps ``(time.time(), event.t, event_id)``: latency percentiles, split at the
  browser's receipt (``event.t``, the widget's timestamp), and lost ids follow.
- **P3** tool-call overhead: the flood peer streams a function call (§7 of the protocol notes)
  for an ``@s.tool`` that times itself; the peer timestamps ``function_call_output`` on arrival.
  Overhead = (output arrival - ``arguments.done`` sent) - the tool's own time, also split
  into its legs (upstream → browser → kernel → tool → browser → upstream); the kernel legs
  also at the page's kernel WebSocket, to tell the page's time from Jupyter's transport.
- **P4** an hour-long session's kernel and browser memory (scaled, and said so).
- **P5** end of the caller's speech → first audible reply, widget against bare page, both read
  on the page's audio clock, over several fresh connections per path.

All clocks are this machine's wall clock (the browser's split points carry the page clock's
offset, printed). Numbers are printed, never asserted (exit code 0); a phase that fails is
reported as an error and the rest still runs. Default ≈ 1 min, ``--quick`` ≈ 30 s here.

    .venv/bin/python bench/widget_latency.py [--quick] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import itertools
import json
import os
import platform
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aioice.ice
import numpy as np
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from rt_notebook.errors import RealtimeError
from rt_notebook.local import server as local_server
from rt_notebook.local.access import Access
from rt_notebook.local.backend import LocalRealtime
from rt_notebook.wire.sdp import check_offer
from rt_notebook.wire.signaling import MAX_OFFER_BYTES

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
sys.path.insert(0, str(ROOT))  # tests.e2e.harness: the browser tests' Jupyter/Chromium helpers

from benchtools import load, serve_until_parent_goes, stats  # noqa: E402
from tests.e2e.harness import (  # noqa: E402
    KERNEL_EXECUTE,
    Browser,
    JupyterServer,
    NotebookPage,
    opened,
    running,
    setup_cell,
    speech_wav,
    wait_for,
    write_notebook,
)

Json = dict[str, Any]
TOOL = "bench_tool"
HOUR_TURNS = 360  # an hour-long session for P4: a turn every 10 s, ~49 events each


def evaluate(page: Any, script: str, arg: Any = None, timeout: float = 30.0) -> Any:
    """``page.evaluate`` with a time limit: Playwright's has none, and a page call that never
    settles would leave the servers running."""
    ms = int(timeout * 1000)
    bounded = f"""async (arg) => {{
      const call = {script};
      let timer;
      const limit = new Promise((_, fail) => {{
        timer = setTimeout(() => fail(new Error("page call timed out after {ms} ms")), {ms});
      }});
      try {{ return await Promise.race([Promise.resolve(call(arg)), limit]); }}
      finally {{ clearTimeout(timer); }}
    }}"""
    return page.evaluate(bounded, arg)


def kernel_run(page: NotebookPage, code: str, timeout: float = 30.0) -> str:
    """Execute code in the notebook's kernel (bounded); return its stdout."""
    result = evaluate(page.page, KERNEL_EXECUTE, code, timeout)
    if result["status"] != "ok":
        raise RuntimeError(f"kernel error running {code!r}:\n{result['error']}")
    return str(result["out"])


def kernel_query(page: NotebookPage, expression: str, timeout: float = 30.0) -> Any:
    """The JSON value of a Python expression in the kernel (bounded)."""
    return json.loads(kernel_run(page, f"print(json.dumps({expression}, default=str))", timeout))


class Deadline:
    """The whole run's time limit: at ``seconds`` the main thread is interrupted (so every
    ``finally`` tears down the browser, Jupyter and its kernel, the upstream); if it is still
    alive a minute later, the processes it started are killed and it exits."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.pids: list[int] = []  # processes to kill in the last resort (e.g. the kernel)
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        import _thread

        self.expired = True
        print(f"  deadline of {self.seconds:.0f} s reached: stopping", flush=True)
        _thread.interrupt_main()
        last = threading.Timer(60.0, self._kill)
        last.daemon = True
        last.start()

    def _kill(self) -> None:
        print("  teardown did not finish within 60 s: killing what the bench started", flush=True)
        for pid in self.pids:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # Jupyter runs as the leader of its own group
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        os._exit(3)


@dataclass(frozen=True)
class Profile:
    connect_runs: int  # per path, after one warm-up each
    rate: float  # events/s
    rate_seconds: float
    burst: int
    tool_calls: int
    hour_turns: int  # P4: turns sent (HOUR_TURNS = an hour)
    renders: int  # first render: cells per kind
    deadline_s: float  # the whole run
    audio_connections: int  # P5: connections per path
    audio_seconds: float  # P5: listening time per connection


FULL = Profile(
    connect_runs=20,
    rate=200.0,
    rate_seconds=15.0,
    burst=5000,
    tool_calls=30,
    hour_turns=HOUR_TURNS,
    renders=6,
    deadline_s=600.0,
    audio_connections=4,
    audio_seconds=30.0,
)
QUICK = Profile(
    connect_runs=6,
    rate=200.0,
    rate_seconds=5.0,
    burst=5000,
    tool_calls=10,
    hour_turns=HOUR_TURNS // 4,
    renders=3,
    deadline_s=360.0,
    audio_connections=2,
    audio_seconds=20.0,
)


# ---- GA server events the flood peer sends (shared with the validation in the parent) ----------


def event_id() -> str:
    return f"evt_{secrets.token_hex(8)}"


def ev(kind: str, **fields: Any) -> Json:
    """A server event with a fresh ``event_id``."""
    return {"type": kind, "event_id": event_id(), **fields}


def session_created() -> Json:
    session = {
        "type": "realtime",
        "object": "realtime.session",
        "id": f"sess_{secrets.token_hex(8)}",
        "expires_at": int(time.time()) + 3600,
        "model": "gpt-realtime-2.1",
        "output_modalities": ["text"],
    }
    return ev("session.created", session=session)


def response(resp_id: str, status: str, output: list[Json]) -> Json:
    return {"id": resp_id, "object": "realtime.response", "status": status, "output": output}


def text_response(tag: str) -> tuple[Json, list[Json]]:
    """``where`` (the fields every delta carries) and the events that open a text response."""
    resp_id, item_id = f"resp_{tag}{secrets.token_hex(4)}", f"item_{tag}{secrets.token_hex(4)}"
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    where = {"response_id": resp_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    return where, [
        ev("response.created", response=response(resp_id, "in_progress", [])),
        ev("response.output_item.added", response_id=resp_id, output_index=0, item=item),
        ev("conversation.item.added", item=item),
        ev("response.content_part.added", **where, part={"type": "text", "text": ""}),
    ]


def text_delta(where: Json, phase: str, k: int) -> Json:
    """One delta; ``event_id`` = ``evt_<phase><k>_<send time in ns>``."""
    return {
        "type": "response.output_text.delta",
        "event_id": f"evt_{phase}{k:05d}_{time.time_ns()}",
        **where,
        "delta": "x",
    }


def text_response_end(where: Json, text: str) -> list[Json]:
    resp_id, item_id = where["response_id"], where["item_id"]
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text}],
    }
    return [
        ev("response.output_text.done", **where, text=text),
        ev("response.content_part.done", **where, part={"type": "text", "text": text}),
        ev("conversation.item.done", item=item),
        ev("response.output_item.done", response_id=resp_id, output_index=0, item=item),
        ev("response.done", response=response(resp_id, "completed", [item])),
    ]


def hour_turn(k: int) -> list[Json]:
    """One turn of P4's hour: a text response of 40 deltas whose ``response.done`` has usage."""
    where, opening = text_response("h")
    deltas = [{**text_delta(where, "h", k), "delta": "word "} for _ in range(40)]
    *rest, done = text_response_end(where, "word " * 40)
    usage = {
        "total_tokens": 1300,
        "input_tokens": 1200,
        "output_tokens": 100,
        "input_token_details": {
            "text_tokens": 200,
            "audio_tokens": 1000,
            "image_tokens": 0,
            "cached_tokens": 600,
            "cached_tokens_details": {"text_tokens": 100, "audio_tokens": 500, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": 20, "audio_tokens": 80},
    }
    done["response"]["usage"] = usage
    return [*opening, *deltas, *rest, done]


def function_call(i: int) -> tuple[str, list[Json], int]:
    """(call_id, the events of one function-call response, index of ``arguments.done``)."""
    resp_id, item_id, call_id = f"resp_t{i:03d}", f"item_t{i:03d}", f"call_bench{i:03d}"
    arguments = json.dumps({"i": i})
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": TOOL,
        "call_id": call_id,
        "arguments": "",
    }
    done = {**item, "status": "completed", "arguments": arguments}
    where = {"response_id": resp_id, "item_id": item_id, "output_index": 0, "call_id": call_id}
    events = [
        ev("response.created", response=response(resp_id, "in_progress", [])),
        ev("response.output_item.added", response_id=resp_id, output_index=0, item=item),
        ev("conversation.item.added", item=item),
        ev("response.function_call_arguments.delta", **where, delta=arguments),
        ev("response.function_call_arguments.done", **where, name=TOOL, arguments=arguments),
        ev("conversation.item.done", item=done),
        ev("response.output_item.done", response_id=resp_id, output_index=0, item=done),
        ev("response.done", response=response(resp_id, "completed", [done])),
    ]
    return call_id, events, 4


def item_ack(item: Json) -> list[Json]:
    """``conversation.item.added`` + ``.done`` for a client-created item."""
    item = {**item, "id": item.get("id") or f"item_{secrets.token_hex(6)}"}
    item.update(object="realtime.item", status="completed")
    return [ev("conversation.item.added", item=item), ev("conversation.item.done", item=item)]


def empty_response() -> list[Json]:
    """The reply to the kernel's follow-up ``response.create``: a response with no output."""
    resp_id = f"resp_{secrets.token_hex(6)}"
    return [
        ev("response.created", response=response(resp_id, "in_progress", [])),
        ev("response.done", response=response(resp_id, "completed", [])),
    ]


# ---- the upstream child process (``--upstream``) ------------------------------------------------


def loopback_only() -> None:
    """Gather only 127.0.0.1 ICE candidates."""

    def addresses(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"]

    aioice.ice.get_host_addresses = addresses


class FloodCall:
    """One WebRTC call answered by the flood peer: it sends what the parent asks for."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel: RTCDataChannel | None = None
        self.outputs: dict[str, asyncio.Future[tuple[int, str]]] = {}
        self.follow_up = asyncio.Event()
        self.samples: dict[str, Json] = {}  # the first wire event of each type
        self._drain: asyncio.Task[None] | None = None
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)

    async def answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def close(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
        await self.pc.close()

    @property
    def open(self) -> bool:
        return self.channel is not None and self.channel.readyState == "open"

    def send(self, event: Json) -> None:
        assert self.channel is not None
        self.samples.setdefault(event["type"], event)
        self.channel.send(json.dumps(event))

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label == "oai-events":
            self.channel = channel
            channel.on("message", self._on_message)
            self.send(session_created())

    def _on_track(self, track: Any) -> None:
        async def drain() -> None:  # the mic's frames, read and dropped (no unbounded queue)
            with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
                while True:
                    await track.recv()

        if track.kind == "audio" and self._drain is None:
            self._drain = asyncio.ensure_future(drain())

    def _on_message(self, message: str | bytes) -> None:
        arrived = time.time_ns()
        try:
            event = json.loads(message)
        except ValueError:
            return
        kind = event.get("type")
        item = event.get("item") or {}
        if kind == "conversation.item.create" and item.get("type") == "function_call_output":
            waiting = self.outputs.pop(str(item.get("call_id")), None)
            if waiting is not None and not waiting.done():
                waiting.set_result((arrived, str(item.get("output"))))
            for ack in item_ack(item):
                self.send(ack)
        elif kind == "response.create":
            for reply in empty_response():
                self.send(reply)
            self.follow_up.set()

    async def drained(self, limit: float = 30.0) -> float:
        """Wait until aiortc has handed everything queued to SCTP; the epoch time then."""
        assert self.channel is not None
        if self.channel.bufferedAmount > 0:
            low = asyncio.Event()
            self.channel.once("bufferedamountlow", low.set)  # fires on reaching 0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(low.wait(), limit)
        return time.time()

    async def rate(self, rate: float, seconds: float) -> Json:
        """``rate`` deltas per second for ``seconds``, on an absolute schedule."""
        where, opening = text_response("r")
        for event in opening:
            self.send(event)
        n, period = round(rate * seconds), 1.0 / rate
        loop = asyncio.get_running_loop()
        start, behind = loop.time(), 0.0
        first = time.time()
        for k in range(n):
            wait = start + k * period - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                behind = max(behind, -wait)
            self.send(text_delta(where, "r", k))
        last = time.time()
        for event in text_response_end(where, "x" * n):
            self.send(event)
        drained = await self.drained()
        return {
            "sent": n,
            "first": first,
            "last": last,
            "drained": drained,
            "achieved_rate": round(n / max(last - first, 1e-9), 1),
            "max_behind_ms": round(behind * 1000, 1),
        }

    async def burst(self, n: int) -> Json:
        """``n`` deltas as fast as possible (yielding every 100 so SCTP sends meanwhile)."""
        where, opening = text_response("b")
        for event in opening:
            self.send(event)
        first = time.time()
        for k in range(n):
            self.send(text_delta(where, "b", k))
            if k % 100 == 99:
                await asyncio.sleep(0)
        last = time.time()
        for event in text_response_end(where, "x" * n):
            self.send(event)
        drained = await self.drained()
        return {"sent": n, "first": first, "last": last, "drained": drained}

    async def hour(self, turns: int) -> Json:
        """``turns`` turns of P4's hour, as fast as aiortc drains them."""
        first, sent = time.time(), 0
        for k in range(turns):
            for event in hour_turn(k):
                self.send(event)
                sent += 1
            await self.drained()
        return {"turns": turns, "sent": sent, "first": first, "last": time.time()}

    async def tools(self, n: int, gap: float) -> Json:
        """``n`` function calls, one at a time; each waits for its output and follow-up."""
        loop = asyncio.get_running_loop()
        calls: list[Json] = []
        for i in range(n):
            call_id, events, done_at = function_call(i)
            waiting: asyncio.Future[tuple[int, str]] = loop.create_future()
            self.outputs[call_id] = waiting
            self.follow_up.clear()
            sent_ns = 0
            for index, event in enumerate(events):
                if index == done_at:
                    sent_ns = time.time_ns()
                self.send(event)
            try:
                arrived, output = await asyncio.wait_for(waiting, 10.0)
            except asyncio.TimeoutError:
                calls.append({"i": i, "error": "no function_call_output within 10 s"})
                continue
            with contextlib.suppress(asyncio.TimeoutError):  # the kernel's follow-up response
                await asyncio.wait_for(self.follow_up.wait(), 5.0)
            calls.append({"i": i, "done_sent_ns": sent_ns, "output_ns": arrived, "output": output})
            await asyncio.sleep(gap)
        return {"calls": calls}


class Upstream:
    """The child's state: ``local`` mode hands calls to the local backend, ``flood`` to us."""

    def __init__(self) -> None:
        self.mode = "local"
        self.call: FloodCall | None = None

    async def flood_call(self, offer: str) -> tuple[str, str]:
        if self.call is not None:
            await self.call.close()
        call_id = f"rtc_bench{secrets.token_hex(8)}"
        self.call = FloodCall(call_id)
        return call_id, await self.call.answer(offer)

    async def control(self, action: str, body: Json) -> Json:
        if action == "mode":
            self.mode = str(body["mode"])
            return {"mode": self.mode}
        call = self.call
        if call is None or not call.open:
            raise RuntimeError("no open flood call")
        if action == "rate":
            return await call.rate(float(body["rate"]), float(body["seconds"]))
        if action == "burst":
            return await call.burst(int(body["n"]))
        if action == "tools":
            return await call.tools(int(body["n"]), float(body["gap"]))
        if action == "hour":
            return await call.hour(int(body["turns"]))
        if action == "samples":
            return {"samples": list(call.samples.values())}
        raise ValueError(f"unknown action {action!r}")

    async def close(self) -> None:
        if self.call is not None:
            await self.call.close()


class BenchCalls(local_server.CallsHandler):
    """``POST /v1/realtime/calls``: the local backend's handler, or the flood peer."""

    def initialize(  # type: ignore[override]
        self, backend: LocalRealtime, access: Access, upstream: Upstream
    ) -> None:
        super().initialize(backend, access)
        self.upstream = upstream

    async def post(self) -> None:
        if self.upstream.mode != "flood":
            await super().post()
            return
        try:
            self.bearer()
            sdp, _session = self._multipart(self.request.headers.get("Content-Type", ""))
            call_id, answer = await self.upstream.flood_call(
                check_offer(sdp, max_bytes=MAX_OFFER_BYTES)
            )
        except RealtimeError as error:
            self.fail(error)
            return
        self.set_status(201)
        self.set_header("Content-Type", "application/sdp")
        self.set_header("Location", f"/v1/realtime/calls/{call_id}")
        self.finish(answer)


class Control(web.RequestHandler):
    """``POST /bench/<action>`` from the parent: switch mode, flood, call tools."""

    def initialize(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def post(self, action: str) -> None:
        try:
            result = await self.upstream.control(action, json.loads(self.request.body or b"{}"))
        except Exception as exc:
            self.set_status(500)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        self.finish(result)


async def upstream_main() -> None:
    """``--upstream``: serve on a free loopback port (printed as JSON) until stdin closes."""
    loopback_only()
    backend, upstream = LocalRealtime(), Upstream()
    local = {"backend": backend, "access": Access.create(host="127.0.0.1")}
    app = web.Application(
        [
            (r"/v1/realtime/calls", BenchCalls, {**local, "upstream": upstream}),
            (r"/v1/realtime/calls/([^/]+)/hangup", local_server.HangupHandler, local),
            (r"/bench/(\w+)", Control, {"upstream": upstream}),
        ]
    )
    server = HTTPServer(app)
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    print(json.dumps({"port": sockets[0].getsockname()[1]}), flush=True)
    await serve_until_parent_goes()
    server.stop()
    await upstream.close()
    await backend.close()


# ---- the parent: drives the upstream, Jupyter and Chromium ------------------------------------


class UpstreamProcess:
    """The ``--upstream`` child: started, controlled over HTTP, stopped by closing its stdin."""

    def __init__(self, log: Path) -> None:
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def v1(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 30.0) -> UpstreamProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(SCRIPT), "--upstream"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=ROOT,
            )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.stop()
            raise RuntimeError(f"the upstream did not start; see {self.log_path}")
        self.port = int(json.loads(line)["port"])
        return self

    def control(self, action: str, timeout: float = 30.0, **body: Any) -> Json:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/bench/{action}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
                return dict(json.loads(reply.read()))
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"upstream {action}: {error.read().decode()}") from None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


BARE_PAGE = """<!doctype html>
<meta charset="utf-8"><title>bare realtime page</title>
<script>
// The minimum a page does to talk to the Realtime API over WebRTC, timed to session.created.
const now = () => performance.timeOrigin + performance.now();
window.connectOnce = async (base, session) => {
  const t0 = now();
  const mic = await navigator.mediaDevices.getUserMedia({
    audio: {echoCancellation: true, noiseSuppression: true, autoGainControl: true},
  });
  const pc = new RTCPeerConnection();
  pc.addTrack(mic.getAudioTracks()[0], mic);
  const dc = pc.createDataChannel("oai-events");
  let timer;
  const created = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error("no session.created within 15 s")), 15000);
    dc.onmessage = (e) => {
      if (JSON.parse(e.data).type === "session.created") resolve(now());
    };
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    const form = new FormData();
    form.set("sdp", pc.localDescription.sdp);
    form.set("session", JSON.stringify(session));
    const reply = await fetch(`${base}/realtime/calls`, {
      method: "POST", body: form, headers: {Authorization: "Bearer sk-bare-page"},
    });
    const answer = await reply.text();
    if (reply.status !== 201) throw new Error(`POST /realtime/calls: ${reply.status} ${answer}`);
    const tAnswer = now();
    await pc.setRemoteDescription({type: "answer", sdp: answer});
    const t1 = await created;
    return {ms: t1 - t0, answer_ms: tAnswer - t0};
  } finally {
    clearTimeout(timer);
    dc.close();
    pc.close();
    for (const track of mic.getTracks()) track.stop();
  }
};
// P5: a call that stays open (what a bare page plays is its <audio> element).
window.openCall = async (base, session) => {
  const mic = await navigator.mediaDevices.getUserMedia({
    audio: {echoCancellation: true, noiseSuppression: true, autoGainControl: true},
  });
  const pc = new RTCPeerConnection();
  pc.addTrack(mic.getAudioTracks()[0], mic);
  const audio = document.createElement("audio");
  audio.autoplay = true;
  pc.ontrack = (e) => { audio.srcObject = e.streams[0] || new MediaStream([e.track]); };
  const dc = pc.createDataChannel("oai-events");
  const created = new Promise((resolve) => {
    dc.onmessage = (e) => { if (JSON.parse(e.data).type === "session.created") resolve(); };
  });
  await pc.setLocalDescription(await pc.createOffer());
  const form = new FormData();
  form.set("sdp", pc.localDescription.sdp);
  form.set("session", JSON.stringify(session));
  const reply = await fetch(`${base}/realtime/calls`, {
    method: "POST", body: form, headers: {Authorization: "Bearer sk-bare-page"},
  });
  const answer = await reply.text();
  if (reply.status !== 201) throw new Error(`POST /realtime/calls: ${reply.status} ${answer}`);
  await pc.setRemoteDescription({type: "answer", sdp: answer});
  await created;
  window.__bare = {pc, mic, audio, dc};
  window.__rtnbPeers = [pc];
};
window.closeCall = () => {
  const call = window.__bare;
  if (!call) return;
  call.dc.close();
  call.pc.close();
  for (const track of call.mic.getTracks()) track.stop();
  call.audio.srcObject = null;
  window.__bare = null;
};
</script>
"""

# P5, in either page: the end of the caller's speech (the last loud 128-sample block of the mic
# track sent) → the first loud block of the reply (the remote track), both read on the audio
# thread (an AudioWorklet, so the page's main thread adds no jitter) against one AudioContext's
# clock; one figure per turn.
AUDIO_TURNS = """async (seconds) => {
  // the call's: the newest with an answer (the widget keeps a spare one, made ahead)
  const pc = (window.__rtnbPeers || []).findLast((p) => p.remoteDescription);
  if (!pc) throw new Error("no peer connection");
  // the widget's microphone joins the call once it opens, after the answer (replaceTrack)
  const track = (s) => s.track && s.track.kind === "audio";
  for (let waited = 0; waited < 5000 && !pc.getSenders().some(track); waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const sent = pc.getSenders().find(track);
  const received = pc.getReceivers().find(track);
  if (!sent || !received) throw new Error("no audio both ways");
  const ctx = new AudioContext();
  await ctx.resume();
  const processor = `
    const level = (block) => {
      if (!block) return 0;
      let sum = 0;
      for (let i = 0; i < block.length; i++) sum += block[i] * block[i];
      return Math.sqrt(sum / block.length);
    };
    registerProcessor("rtnb-turn-tap", class extends AudioWorkletProcessor {
      constructor() { super(); this.spokeAt = null; this.waiting = false; }
      process(inputs) {
        const start = currentTime * 1000, span = 128 / sampleRate * 1000;
        if (level(inputs[0][0]) > 0.01) { this.spokeAt = start + span; this.waiting = true; }
        else if (this.waiting && level(inputs[1][0]) > 0.01) {
          this.port.postMessage(start - this.spokeAt);
          this.waiting = false;
        }
        return true;
      }
    });`;
  const url = URL.createObjectURL(new Blob([processor], {type: "text/javascript"}));
  await ctx.audioWorklet.addModule(url);
  const tap = new AudioWorkletNode(ctx, "rtnb-turn-tap", {numberOfInputs: 2, numberOfOutputs: 1});
  ctx.createMediaStreamSource(new MediaStream([sent.track])).connect(tap, 0, 0);
  ctx.createMediaStreamSource(new MediaStream([received.track])).connect(tap, 0, 1);
  const silent = ctx.createGain();
  silent.gain.value = 0;
  tap.connect(silent).connect(ctx.destination);
  const turns = [];
  tap.port.onmessage = (e) => turns.push(e.data);
  await new Promise((done) => setTimeout(done, seconds * 1000));
  await ctx.close();
  URL.revokeObjectURL(url);
  return turns;
}"""


class BarePageServer:
    """Serves ``BARE_PAGE`` on a loopback port (a thread); its origin differs from the
    upstream's, so the POST needs CORS, as a page calling api.openai.com does."""

    def __init__(self) -> None:
        body = BARE_PAGE.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# Kernel side, after the harness's setup cell: drop its per-event JSONL logger (a file write
# per event would dominate what is measured), keep each delta's handler time, browser receipt
# time and id in memory, log session.created, and register a tool that times itself.
KERNEL_EXTRA = f'''
import hashlib
s.off("*")
_stream = []
_tool_walls = {{}}

def _on_delta(event, _now=time.time, _keep=_stream.append):
    _keep((_now(), event.t, event.raw.get("event_id")))

s.on("response.output_text.delta", _on_delta)
s.budget_usd = 1e9  # never reached: every response.done still checks the cost (P4)

@s.on("session.created")
def _on_created(event):
    at = time.time()
    _record("created", at=at, browser_t=event.t)

@s.tool
def {TOOL}(i: int) -> dict:
    """A benchmark tool: a little hashing, timed by itself.

    Args:
        i: The call's number.
    """
    wall, start = time.time(), time.perf_counter()
    digest = hashlib.sha256(str(i).encode() * 1000).hexdigest()
    took = (time.perf_counter() - start) * 1000
    _tool_walls[i] = (wall, time.time())
    return {{"i": i, "digest": digest[:12], "tool_ms": took}}
'''

# Date.now() (the system clock) minus the page clock the widget stamps events with.
PAGE_CLOCK_OFFSET = """() => {
  const offsets = [];
  for (let i = 0; i < 50; i++) {
    offsets.push(Date.now() - (performance.timeOrigin + performance.now()));
  }
  return offsets.sort((a, b) => a - b)[25];
}"""

CLICK_CONNECT = """() => {
  performance.setResourceTimingBufferSize(10000);
  performance.clearResourceTimings();
  const t = {date: Date.now(), perf: performance.timeOrigin + performance.now()};
  document.querySelector("[data-testid=connect]").click();
  return t;
}"""


# The widget's requests to the extension during a connect (status, then the call), in ms from
# the click, from the page's resource timing.
CONNECT_REQUESTS = """(t0) => {
  const pick = (part) => {
    const entry = performance.getEntriesByType("resource").find((e) => e.name.includes(part));
    if (!entry) return null;
    const at = (x) => performance.timeOrigin + x - t0;
    return {start: at(entry.startTime), end: at(entry.responseEnd)};
  };
  return {status: pick("rt-notebook/status"), calls: pick("rt-notebook/calls")};
}"""


def widget_connect(page: NotebookPage) -> Json:
    """Click Connect; ms to ``session.created`` in the Python handler (and in the browser)."""
    since = page.events.mark()
    t0 = evaluate(page.page, CLICK_CONNECT)
    found = wait_for(
        lambda: [r for r in page.events.records()[since:] if r.get("kind") == "created"],
        timeout=20,
        interval=0.02,
        what="session.created in the kernel",
    )
    page.wait_status("connected", timeout=10)
    record = found[0]
    requests = evaluate(page.page, CONNECT_REQUESTS, t0["perf"])
    return {
        "ms": record["at"] * 1000 - t0["date"],
        "browser_ms": record["browser_t"] - t0["perf"],
        "status": requests["status"],
        "calls": requests["calls"],
    }


def widget_disconnect(page: NotebookPage) -> None:
    page.widget("disconnect").click()
    page.wait_status("closed", timeout=10)


def measure_connect(page: NotebookPage, bare: Any, upstream: str, runs: int) -> Json:
    """P1: widget and bare page alternately (order swapped each round), warm-up dropped."""
    session = kernel_query(page, "s.widget.session_config")
    widget: list[Json] = []
    plain: list[Json] = []
    for round_ in range(runs + 1):
        order = ("widget", "bare") if round_ % 2 == 0 else ("bare", "widget")
        for path in order:
            if path == "widget":
                widget.append(widget_connect(page))
                widget_disconnect(page)
            else:
                plain.append(
                    evaluate(bare, "([b, s]) => window.connectOnce(b, s)", [upstream, session])
                )
            time.sleep(0.3)  # let the backend close the call
    w_ms = [r["ms"] for r in widget[1:]]
    b_ms = [r["ms"] for r in plain[1:]]
    return {
        "runs": runs,
        "warmup": {"widget_ms": round(widget[0]["ms"], 1), "bare_ms": round(plain[0]["ms"], 1)},
        "widget_to_python_ms": stats(w_ms),
        "widget_in_browser_ms": stats([r["browser_ms"] for r in widget[1:]]),
        "widget_legs_ms": {
            "click_to_status_done": stats(
                [r["status"]["end"] for r in widget[1:] if r.get("status")]
            ),
            "click_to_call_post": stats(
                [r["calls"]["start"] for r in widget[1:] if r.get("calls")]
            ),
            "call_post": stats(
                [r["calls"]["end"] - r["calls"]["start"] for r in widget[1:] if r.get("calls")]
            ),
            "answer_to_session_created_in_js": stats(
                [r["browser_ms"] - r["calls"]["end"] for r in widget[1:] if r.get("calls")]
            ),
        },
        "bare_page_ms": stats(b_ms),
        "bare_answer_ms": stats([r["answer_ms"] for r in plain[1:]]),
        "ratio_median": round(float(np.median(w_ms) / np.median(b_ms)), 2),
        "widget_samples_ms": [round(x, 1) for x in w_ms],
        "bare_samples_ms": [round(x, 1) for x in b_ms],
    }


def measure_audio(
    page: NotebookPage, bare: Any, upstream: str, connections: int, seconds: float
) -> Json:
    """P5: end of speech → first audible reply, widget against bare page, on fresh
    connections alternating between the two (the fake mic loops speech and silence)."""
    session = kernel_query(page, "s.widget.session_config")
    kernel_run(page, "s.widget.muted = False")
    widget: list[float] = []
    plain: list[float] = []
    try:
        for round_ in range(connections):
            order = ("widget", "bare") if round_ % 2 == 0 else ("bare", "widget")
            for path in order:
                if path == "widget":
                    widget_connect(page)
                    try:
                        widget += evaluate(page.page, AUDIO_TURNS, seconds, seconds + 15)
                    finally:
                        widget_disconnect(page)
                else:
                    evaluate(bare, "([b, s]) => window.openCall(b, s)", [upstream, session], 30)
                    try:
                        plain += evaluate(bare, AUDIO_TURNS, seconds, seconds + 15)
                    finally:
                        evaluate(bare, "() => window.closeCall()", None, 10)
                time.sleep(0.3)
    finally:
        kernel_run(page, "s.widget.muted = True")
    result: Json = {
        "connections_per_path": connections,
        "seconds_each": seconds,
        "widget_ms": stats(widget),
        "bare_page_ms": stats(plain),
        "load": load(),
    }
    if widget and plain:
        result["ratio_median"] = round(float(np.median(widget) / np.median(plain)), 3)
    return result


def kernel_count(page: NotebookPage) -> int:
    return int(kernel_query(page, "len(_stream)"))


def wait_delivered(page: NotebookPage, target: int, stall: float, limit: float) -> int:
    """Poll the kernel's count until ``target``, no progress for ``stall`` s, or ``limit`` s."""
    start = last_change = time.monotonic()
    last = -1
    while True:
        count = kernel_count(page)
        now = time.monotonic()
        if count >= target or now - start > limit:
            return count
        if count != last:
            last, last_change = count, now
        elif now - last_change > stall:
            return count
        time.sleep(0.25)


EVENT_ID = re.compile(r"evt_([rb])(\d+)_(\d+)")


def stream_phase(records: list[tuple[float, float, str]], phase: str, sent: Json) -> Json:
    """Latency (split at the browser's receipt), loss and order of one phase's deltas."""
    seen: dict[int, tuple[float, float]] = {}  # k -> (send → browser, browser → Python) ms
    order: list[int] = []
    last_at = 0.0
    for at, browser_t, eid in records:
        match = EVENT_ID.fullmatch(eid)
        if not match or match.group(1) != phase:
            continue
        k, sent_ms = int(match.group(2)), int(match.group(3)) / 1e6
        seen.setdefault(k, (browser_t - sent_ms, at * 1000 - browser_t))
        order.append(k)
        last_at = max(last_at, at)
    n = int(sent["sent"])
    out_of_order = sum(b < a for a, b in itertools.pairwise(order))
    result = {
        "sent": n,
        "received": len(seen),
        "lost": len(set(range(n)) - set(seen)),
        "duplicates": len(order) - len(seen),
        "out_of_order": out_of_order,
        "latency_ms": stats([a + b for a, b in seen.values()]),
        "to_browser_ms": stats([a for a, _ in seen.values()]),
        "browser_to_python_ms": stats([b for _, b in seen.values()]),
        "send_ms": round((sent["last"] - sent["first"]) * 1000, 1),
        "upstream_drained_ms": round((sent["drained"] - sent["first"]) * 1000, 1),
    }
    if seen:
        span = last_at - sent["first"]
        result["last_in_python_ms"] = round(span * 1000, 1)
        result["throughput_per_s"] = round(len(seen) / max(span, 1e-9))
    for key in ("achieved_rate", "max_behind_ms"):
        if key in sent:
            result[key] = sent[key]
    return result


def measure_stream(
    page: NotebookPage, upstream: UpstreamProcess, profile: Profile, dump: Path
) -> Json:
    """P2: steady rate, then the burst; the kernel's arrival times are fetched at the end."""
    kernel_run(page, "_stream.clear()")
    rate = upstream.control(
        "rate", timeout=profile.rate_seconds + 60, rate=profile.rate, seconds=profile.rate_seconds
    )
    wait_delivered(page, rate["sent"], stall=5, limit=30)
    burst = upstream.control("burst", timeout=90, n=profile.burst)
    wait_delivered(page, rate["sent"] + burst["sent"], stall=8, limit=90)
    kernel_run(page, f"Path({str(dump)!r}).write_text(json.dumps(_stream))")
    records = [(float(a), float(b), str(eid)) for a, b, eid in json.loads(dump.read_text())]
    return {
        "rate": {
            "target_per_s": profile.rate,
            "seconds": profile.rate_seconds,
            **stream_phase(records, "r", rate),
        },
        "burst": stream_phase(records, "b", burst),
    }


# Per call id: the browser's receipt of arguments.done and its send of the output (the
# kernel's event log), and the tool's wall-clock start and end.
TOOL_TIMES = """{
  "done": {e.call_id: e.t for e in s.events.of("response.function_call_arguments.done")},
  "output": {e.item["call_id"]: e.t for e in s.events
             if e.direction == "client" and (e.item or {}).get("type") == "function_call_output"},
  "walls": {f"call_bench{i:03d}": w for i, w in _tool_walls.items()},
}"""


# The page's kernel WebSocket, watched while P3 runs (``__rtnbTap``): when the frame carrying
# each call's ``arguments.done`` left the page, and when the one carrying its output came in.
# So the kernel legs split into the page's part and the Jupyter transport's (page → Jupyter
# server → kernel and back), which no code of ours is on.
WS_TAP = r"""
(() => {
  const Original = window.WebSocket;
  if (!Original || window.__rtnbWs) return;
  window.__rtnbWs = {out: {}, in: {}};
  const decoder = new TextDecoder();
  const note = (where, data, marker) => {
    if (!window.__rtnbTap) return;
    const t = performance.timeOrigin + performance.now();
    let text = "";
    try { text = typeof data === "string" ? data : decoder.decode(data); } catch { return; }
    if (!text.includes(marker)) return;
    for (const id of text.match(/call_bench\d+/g) || []) where[id] ??= t;
  };
  window.WebSocket = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) =>
        note(window.__rtnbWs.in, e.data, "function_call_output"));
    }
    send(data) {
      note(window.__rtnbWs.out, data, "response.function_call_arguments.done");
      return super.send(data);
    }
  };
})();
"""


def measure_tools(page: NotebookPage, upstream: UpstreamProcess, calls: int) -> Json:
    """P3: round trip arguments.done → function_call_output, minus the tool's own time, and
    where the time goes (upstream → browser → kernel → tool → browser → upstream)."""
    evaluate(page.page, "() => { window.__rtnbTap = true; }")
    result = upstream.control("tools", timeout=calls * 16 + 10, n=calls, gap=0.2)
    evaluate(page.page, "() => { window.__rtnbTap = false; }")
    kernel = kernel_query(page, TOOL_TIMES)
    ws = evaluate(page.page, "() => window.__rtnbWs") or {"out": {}, "in": {}}
    legs = ("to_browser", "to_tool", "to_wire", "back", "page_out", "jupyter_in", "jupyter_out")
    parts: dict[str, list[float]] = {k: [] for k in legs}
    round_trip, tool, overhead, errors = [], [], [], []
    for call in result["calls"]:
        if "error" in call:
            errors.append(call)
            continue
        sent, arrived = call["done_sent_ns"] / 1e6, call["output_ns"] / 1e6
        own = float(json.loads(call["output"])["tool_ms"])
        round_trip.append(arrived - sent)
        tool.append(own)
        overhead.append(arrived - sent - own)
        cid = f"call_bench{call['i']:03d}"
        with contextlib.suppress(KeyError):
            start, end = (x * 1000 for x in kernel["walls"][cid])
            browser_in, browser_out = kernel["done"][cid], kernel["output"][cid]
            parts["to_browser"].append(browser_in - sent)
            parts["to_tool"].append(start - browser_in)
            parts["to_wire"].append(browser_out - end)
            parts["back"].append(arrived - browser_out)
            ws_out, ws_in = ws["out"][cid], ws["in"][cid]  # the tool's leg, split
            parts["page_out"].append(ws_out - browser_in)
            parts["jupyter_in"].append(start - ws_out)
            parts["jupyter_out"].append(ws_in - end)
    return {
        "calls": calls,
        "completed": len(round_trip),
        "errors": errors,
        "round_trip_ms": stats(round_trip),
        "tool_ms": {
            "median": round(float(np.median(tool)), 3) if tool else None,
            "max": round(max(tool), 3) if tool else None,
        },
        "overhead_ms": stats(overhead),
        "parts_ms": {name: stats(values) for name, values in parts.items()},
    }


def proc_rss_mb(pid: int) -> float:
    """Resident memory of a process, MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_heap_mb(cdp: Any) -> float:
    """The page's used JS heap after a full GC, MB (Chrome DevTools Protocol)."""
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return float(metrics["JSHeapUsedSize"]) / 2**20


def measure_hour(
    page: NotebookPage, upstream: UpstreamProcess, turns: int, deadline: Deadline
) -> Json:
    """P4: an hour-long session's kernel and browser memory. ``turns`` text turns (an hour is
    HOUR_TURNS, a turn every 10 s) are sent as fast as they go; growth is scaled to an hour."""
    kernel_run(page, 's.off("response.output_text.delta"); _stream.clear(); import gc')
    pid = int(kernel_query(page, "__import__('os').getpid()"))
    deadline.pids.append(pid)
    cdp = page.context.new_cdp_session(page.page)
    cdp.send("Performance.enable")
    count0 = int(kernel_query(page, "len(s.events)"))
    kernel_run(page, "gc.collect()")
    rss0, cpu0, heap0 = proc_rss_mb(pid), proc_cpu_s(pid), browser_heap_mb(cdp)
    sent = upstream.control("hour", timeout=turns * 2 + 60, turns=turns)
    target = count0 + int(sent["sent"])
    start = time.monotonic()
    count = count0
    while count < target and time.monotonic() - start < 60:
        time.sleep(0.5)
        count = int(kernel_query(page, "len(s.events)"))
    kernel_run(page, "gc.collect()")
    rss1, cpu1, heap1 = proc_rss_mb(pid), proc_cpu_s(pid), browser_heap_mb(cdp)
    spent = kernel_query(page, "s.cost()['cost_usd']")
    in_memory = kernel_query(page, "len(s.events) - getattr(s.events, 'spilled', 0)")
    scale = HOUR_TURNS / turns
    return {
        "turns": turns,
        "events_sent": sent["sent"],
        "events_in_kernel": count - count0,
        "events_in_kernel_memory": in_memory,
        "send_s": round(sent["last"] - sent["first"], 1),
        "scale_to_hour": scale,
        "kernel_rss_growth_mb": round(rss1 - rss0, 1),
        "kernel_cpu_s": round(cpu1 - cpu0, 2),
        "browser_heap_growth_mb": round(heap1 - heap0, 1),
        "hour_kernel_rss_growth_mb": round((rss1 - rss0) * scale, 1),
        "hour_kernel_cpu_s": round((cpu1 - cpu0) * scale, 1),
        "hour_browser_heap_growth_mb": round((heap1 - heap0) * scale, 1),
        "kernel_rss_mb_end": round(rss1, 1),
        "browser_heap_mb_end": round(heap1, 1),
        "cost_usd_seen": spent,
    }


# Insert a code cell at the end, run it, and time until ``selector`` gains an element; the
# cell is deleted afterwards.
RENDER_CELL = """async ([code, selector]) => {
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  const count = () => document.querySelectorAll(selector).length;
  const before = count();
  notebook.activeCellIndex = notebook.widgets.length - 1;
  await app.commands.execute("notebook:insert-cell-below");
  notebook.activeCell.model.sharedModel.setSource(code);
  const shown = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (count() > before) { observer.disconnect(); resolve(performance.now()); }
    });
    observer.observe(document.body, {childList: true, subtree: true});
  });
  const t0 = performance.now();
  app.commands.execute("notebook:run-cell");
  const t1 = await shown;
  await app.commands.execute("notebook:delete-cell");
  return t1 - t0;
}"""


def measure_render(page: NotebookPage, n: int) -> Json:
    """First render: a cell that displays a new session → its Connect button in the page,
    against a cell that displays a plain ipywidgets Button (alternating, first of each
    dropped)."""
    kinds = {
        "session": ("rt.RealtimeSession()", "[data-testid=connect]"),
        "button": ("import ipywidgets; ipywidgets.Button(description='r')", ".widget-button"),
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(n + 1):
        for kind, (code, selector) in kinds.items():
            times[kind].append(float(evaluate(page.page, RENDER_CELL, [code, selector], 30)))
    session, button = times["session"][1:], times["button"][1:]
    return {
        "session_ms": stats(session),
        "button_ms": stats(button),
        "ratio_median": round(float(np.median(session) / np.median(button)), 2),
        "first_session_ms": round(times["session"][0], 1),
    }


IMPORT_TIMER = (
    "import sys, time; t = time.perf_counter(); import rt_notebook; "
    "print(time.perf_counter() - t, 'pydantic' in sys.modules)"
)


def measure_import(runs: int = 7) -> Json:
    """``import rt_notebook`` in a fresh interpreter, timed inside it (startup excluded)."""
    seconds, pydantic = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_TIMER],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        seconds.append(float(out[0]))
        pydantic.append(out[1] == "True")
    return {
        "runs": runs,
        "median_s": round(float(np.median(seconds)), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "pydantic_imported": any(pydantic),
        "load": load(),
    }


def validate(events: list[Json]) -> Json:
    """Each event GA-valid per openai-python's models (tests/protocol.py)."""
    from tests.protocol import assert_server_event

    bad = []
    for event in events:
        try:
            assert_server_event(event)
        except Exception as exc:
            bad.append(f"{event.get('type')}: {str(exc)[:300]}")
    return {"checked": len(events), "types": sorted({e["type"] for e in events}), "invalid": bad}


def builder_samples() -> list[Json]:
    where, opening = text_response("v")
    _, calls, _ = function_call(0)
    item = {"type": "function_call_output", "call_id": "call_bench000", "output": "{}"}
    return [
        session_created(),
        *opening,
        text_delta(where, "v", 0),
        *text_response_end(where, "x"),
        *calls,
        *item_ack(item),
        *empty_response(),
        *hour_turn(0)[-1:],
    ]


def guarded(name: str, errors: Json, step: Callable[[], Json]) -> Json:
    """Run one phase; a failure becomes ``{"error": …}`` so the other phases still run."""
    try:
        return step()
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
        print(f"  {name} failed: {errors[name]}", flush=True)
        return {"error": errors[name]}


def run(args: argparse.Namespace) -> Json:
    profile = QUICK if args.quick else FULL
    started = time.monotonic()
    errors: Json = {}
    report: Json = {}
    with Deadline(args.deadline or profile.deadline_s) as deadline:
        try:
            phases(args, profile, deadline, started, report, errors)
        except KeyboardInterrupt:
            errors["deadline"] = (
                f"stopped after {time.monotonic() - started:.0f} s"
                if deadline.expired
                else "interrupted"
            )
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "shared": "other work on this machine changes the figures",
            "python": platform.python_version(),
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "profile": "quick" if args.quick else "full",
        "setup": {
            "widget": "JupyterLab + rt_notebook extension (backend=openai → upstream), "
            "RealtimeSession defaults, muted, record_audio on, budget_usd set",
            "bare_page": "own origin, POST straight to the upstream (CORS preflight)",
            "upstream": "child process: P1 LocalRealtime, P2/P3/P4 an aiortc flood peer",
        },
        **report,
        "errors": errors,
        "runtime_s": round(time.monotonic() - started, 1),
    }


def phases(
    args: argparse.Namespace,
    profile: Profile,
    deadline: Deadline,
    started: float,
    report: Json,
    errors: Json,
) -> None:
    """Every phase, in order; each failure is reported and the rest still run."""

    def done(name: str) -> None:
        print(f"  {name} done after {time.monotonic() - started:.0f} s ({load()})", flush=True)

    before = validate(builder_samples())
    report["ga_valid_builders"] = {"checked": before["checked"], "invalid": before["invalid"]}
    if before["invalid"]:
        raise RuntimeError(f"the flood peer's events are not GA-valid: {before['invalid']}")
    if "import" not in args.skip:
        report["import"] = guarded("import", errors, measure_import)
    done("import")
    workdir = Path(tempfile.mkdtemp(prefix="rtnb-latency-"))
    upstream = UpstreamProcess(workdir / "upstream.log").start()
    if upstream.proc is not None:
        deadline.pids.append(upstream.proc.pid)
    bare_server = BarePageServer()
    browser: Browser | None = None
    try:
        lab_args = [
            '--ServerApp.jpserver_extensions={"rt_notebook": True}',
            "--RealtimeExtension.backend=openai",
            "--RealtimeExtension.api_key=sk-bench",
            f"--RealtimeExtension.api_base_url={upstream.v1}",
            "--RealtimeExtension.rate_limit_per_minute=0",
        ]
        server = JupyterServer("bench", "lab", workdir / "lab", lab_args)
        with running(server):
            if server.process is not None:
                deadline.pids.append(server.process.pid)
            write_notebook(
                server.root / "latency.ipynb",
                [setup_cell("latency.jsonl", muted=True, extra=KERNEL_EXTRA)],
            )
            mic = speech_wav(
                "What is the weather like in Paris today?", workdir / "mic.wav", trail=6.0
            )
            browser = Browser(mic, workdir / "chromium-home")
            bare_context = browser.browser.new_context()
            bare = bare_context.new_page()
            bare.goto(bare_server.url, timeout=30_000)
            page = NotebookPage(browser, server, "latency.ipynb", "latency.jsonl")
            page.context.add_init_script(WS_TAP)
            with opened(page):
                done("setup")
                if "p1" not in args.skip:
                    report["p1_connect"] = guarded(
                        "p1",
                        errors,
                        lambda: measure_connect(page, bare, upstream.v1, profile.connect_runs),
                    )
                done("P1")
                if "p5" not in args.skip:
                    report["p5_audio"] = guarded(
                        "p5",
                        errors,
                        lambda: measure_audio(
                            page,
                            bare,
                            upstream.v1,
                            profile.audio_connections,
                            profile.audio_seconds,
                        ),
                    )
                done("P5")
                upstream.control("mode", mode="flood")
                flood = guarded("flood_connect", errors, lambda: widget_connect(page))
                report["flood_connect_ms"] = flood
                if "error" not in flood:
                    if "p2" not in args.skip:
                        report["p2_stream"] = guarded(
                            "p2",
                            errors,
                            lambda: measure_stream(
                                page, upstream, profile, workdir / "stream.json"
                            ),
                        )
                    done("P2")
                    if "p3" not in args.skip:
                        report["p3_tools"] = guarded(
                            "p3",
                            errors,
                            lambda: measure_tools(page, upstream, profile.tool_calls),
                        )
                    done("P3")
                    if "p4" not in args.skip:
                        report["p4_hour"] = guarded(
                            "p4",
                            errors,
                            lambda: measure_hour(page, upstream, profile.hour_turns, deadline),
                        )
                    done("P4")
                    report["ga_valid_wire_sample"] = guarded(
                        "sample",
                        errors,
                        lambda: validate(upstream.control("samples")["samples"]),
                    )
                    with contextlib.suppress(Exception):
                        widget_disconnect(page)
                if "render" not in args.skip:
                    report["first_render"] = guarded(
                        "render", errors, lambda: measure_render(page, profile.renders)
                    )
                done("first render")
                # Date.now() is whole ms: this is the offset to within about ±0.5 ms
                report["page_clock_offset_ms"] = round(
                    float(evaluate(page.page, PAGE_CLOCK_OFFSET)) + 0.5, 1
                )
            bare_context.close()
    finally:
        if browser is not None:
            browser.close()
        bare_server.close()
        upstream.stop()
        if args.keep:
            print(f"  kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(report: Json) -> str:
    rows: list[tuple[str, Json]] = []
    p1, p2, p3 = (report.get(k, {}) for k in ("p1_connect", "p2_stream", "p3_tools"))
    if "widget_to_python_ms" in p1:
        rows += [
            ("P1 widget: click → session.created in Python", p1["widget_to_python_ms"]),
            ("     click → in the widget's JS", p1["widget_in_browser_ms"]),
            (
                "     click → extension status answered",
                p1["widget_legs_ms"]["click_to_status_done"],
            ),
            ("     click → POST of the offer starts", p1["widget_legs_ms"]["click_to_call_post"]),
            ("     POST of the offer (via the extension)", p1["widget_legs_ms"]["call_post"]),
            (
                "     answer → session.created in JS",
                p1["widget_legs_ms"]["answer_to_session_created_in_js"],
            ),
            ("P1 bare page: start → session.created in JS", p1["bare_page_ms"]),
            ("     start → answer SDP received", p1["bare_answer_ms"]),
        ]
    for name in ("rate", "burst"):
        if name in p2:
            phase = p2[name]
            label = (
                f"{phase['target_per_s']:g}/s for {phase['seconds']:g} s"
                if name == "rate"
                else f"burst of {phase['sent']}"
            )
            rows += [
                (f"P2 {label}: sent → Python handler", phase["latency_ms"]),
                ("     sent → in the widget's JS", phase["to_browser_ms"]),
                ("     widget's JS → Python handler", phase["browser_to_python_ms"]),
            ]
    if "overhead_ms" in p3:
        parts = p3["parts_ms"]
        rows += [
            ("P3 tool: arguments.done sent → output back", p3["round_trip_ms"]),
            ("P3 overhead (round trip - tool's own time)", p3["overhead_ms"]),
            ("     sent → in the widget's JS", parts["to_browser"]),
            ("     widget's JS → tool starts in the kernel", parts["to_tool"]),
            ("       widget's JS → page's kernel WebSocket", parts.get("page_out", {})),
            ("       WebSocket → Jupyter server → kernel", parts.get("jupyter_in", {})),
            ("     tool returns → output sent by the browser", parts["to_wire"]),
            ("       kernel → Jupyter server → WebSocket", parts.get("jupyter_out", {})),
            ("     browser → upstream", parts["back"]),
        ]
    lines = [f"{'ms':<50}{'n':>6}{'median':>9}{'p90':>9}{'p99':>9}{'min':>9}{'max':>9}"]
    for label, s in rows:
        lines.append(
            f"{label:<50}{s.get('n', 0):>6}{fmt(s.get('median')):>9}{fmt(s.get('p90')):>9}"
            f"{fmt(s.get('p99')):>9}{fmt(s.get('min')):>9}{fmt(s.get('max')):>9}"
        )
    if "ratio_median" in p1:
        lines.append(
            f"P1 widget/bare (medians): {p1['ratio_median']:.2f}x; warm-up runs dropped: widget "
            f"{p1['warmup']['widget_ms']:.0f} ms, bare {p1['warmup']['bare_ms']:.0f} ms"
        )
    for name in ("rate", "burst"):
        phase = p2.get(name)
        if phase:
            extra = (
                f", achieved {phase['achieved_rate']:.0f}/s (max {phase['max_behind_ms']:.0f} ms "
                "behind schedule)"
                if name == "rate"
                else ""
            )
            lines.append(
                f"P2 {name}: lost {phase['lost']} of {phase['sent']}, duplicates "
                f"{phase['duplicates']}, out of order {phase['out_of_order']}; queued in "
                f"{phase['send_ms']:.0f} ms{extra}, aiortc's send buffer empty after "
                f"{phase['upstream_drained_ms']:.0f} ms; last in Python after "
                f"{fmt(phase.get('last_in_python_ms'), 0)} ms "
                f"({phase.get('throughput_per_s', '-')} events/s)"
            )
    if "tool_ms" in p3:
        lines.append(
            f"P3 {p3['completed']} of {p3['calls']} calls completed; the tool's own time "
            f"median {fmt(p3['tool_ms']['median'], 3)} ms"
        )
    p4 = report.get("p4_hour", {})
    if "kernel_rss_growth_mb" in p4:
        lines.append(
            f"P4 an hour's session ({HOUR_TURNS} turns, a turn every 10 s): sent "
            f"{p4['turns']} turns = {p4['events_sent']} events in {p4['send_s']:.0f} s, "
            f"{p4['events_in_kernel']} reached the kernel ({p4['events_in_kernel_memory']} of "
            f"the log in memory); growth kernel RSS {p4['kernel_rss_growth_mb']:+.1f} MB, "
            f"kernel CPU {p4['kernel_cpu_s']:.2f} s, browser JS heap "
            f"{p4['browser_heap_growth_mb']:+.1f} MB; SCALED x{p4['scale_to_hour']:g} to an "
            f"hour: kernel {p4['hour_kernel_rss_growth_mb']:+.1f} MB, "
            f"{p4['hour_kernel_cpu_s']:.1f} s CPU, browser {p4['hour_browser_heap_growth_mb']:+.1f}"
            " MB (events only: the mic is muted, audio recordings are bounded by "
            "max_memory_seconds)"
        )
    p5 = report.get("p5_audio", {})
    if "widget_ms" in p5:
        lines.append(
            f"P5 end of speech → first audible reply (page's audio clock): widget median "
            f"{fmt(p5['widget_ms'].get('median'))} ms (n {p5['widget_ms'].get('n', 0)}) vs bare "
            f"page {fmt(p5['bare_page_ms'].get('median'))} ms (n "
            f"{p5['bare_page_ms'].get('n', 0)}), {p5.get('ratio_median', '-')}x; "
            f"{p5['connections_per_path']} connections per path ({p5['load']})"
        )
    render = report.get("first_render", {})
    if "session_ms" in render:
        lines.append(
            f"First render (cell run → Connect visible): median "
            f"{fmt(render['session_ms'].get('median'))} ms vs an ipywidgets Button "
            f"{fmt(render['button_ms'].get('median'))} ms ({render['ratio_median']:.2f}x); "
            f"the first session in the page {render['first_session_ms']:.0f} ms"
        )
    imported = report.get("import", {})
    if "median_s" in imported:
        lines.append(
            f"import rt_notebook: median {imported['median_s']:.3f} s of {imported['runs']} "
            f"fresh interpreters (min {imported['min_s']:.3f}, max {imported['max_s']:.3f}); "
            f"pydantic imported: {imported['pydantic_imported']} ({imported['load']})"
        )
    lines.extend(goals(report))
    if "page_clock_offset_ms" in report:
        lines.append(
            f"Page clock (event.t) vs system clock: {report['page_clock_offset_ms']:+.1f} ms "
            "(±0.5): the error of the split points marked 'widget's JS' and 'browser'"
        )
    sample = report.get("ga_valid_wire_sample")
    if sample and "checked" in sample:
        lines.append(
            f"GA check of wire events (first of each of {sample['checked']} types): "
            f"{'all valid' if not sample['invalid'] else sample['invalid']}"
        )
    for name, error in report.get("errors", {}).items():
        lines.append(f"ERROR in {name}: {error}")
    return "\n".join(lines)


def goals(report: Json) -> list[str]:
    """Issue 16's goals, each with this run's figure and whether it is met."""
    p1, p2, p3 = (report.get(k, {}) for k in ("p1_connect", "p2_stream", "p3_tools"))
    # The "data-channel event → Python callback": from the channel's message in the
    # browser. The row after it adds the flood peer's own send (aiortc on this same machine).
    rate = p2.get("rate", {}).get("browser_to_python_ms", {})
    end_to_end = p2.get("rate", {}).get("latency_ms", {})
    rows: list[tuple[str, str, float | None, float | None]] = [
        ("P1 connect → Python, widget/bare", "≤ 1.15x", p1.get("ratio_median"), 1.15),
        ("P2 200/s channel → Python, p50 ms", "≤ 5", rate.get("median"), 5.0),
        ("P2 200/s channel → Python, p99 ms", "≤ 30", rate.get("p99"), 30.0),
        ("P2 same from the peer's send, p50/p99", "", end_to_end.get("median"), None),
        ("", "", end_to_end.get("p99"), None),
        ("P3 tool overhead, p50 ms", "≤ 10", p3.get("overhead_ms", {}).get("median"), 10.0),
        ("import rt_notebook, s", "≤ 0.3", report.get("import", {}).get("median_s"), 0.3),
        (
            "P5 speech end → audible, widget/bare",
            "≤ 1.02x",
            report.get("p5_audio", {}).get("ratio_median"),
            1.02,
        ),
    ]
    out = [f"goals ({load()}):"]
    for name, goal, value, limit in rows:
        if limit is None:
            verdict = "(no goal)"
        else:
            verdict = "-" if value is None else ("met" if value <= limit else "MISSED")
        out.append(f"  {name:<36}{goal:>9}{fmt(value, 2):>10}  {verdict}")
    lost = [p2.get(k, {}).get("lost") for k in ("rate", "burst")]
    out.append(f"  {'P2 events lost (rate, burst)':<36}{'0':>9}{lost!s:>10}")
    out.append("  local backend sessions with 0 late frames: see bench/local_capacity.py")
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="6 connects per path, 5 s at 200/s, 10 tool calls (default 20, 15 s, 30)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work dir (logs) and say where"
    )
    parser.add_argument(
        "--deadline", type=float, help="seconds before the run stops and tears down"
    )
    parser.add_argument(
        "--skip",
        default="",
        type=lambda text: {p.strip().lower() for p in text.split(",") if p.strip()},
        help="phases to leave out, comma-separated: import, p1, p2, p3, p4, p5, render",
    )
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.upstream:
        asyncio.run(upstream_main())
        return
    print(
        f"widget latency: {os.cpu_count()} CPUs, possibly shared (load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start); headless Chromium, "
        "JupyterLab + extension, upstream on 127.0.0.1",
        flush=True,
    )
    report = run(args)
    print(table(report))
    print(
        f"{report['runtime_s']} s; {os.cpu_count()} CPUs shared with whatever else runs here "
        f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at end)"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
