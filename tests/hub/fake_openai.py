"""A fake of OpenAI's Realtime HTTP and sideband API, for the service's integration tests.

It answers ``POST /v1/realtime/calls`` with a minimal SDP answer to the offer and a
``Location``, accepts sideband sockets (``/v1/realtime?call_id=…``), records every request
with its Authorization header, and lets a test push server events into a call. It runs on its
own thread and loop.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from tornado import httputil, web, websocket
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.conftest import answer_for


@dataclass
class FakeCall:
    call_id: str
    session: dict[str, Any]
    auth: str
    hung_up: bool = False
    sidebands: list[Any] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    """Client events the sidebands sent."""


class FakeOpenAI:
    def __init__(self) -> None:
        self.calls: dict[str, FakeCall] = {}
        self.auth_seen: list[str] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        kwargs = {"fake": self}
        app = web.Application(
            [
                (r"/v1/realtime/calls", _Calls, kwargs),
                (r"/v1/realtime/calls/([^/]+)/hangup", _Hangup, kwargs),
                (r"/v1/realtime", _Sideband, kwargs),
            ]
        )
        self._server = HTTPServer(app)
        sockets = bind_sockets(0, "127.0.0.1")
        self._server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/v1"
        ready.set()
        self.loop.run_forever()

    def emit(self, call_id: str, event: dict[str, Any]) -> None:
        """Send a server event to every sideband of a call."""

        def send() -> None:
            for socket in self.calls[call_id].sidebands:
                socket.write_message(json.dumps(event))

        self.loop.call_soon_threadsafe(send)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._server.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class _Handler(web.RequestHandler):
    def initialize(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        fake.auth_seen.append(self.request.headers.get("Authorization", ""))


class _Calls(_Handler):
    def post(self) -> None:
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        content_type = self.request.headers.get("Content-Type", "")
        httputil.parse_body_arguments(content_type, self.request.body, args, files)
        part = files["session"][0].body if "session" in files else args["session"][0]
        session = json.loads(part)
        sdp = files["sdp"][0].body if "sdp" in files else args["sdp"][0]
        call_id = f"rtc_{secrets.token_hex(12)}"
        auth = self.request.headers.get("Authorization", "")
        self.fake.calls[call_id] = FakeCall(call_id, session, auth)
        self.set_status(201)
        self.set_header("Location", f"/v1/realtime/calls/{call_id}")
        self.set_header("Content-Type", "application/sdp")
        self.finish(answer_for(sdp.decode()))


class _Hangup(_Handler):
    def post(self, call_id: str) -> None:
        call = self.fake.calls.get(call_id)
        if call is None:
            self.set_status(404)
            self.finish({"error": {"code": "call_not_found", "message": "No such call"}})
            return
        call.hung_up = True
        for socket in list(call.sidebands):
            socket.close()
        self.finish({})


class _Sideband(websocket.WebSocketHandler):
    def initialize(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.call: FakeCall | None = None

    def open(self, *args: str) -> None:
        self.fake.auth_seen.append(self.request.headers.get("Authorization", ""))
        call = self.fake.calls.get(self.get_argument("call_id", ""))
        if call is None or call.hung_up:
            self.close(1008, "no such call")
            return
        self.call = call
        call.sidebands.append(self)

    def on_message(self, message: str | bytes) -> None:
        if self.call is None:
            return
        event = json.loads(message)
        self.call.received.append(event)
        if event.get("type") == "session.update":
            self.call.session.update(event.get("session") or {})
            updated = {"type": "session.updated", "session": self.call.session}
            self.write_message(json.dumps(updated))

    def on_close(self) -> None:
        if self.call is not None and self in self.call.sidebands:
            self.call.sidebands.remove(self)


def response_done(audio_out_tokens: int) -> dict[str, Any]:
    """A ``response.done`` whose usage is ``audio_out_tokens`` of audio output."""
    return {
        "type": "response.done",
        "event_id": f"event_{secrets.token_hex(6)}",
        "response": {
            "object": "realtime.response",
            "id": f"resp_{secrets.token_hex(6)}",
            "status": "completed",
            "output": [],
            "usage": {
                "total_tokens": audio_out_tokens + 10,
                "input_tokens": 10,
                "output_tokens": audio_out_tokens,
                "input_token_details": {"text_tokens": 10, "audio_tokens": 0, "cached_tokens": 0},
                "output_token_details": {"text_tokens": 0, "audio_tokens": audio_out_tokens},
            },
        },
    }
