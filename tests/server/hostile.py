"""A hostile OpenAI stand-in on its own thread: it echoes the caller's key into every field it
can, drips its answer a byte at a time, sends huge bodies, or answers with garbage SDP."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.conftest import ANSWER


class Hostile:
    """``mode`` picks the misbehaviour of the next request: ``echo``, ``echo_text``, ``drip``,
    ``huge``, ``huge_declared``, ``truncated``, ``garbage``, ``one_section`` or ``ok``."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.status = 400
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application([(r"/v1/realtime/(calls|client_secrets)", _Upstream, {"h": self})])
        self._server = HTTPServer(app)
        sockets = bind_sockets(0, "127.0.0.1")
        self._server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/v1"
        ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._server.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class _Upstream(web.RequestHandler):
    def initialize(self, h: Hostile) -> None:
        self.h = h

    async def post(self, route: str) -> None:
        self.h.requests += 1
        auth = self.request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ")
        mode = self.h.mode
        if mode == "echo":
            self.set_status(self.h.status)
            self.set_header("Retry-After", key)
            self.set_header("X-Request-Id", auth)
            self.set_header("Content-Type", "application/json")
            error = {"message": f"bad {auth}", "type": key, "code": key, "param": auth}
            self.finish(json.dumps({"error": error, "echo": {"authorization": auth}}))
        elif mode == "echo_text":
            self.set_status(self.h.status)
            self.finish(f"Authorization: {auth}\nkey={key}")
        elif mode == "drip":
            self.set_status(201)
            self.set_header("Content-Type", "application/sdp")
            for char in ANSWER:
                self.write(char)
                await self.flush()
                await asyncio.sleep(0.5)
            self.finish()
        elif mode in ("huge", "huge_declared"):
            self.set_status(201 if route == "calls" else 200)
            block = b"a=x" + b"y" * (1 << 20) + b"\r\n"
            if mode == "huge_declared":
                self.set_header("Content-Length", str(100 * len(block)))
            for _ in range(100):
                self.write(block)
                await self.flush()
            self.finish()
        elif mode == "truncated":
            self.set_status(201)
            self.set_header("Location", "/v1/realtime/calls/rtc_t")
            self.finish(ANSWER[:40])
        elif mode == "garbage":
            self.set_status(201)
            self.set_header("Location", "/v1/realtime/calls/rtc_g")
            self.finish("v=0\r\n<html>not sdp</html>\r\n")
        elif mode == "one_section":
            self.set_status(201)
            self.set_header("Location", "/v1/realtime/calls/rtc_o")
            self.finish(ANSWER.split("m=application")[0])
        elif route == "calls":
            self.set_status(201)
            self.set_header("Location", "/v1/realtime/calls/rtc_ok")
            self.finish(ANSWER)
        else:
            self.finish({"value": "ek_ok", "expires_at": 1})

    def log_exception(self, *args: Any) -> None:
        pass  # the client gave up on a drip: expected
