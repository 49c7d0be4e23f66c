"""Hostile upstreams and hostile bodies: the key never comes back, every bad body is a 400 or
413 JSON error (never a 500), bodies are refused before they are buffered, ``request_timeout``
is a total deadline and only SDP that answers the offer reaches the browser."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tornado.httpclient import HTTPClientError

from rt_notebook.errors import RealtimeError, redact, redacting_logger, register_secret
from rt_notebook.kernel import relay
from rt_notebook.kernel.widget import RealtimeWidget
from rt_notebook.wire.sideband import describe_failure
from tests.conftest import FAKE_KEY, OFFER
from tests.kernel.event_fuzz import JUNK
from tests.server.hostile import Hostile

FUZZ_ENDPOINTS = settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
PLAIN_KEY = "proxy-token-7f3a9c1d5e"  # not key-shaped: only the registered secret catches it


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    upstream = Hostile()
    yield upstream
    upstream.close()


@pytest.fixture(params=[FAKE_KEY, PLAIN_KEY], ids=["sk-key", "plain-key"])
def key(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rt_config(hostile: Hostile, key: str) -> dict[str, Any]:
    hostile.mode = "ok"
    return {
        "api_key": key,
        "api_base_url": hostile.url,
        "backend": "openai",
        "request_timeout": 2.0,
        "rate_limit_per_minute": 0,
    }


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def fetch(jp_fetch: Any, route: str, body: str | bytes) -> tuple[int, dict[str, Any], str]:
    """(status, JSON body, headers as text) of a POST, whatever the status."""
    try:
        response = await jp_fetch("api", "rt-notebook", route, method="POST", body=body)
    except HTTPClientError as exc:
        response = exc.response
    assert response is not None
    return response.code, json.loads(response.body or b"{}"), str(response.headers)


@pytest.mark.parametrize("mode", ["echo", "echo_text"])
@pytest.mark.parametrize("status", [400, 401, 404, 422, 429, 500])
async def test_an_upstream_echoing_the_key_everywhere_leaks_nothing(
    jp_fetch: Any, jp_serverapp: Any, hostile: Hostile, key: str, mode: str, status: int
) -> None:
    hostile.mode, hostile.status = mode, status
    collect = _Collect()
    loggers = [logging.getLogger(), jp_serverapp.log, logging.getLogger("rt_notebook")]
    for logger in loggers:
        logger.addHandler(collect)
    try:
        seen = [
            await fetch(jp_fetch, "calls", json.dumps({"sdp": OFFER})),
            await fetch(jp_fetch, "client-secrets", json.dumps({"session": {}})),
        ]
    finally:
        for logger in loggers:
            logger.removeHandler(collect)
    for got, body, headers in seen:
        assert got >= 400
        assert set(body["error"]) <= {"code", "message", "param"}
        everything = json.dumps(body) + headers
        assert key not in everything
        assert key[:12] not in everything
    assert key not in "\n".join(collect.lines)
    assert collect.lines


async def test_the_kernel_relay_and_widget_state_leak_nothing(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLAIN_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", hostile.url)
    hostile.mode, hostile.status = "echo", 422
    reply = await relay.exchange({"sdp": OFFER, "session": {}})
    assert reply["error"]["status"] == 400
    assert PLAIN_KEY not in json.dumps(reply)
    widget = RealtimeWidget()
    widget.error = {"code": PLAIN_KEY, "message": f"Bearer {PLAIN_KEY}", "fix": FAKE_KEY}
    assert PLAIN_KEY not in json.dumps(widget.error)
    assert FAKE_KEY not in json.dumps(widget.error)


def test_log_lines_and_sideband_failures_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    log = redacting_logger("rt_notebook.test_hostile")
    with caplog.at_level(logging.INFO):
        log.info("upstream said %s", f"Bearer {PLAIN_KEY}")
        log.info("bad %d format", "not a number")
        try:
            raise RuntimeError(f"closed with {FAKE_KEY}")
        except RuntimeError:
            log.exception("failed")
    failure = describe_failure(ConnectionError(f"refused {PLAIN_KEY}"), PLAIN_KEY)
    assert PLAIN_KEY not in caplog.text + failure
    assert FAKE_KEY not in caplog.text
    assert "upstream said Bearer [redacted]" in caplog.text


@pytest.mark.parametrize(
    "key_args",
    [
        ["--RealtimeExtension.api_key=sk-proj-CMDLINE0key0shaped0123456"],
        ["--RealtimeExtension.api_key", "plain-CMDLINE-not-key-shaped-42"],
    ],
)
def test_a_key_on_the_command_line_is_not_in_jupyters_debug_log(
    key_args: list[str], tmp_path: Any
) -> None:
    """Before the extension starts, traitlets logs each application's whole config at debug
    level ("Config changed: …"), the key with it, on loggers the extension never sees."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    env.pop("OPENAI_API_KEY", None)
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--debug", "--no-browser", "--port=0",
             "--allow-root", "--ServerApp.token=t", f"--ServerApp.root_dir={tmp_path}",
             *key_args],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "is running at" not in log.read_text() and time.monotonic() < deadline:
                assert server.poll() is None, log.read_text()[-2000:]
                time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(10)
    text = log.read_text()
    assert "Config changed" in text  # the lines that leaked
    assert "RealtimeExtension" in text
    assert "CMDLINE" not in text
    assert "[redacted]" in text


def test_redaction_is_one_function_over_any_shape() -> None:
    register_secret("not-key-shaped-secret-1")
    value = {"a": ["x not-key-shaped-secret-1 y", ("Bearer abcdefghij", 3)], "sk-abcdef": None}
    assert redact(value) == {"a": ["x [redacted] y", ("Bearer [redacted]", 3)], "[redacted]": None}
    error = RealtimeError(
        400, "sk-code-0000", "m sk-msg-0000", param="p ek_param00", retry_after="x"
    )
    assert (error.code, error.message, error.param) == (
        "[redacted]",
        "m [redacted]",
        "p [redacted]",
    )
    assert error.retry_after is None


# ---- bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["calls", "client-secrets"])
async def test_deep_json_and_deep_tool_schemas_are_400s(jp_fetch: Any, route: str) -> None:
    deep_text = '{"sdp": "x", "session": ' + "[" * 100_000 + "]" * 100_000 + "}"
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(300):
        schema = {"type": "object", "properties": {"a": schema}}
    tool = {"type": "function", "name": "f", "description": "d", "parameters": schema}
    deep_tools = json.dumps({"sdp": OFFER, "session": {"tools": [tool]}})
    for body in (deep_text, deep_tools):
        got, answer, _ = await fetch(jp_fetch, route, body)
        assert got == 400, answer
        assert answer["error"]["code"] in ("invalid_json", "too_deep")


async def _raw_post(port: int, path: str, head: dict[str, str], body: Iterator[bytes]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in head.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        for chunk in body:
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # the server hung up on an upload it refused
    answer = await asyncio.wait_for(reader.read(65536), 30)
    writer.close()
    return answer


def _chunked(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    block = b"[" + b" " * (size - 1)
    for _ in range(total // size):
        yield f"{size:x}\r\n".encode() + block + b"\r\n"
    yield b"0\r\n\r\n"


@pytest.mark.parametrize("route", ["calls", "client-secrets"])
async def test_big_bodies_are_refused_before_they_are_buffered(
    jp_serverapp: Any,
    http_server: Any,
    http_server_port: tuple[socket.socket, int],
    jp_base_url: str,
    route: str,
) -> None:
    port = http_server_port[1]
    path = f"{jp_base_url}api/rt-notebook/{route}"
    auth = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    started = time.monotonic()
    declared = await _raw_post(port, path, {**auth, "Content-Length": str(100 << 20)}, iter(()))
    assert time.monotonic() - started < 30  # answered without waiting for a body never sent
    assert declared.startswith(b"HTTP/1.1 413")
    assert b"body_too_large" in declared

    tracemalloc.start()
    try:
        streamed = await _raw_post(
            port, path, {**auth, "Transfer-Encoding": "chunked"}, _chunked(100 << 20)
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert streamed.startswith(b"HTTP/1.1 413")
    print(f"\n{route}: 100 MB chunked upload refused, traced peak {peak / 2**20:.1f} MB")
    assert peak < 16 << 20  # the server kept at most the limit (about 1 MB), not 100 MB


async def test_unauthenticated_uploads_are_refused_unread(
    http_server: Any, http_server_port: tuple[socket.socket, int], jp_base_url: str
) -> None:
    answer = await _raw_post(
        http_server_port[1],
        f"{jp_base_url}api/rt-notebook/calls",
        {"Content-Length": str(100 << 20)},
        iter(()),
    )
    assert answer.startswith(b"HTTP/1.1 403")


# ---- upstream answers -----------------------------------------------------------------------


async def test_request_timeout_is_a_total_deadline(jp_fetch: Any, hostile: Hostile) -> None:
    hostile.mode = "drip"  # one byte every 0.5 s: each read is quick, the whole is not
    started = time.monotonic()
    got, body, _ = await fetch(jp_fetch, "calls", json.dumps({"sdp": OFFER}))
    took = time.monotonic() - started
    assert (got, body["error"]["code"]) == (504, "upstream_timeout")
    assert took < 10  # request_timeout=2; the drip alone would take minutes


@pytest.mark.parametrize("mode", ["huge", "huge_declared"])
async def test_huge_upstream_answers_are_refused(
    jp_fetch: Any, hostile: Hostile, mode: str
) -> None:
    hostile.mode = mode
    for route, body in (("calls", {"sdp": OFFER}), ("client-secrets", {})):
        got, answer, _ = await fetch(jp_fetch, route, json.dumps(body))
        assert (got, answer["error"]["code"]) == (502, "upstream_too_large")


@pytest.mark.parametrize("mode", ["truncated", "garbage", "one_section"])
async def test_only_an_sdp_answering_the_offer_reaches_the_browser(
    jp_fetch: Any, hostile: Hostile, mode: str
) -> None:
    hostile.mode = mode
    got, body, _ = await fetch(jp_fetch, "calls", json.dumps({"sdp": OFFER}))
    assert (got, body["error"]["code"]) == (502, "upstream_bad_answer")
    hostile.mode = "ok"
    got, body, _ = await fetch(jp_fetch, "calls", json.dumps({"sdp": OFFER}))
    assert got == 201
    assert body["sdp"].count("m=") == 2


# ---- fuzzing the endpoints ------------------------------------------------------------------

_json = JUNK.map(lambda v: json.dumps(v, allow_nan=True))
_session = st.one_of(
    JUNK,
    st.fixed_dictionaries(
        {"type": st.just("realtime")},
        optional={
            "model": JUNK | st.just("gpt-realtime-2.1"),
            "instructions": JUNK | st.text(max_size=50),
            "audio": JUNK,
            "tools": st.lists(JUNK, max_size=3),
            "output_modalities": JUNK,
        },
    ),
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "sdp": st.one_of(st.just(OFFER), JUNK),
        "session": _session,
        "expires_after_seconds": JUNK,
        "local": JUNK,
    },
).map(json.dumps)
BODIES = st.one_of(st.binary(max_size=300), _json.map(str.encode), _fields.map(str.encode))


async def test_fuzzed_bodies_are_answered_never_with_a_500(
    jp_serverapp: Any,
    http_server: Any,
    http_server_port: tuple[socket.socket, int],
    jp_base_url: str,
    key: str,
) -> None:
    base = f"http://127.0.0.1:{http_server_port[1]}{jp_base_url}api/rt-notebook/"
    token = jp_serverapp.identity_provider.token
    seen: Counter[int] = Counter()

    def fuzz() -> None:  # on a thread, so the server keeps running on this loop
        with httpx.Client(base_url=base, headers={"Authorization": f"token {token}"}) as client:

            @settings(FUZZ_ENDPOINTS)
            @given(route=st.sampled_from(["calls", "client-secrets"]), body=BODIES)
            def post(route: str, body: bytes) -> None:
                response = client.post(route, content=body, timeout=30)
                seen[response.status_code] += 1
                assert response.status_code in (200, 201, 400, 413), response.text
                if response.status_code >= 400:
                    error = response.json()["error"]
                    assert isinstance(error["code"], str)
                    assert isinstance(error["message"], str)
                assert key not in response.text

            post()

    await asyncio.get_running_loop().run_in_executor(None, fuzz)
    assert seen[400] > 0
    assert seen[200] + seen[201] > 0  # the fuzz reached the upstream too
