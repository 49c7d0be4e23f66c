"""``python -m rt_notebook.local``: its --help, and the standalone server run as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import OFFER
from tests.local.harness import WsClient
from tests.protocol import assert_conformant, assert_in_order

OPTIONS = [
    "--host",
    "--port",
    "--allow-origin",
    "--api-key",
    "--max-records",
    "--scenario",
    "--transcriber",
    "--model",
    "--answer-delay",
    "--http-error",
    "--drop-data-channel-after",
    "--realtime-factor",
    "--log-level",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def option_help(text: str) -> dict[str, str]:
    """Each option's help block in argparse output (the option line plus its indented lines)."""
    blocks: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        start = re.match(r"^  (-{1,2}[\w-]+)", line)
        if start:
            current = start.group(1)
            blocks[current] = line
        elif current and line.startswith("    "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


def test_help_explains_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rt_notebook.local", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Realtime API" in result.stdout
    blocks = option_help(result.stdout)
    for option in OPTIONS:
        assert option in blocks, f"{option} missing from --help:\n{result.stdout}"
        # what is left once the option and its metavar are gone must be an explanation
        words = re.findall(r"[a-z]{2,}", blocks[option].split(option, 1)[1])
        assert len(words) >= 2, f"{option} is not explained: {blocks[option]!r}"


@contextlib.asynccontextmanager
async def cli_server(tmp_path: Path, *args: str) -> AsyncIterator[str]:
    """The CLI as a real subprocess on a free port: yields ``http://127.0.0.1:N/v1``.

    On exit it sends SIGTERM and asserts a clean exit (code 0) within 15 s.
    """
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "rt_notebook.local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *args,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.returncode is None, f"server exited early:\n{log_path.read_text()}"
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                assert time.monotonic() < deadline, (
                    f"no listener on {port}:\n{log_path.read_text()}"
                )
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            break
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
                raise AssertionError(
                    f"no exit 15 s after SIGTERM:\n{log_path.read_text()}"
                ) from None
    code = process.returncode
    assert code == 0, f"exit code {code} after SIGTERM:\n{log_path.read_text()}"


async def test_cli_scripted_websocket_session(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps([{"say": "Scripted hello."}]))
    args = ("--scenario", str(scenario), "--realtime-factor", "8", "--log-level", "WARNING")
    async with cli_server(tmp_path, *args) as url:
        assert url.startswith("http://127.0.0.1:")
        ws = await WsClient.open(url, "model=gpt-realtime-2.1", key="sk-anything")
        created = await ws.wait("session.created", timeout=15)
        ws.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text"]},
            }
        )
        await ws.wait("session.updated", timeout=15)
        ws.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Say the scripted line."}],
                },
            }
        )
        ws.send({"type": "response.create"})
        text_done = await ws.wait("response.output_text.done", timeout=30)
        done = await ws.wait("response.done", timeout=30)
        await ws.close()

    assert created["session"]["model"] == "gpt-realtime-2.1"
    assert text_done["text"] == "Scripted hello."
    assert done["response"]["status"] == "completed"
    assert done["response"]["output_modalities"] == ["text"]
    assert_in_order(
        ws.types(),
        [
            "session.created",
            "session.updated",
            "conversation.item.added",
            "response.created",
            "response.output_text.delta",
            "response.output_text.done",
            "response.done",
        ],
    )
    assert not [t for t in ws.types() if "audio" in t]
    assert assert_conformant(ws.events, ws.sent) == len(ws.events) + len(ws.sent)


async def test_cli_http_error_fault(tmp_path: Path) -> None:
    args = ("--http-error", "429:insufficient_quota:Quota", "--log-level", "WARNING")
    async with cli_server(tmp_path, *args) as url, httpx.AsyncClient(timeout=30) as http:
        refused = await http.post(
            f"{url}/realtime/calls",
            headers={"Authorization": "Bearer sk-anything"},
            files={
                "sdp": (None, OFFER.encode(), "application/sdp"),
                "session": (None, b'{"type": "realtime"}', "application/json"),
            },
        )
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json() == {
        "error": {
            "message": "Quota",
            "type": "invalid_request_error",
            "param": None,
            "code": "insufficient_quota",
        }
    }


async def test_cli_api_key_and_allowed_origin(tmp_path: Path) -> None:
    args = ("--api-key", "sk-only-mine", "--allow-origin", "https://app.example")
    async with cli_server(tmp_path, *args) as url, httpx.AsyncClient(timeout=30) as http:
        wrong = await http.get(f"{url}/local/sessions", headers={"Authorization": "Bearer sk-x"})
        right = await http.get(
            f"{url}/local/sessions", headers={"Authorization": "Bearer sk-only-mine"}
        )
        asked = {"Access-Control-Request-Method": "POST"}
        allowed = await http.options(
            f"{url}/realtime/calls", headers={**asked, "Origin": "https://app.example"}
        )
        foreign = await http.options(
            f"{url}/realtime/calls", headers={**asked, "Origin": "https://other.example"}
        )
    assert (wrong.status_code, right.status_code) == (401, 200)
    assert (allowed.status_code, foreign.status_code) == (204, 403)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--http-error", "abc"], "STATUS must be an HTTP error code"),
        (["--http-error", "200:ok"], "STATUS must be an HTTP error code"),
        (["--log-level", "loud"], "invalid choice"),
        (["--allow-origin", "myhost"], "is not an origin"),
    ],
)
def test_bad_arguments_get_a_usage_error(args: list[str], complaint: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rt_notebook.local", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr
