"""The local backend over several processes, for a class: one front port, calls spread out.

One event loop carries a handful of real-time sessions (Opus both ways, VAD, paced speech);
a class needs more. ``python -m rt_notebook.local --workers N`` starts N worker processes,
each a complete local backend on its own loopback port, and serves the public port with a
thin front that forwards every request:

- a new call, session or ephemeral key goes to the next worker in turn (an ``ek_`` key's
  calls go to the worker that minted it);
- a request naming a call or session (``/calls/ID/…``, ``?call_id=ID``, ``/sessions/ID``) goes
  to the worker that owns it, learned from the answers (``Location``, ``id``, ``value``), or,
  for an id the front never saw, to each worker until one knows it;
- ``GET /v1/local/sessions`` lists every worker's sessions;
- WebSockets (sessions and sidebands, Realtime and GPT-Live) are relayed frame by frame.

Each worker checks origins, hosts and keys itself (the front passes the headers on), so the
rules are the same as with one process. Media never passes the front: each worker answers
its calls' SDP with its own ICE candidates.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import socket
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from tornado import httpclient, web, websocket
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from .access import Access
from .backend import LocalRealtime

__all__ = [
    "WorkerPool",
    "front_app",
    "run_worker",
    "serve_workers",
    "until_signalled",
    "worker_app",
    "worker_count",
]

_KNOWN_IDS = 10_000  # ids remembered per kind (oldest forgotten first)
_ID_PATH = re.compile(r"^/v1/(?:realtime/calls|live/sessions|local/sessions)/([^/?]+)")
_LIST_PATH = "/v1/local/sessions"
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
STATS_PATH = "/v1/local/worker/stats"
"""A worker's own figures: late frames per call and CPU time (for benchmarks)."""


def worker_count(text: str) -> int:
    """``--workers`` value: a positive number, or ``auto`` for one per CPU core."""
    if text == "auto":
        return max(1, os.cpu_count() or 1)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"--workers takes a positive number or 'auto', not {text!r}")
    return int(text)


class _Bounded(OrderedDict[str, int]):
    """id → worker index, forgetting the oldest beyond ``_KNOWN_IDS``."""

    def remember(self, key: str, worker: int) -> None:
        self[key] = worker
        self.move_to_end(key)
        while len(self) > _KNOWN_IDS:
            self.popitem(last=False)


class WorkerPool:
    """N local-backend processes on loopback ports, and which of them owns what."""

    def __init__(
        self,
        count: int,
        argv: Sequence[str] = (),
        host: str = "127.0.0.1",
        command: Sequence[str] | None = None,
    ) -> None:
        if count < 1:
            raise ValueError("a pool needs at least one worker")
        self.count = count
        self.argv = list(argv)
        self.command = list(command or [sys.executable, "-m", "rt_notebook.local.workers"])
        """How to start a worker; ``--host H --port N`` are appended to it and ``argv``."""
        self.host = host
        self.ports: list[int] = []
        self.procs: list[asyncio.subprocess.Process] = []
        self.owners = _Bounded()  # call or session id → worker
        self.secrets = _Bounded()  # ephemeral key → worker
        self._turn = itertools.cycle(range(count))
        self.http = httpclient.AsyncHTTPClient(force_instance=True)

    def url(self, worker: int, uri: str) -> str:
        return f"http://127.0.0.1:{self.ports[worker]}{uri}"

    async def start(self, timeout: float = 60.0) -> None:
        """Start every worker and wait until each accepts connections."""
        for _ in range(self.count):
            port = _free_port()
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                *self.argv,
                "--host",
                self.host,
                "--port",
                str(port),
            )
            self.ports.append(port)
            self.procs.append(proc)
        deadline = time.monotonic() + timeout
        for worker, port in enumerate(self.ports):
            while not await _accepts(port):
                if self.procs[worker].returncode is not None or time.monotonic() > deadline:
                    await self.stop()
                    raise RuntimeError(f"local backend worker {worker} did not start")
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after 10 s)."""
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        self.http.close()

    def candidates(self, path: str, query_id: str | None, auth: str) -> list[int]:
        """The workers to ask, in order, for a request."""
        match = _ID_PATH.match(path)
        named = match.group(1) if match else query_id
        if named:
            owner = self.owners.get(named)
            return [owner] if owner is not None else list(range(self.count))
        key = auth.removeprefix("Bearer ").strip()
        if key.startswith("ek_") and key in self.secrets:
            return [self.secrets[key]]
        return [next(self._turn)]

    def learn(self, worker: int, response: httpclient.HTTPResponse) -> None:
        """Note what a worker's answer created: a call (``Location``), a session, a key."""
        location = response.headers.get("Location", "")
        match = _ID_PATH.match(location)
        if match:
            self.owners.remember(match.group(1), worker)
        if "json" not in response.headers.get("Content-Type", ""):
            return
        with contextlib.suppress(ValueError):
            body = json.loads(response.body or b"{}")
            if isinstance(body, dict):
                session = body.get("session")
                live_id = session.get("id") if isinstance(session, dict) else None  # Live
                for found in (*(body.get(f) for f in ("id", "call_id", "session_id")), live_id):
                    if isinstance(found, str):
                        self.owners.remember(found, worker)
                value = body.get("value")
                if isinstance(value, str) and value.startswith("ek_"):
                    self.secrets.remember(value, worker)

    async def stats(self) -> list[dict[str, Any]]:
        """Each worker's ``STATS_PATH`` figures."""
        replies = await asyncio.gather(
            *(self.http.fetch(self.url(w, STATS_PATH)) for w in range(self.count))
        )
        return [json.loads(reply.body) for reply in replies]


class _Forward(web.RequestHandler):
    """Any HTTP request: passed to the worker that should answer it, the answer passed back."""

    def initialize(self, pool: WorkerPool) -> None:
        self.pool = pool

    def check_xsrf_cookie(self) -> None:
        """The workers apply the backend's own rules."""

    async def get(self, *_: str) -> None:
        await self._forward()

    async def post(self, *_: str) -> None:
        await self._forward()

    async def delete(self, *_: str) -> None:
        await self._forward()

    async def options(self, *_: str) -> None:
        await self._forward()

    async def _forward(self) -> None:
        request = self.request
        if request.method == "GET" and request.path == _LIST_PATH:
            await self._list()
            return
        workers = self.pool.candidates(
            request.path,
            self.get_query_argument("call_id", None),
            request.headers.get("Authorization", ""),
        )
        response: httpclient.HTTPResponse | None = None
        for worker in workers:
            response = await self._fetch(worker)
            if response.code != 404:
                self.pool.learn(worker, response)
                break
        assert response is not None  # noqa: S101 (at least one candidate)
        self._relay(response)

    async def _fetch(self, worker: int) -> httpclient.HTTPResponse:
        request = self.request
        headers = {k: v for k, v in request.headers.get_all() if k.lower() not in _HOP_HEADERS}
        body = request.body if request.method in ("POST", "PUT", "PATCH") else None
        try:
            return await self.pool.http.fetch(
                httpclient.HTTPRequest(
                    self.pool.url(worker, request.uri or request.path),
                    method=request.method or "GET",
                    headers=headers,
                    body=body,
                    allow_nonstandard_methods=True,
                    follow_redirects=False,
                    request_timeout=60,
                ),
                raise_error=False,
            )
        except OSError as exc:  # the worker is gone
            return httpclient.HTTPResponse(
                httpclient.HTTPRequest(self.pool.url(worker, "/")),
                502,
                buffer=None,
                error=exc,
            )

    def _relay(self, response: httpclient.HTTPResponse) -> None:
        self.set_status(response.code, response.reason or "Unknown")
        self.clear_header("Content-Type")
        for name, value in response.headers.get_all():
            if name.lower() not in _HOP_HEADERS and name.lower() not in ("server", "date"):
                self.add_header(name, value)
        self.finish(response.body or b"")

    async def _list(self) -> None:
        replies = [await self._fetch(w) for w in range(self.pool.count)]
        data: list[Any] = []
        for reply in replies:
            if reply.code != 200:
                self._relay(reply)  # e.g. 401: the same for every worker
                return
            data.extend(json.loads(reply.body).get("data", []))
        self.set_header("Content-Type", "application/json")
        self.finish({"data": data})


class _ForwardSocket(websocket.WebSocketHandler):
    """A WebSocket session or sideband, relayed to the worker that should carry it."""

    def initialize(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.upstream: websocket.WebSocketClientConnection | None = None
        self._pump: asyncio.Future[None] | None = None

    def check_origin(self, origin: str) -> bool:
        return True  # the worker checks the Origin header passed on

    async def get(self, *args: Any, **kwargs: Any) -> None:
        request = self.request
        workers = self.pool.candidates(
            request.path,
            self.get_query_argument("call_id", None),
            request.headers.get("Authorization", ""),
        )
        headers = {
            k: v
            for k, v in request.headers.get_all()
            if not k.lower().startswith("sec-websocket") and k.lower() not in _HOP_HEADERS
        }
        refusal: httpclient.HTTPResponse | None = None
        for worker in workers:
            try:
                self.upstream = await websocket.websocket_connect(
                    httpclient.HTTPRequest(
                        self.pool.url(worker, request.uri or request.path).replace("http", "ws", 1),
                        headers=headers,
                        request_timeout=30,
                    )
                )
                break
            except httpclient.HTTPClientError as error:
                refusal = error.response
                if error.code != 404:
                    break
        if self.upstream is None:
            self.set_status(refusal.code if refusal is not None else 502)
            self.set_header("Content-Type", "application/json")
            self.finish(refusal.body if refusal is not None and refusal.body else b"{}")
            return
        await super().get(*args, **kwargs)

    def open(self, *args: str, **kwargs: str) -> None:
        self._pump = asyncio.ensure_future(self._from_worker())

    async def _from_worker(self) -> None:
        upstream = self.upstream
        while upstream is not None:
            message = await upstream.read_message()
            if message is None:
                break
            with contextlib.suppress(websocket.WebSocketClosedError):
                await self.write_message(message, binary=isinstance(message, bytes))
        self.close()

    async def on_message(self, message: str | bytes) -> None:
        if self.upstream is not None:
            with contextlib.suppress(websocket.WebSocketClosedError):
                await self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.close()


class _ForwardLiveSessions(_ForwardSocket, _Forward):
    """GPT-Live's ``/v1/live/sessions``: a WebSocket (GET) relayed, the exchange (POST)
    forwarded."""


def front_app(pool: WorkerPool) -> web.Application:
    """The front's tornado app: WebSockets on ``/v1/realtime`` and ``/v1/live/sessions``,
    everything else forwarded."""
    kwargs = {"pool": pool}
    return web.Application(
        [
            (r"/v1/realtime", _ForwardSocket, kwargs),
            (r"/v1/live/sessions", _ForwardLiveSessions, kwargs),
            (r"/v1/live/sessions/[^/]+/attach", _ForwardSocket, kwargs),
            (r"/(.*)", _Forward, kwargs),
        ],
        websocket_ping_interval=20,
    )


@contextlib.asynccontextmanager
async def serve_workers(
    count: int,
    argv: Sequence[str] = (),
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    command: Sequence[str] | None = None,
) -> AsyncIterator[tuple[WorkerPool, str]]:
    """Run a front and ``count`` workers: ``(pool, "http://HOST:PORT/v1")``; ``argv`` are the
    workers' command-line options (see ``python -m rt_notebook.local --help``), ``command``
    another worker program (one that serves :func:`worker_app`)."""
    pool = WorkerPool(count, argv, host, command)
    await pool.start()
    server = HTTPServer(front_app(pool))
    try:
        sockets = bind_sockets(port, host)
        server.add_sockets(sockets)
        yield pool, f"http://{host}:{sockets[0].getsockname()[1]}/v1"
    finally:
        server.stop()
        await pool.stop()


# ---- a worker process (``python -m rt_notebook.local.workers``) ---------------------------


class _Stats(web.RequestHandler):
    def initialize(self, backend: LocalRealtime) -> None:
        self.backend = backend

    def get(self) -> None:
        calls = {
            call_id: {"late_frames": call.track.late_frames, "frames": call.track.frames}
            for call_id, call in list(self.backend._calls.items())
            if hasattr(call, "track")
        }
        self.finish({"pid": os.getpid(), "cpu_s": time.process_time(), "calls": calls})


def worker_app(backend: LocalRealtime, access: Access) -> web.Application:
    """A worker's app: the backend's own, plus ``STATS_PATH``."""
    from .server import make_app

    app = make_app(backend, access)
    app.add_handlers(r".*", [(STATS_PATH, _Stats, {"backend": backend})])
    return app


async def until_signalled() -> None:
    """Return once this process gets SIGINT or SIGTERM."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_worker(backend: LocalRealtime, access: Access, port: int) -> None:
    """Serve ``backend`` on ``127.0.0.1:port`` as a worker until SIGINT or SIGTERM."""
    server = HTTPServer(worker_app(backend, access))
    server.listen(port, "127.0.0.1")
    await until_signalled()
    server.stop()
    await backend.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _main(argv: Sequence[str]) -> None:
    from .__main__ import options_from, parse_args

    args = parse_args(argv)
    backend = LocalRealtime(options_from(args))
    access = Access.create(args.allow_origin, args.api_key, args.host)
    asyncio.run(run_worker(backend, access, args.port))


if __name__ == "__main__":
    _main(sys.argv[1:])
