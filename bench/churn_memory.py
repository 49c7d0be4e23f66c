"""Call churn: does the local backend give memory back when calls end?

Starts ``python -m rt_notebook.local`` as a child process on a free loopback port, then opens
WebRTC calls to it (aiortc clients in this process, ``--parallel`` at a time): each waits for
``session.created``, exchanges a text turn, and hangs up. The backend's RSS (``/proc/PID``) is
printed after a warm-up and after every ``--step`` calls, with the growth per call after
warm-up; ``/v1/local/sessions`` shows how many records were kept. Figures are printed, never
asserted (exit code 0).

    .venv/bin/python bench/churn_memory.py [--calls 300] [--parallel 4] [--max-records 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from rt_notebook.testing import RtcClient

KEY = "sk-churn-bench"


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def one_call(url: str, http: httpx.AsyncClient) -> None:
    client = RtcClient()
    try:
        answer = await client.connect(url, {"type": "realtime"}, KEY, http)
        answer.raise_for_status()
        await client.wait("session.created", timeout=20)
        client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello"}],
                },
            }
        )
        await client.wait("conversation.item.added", timeout=20)
        hangup = await http.post(
            f"{url}/realtime/calls/{client.call_id}/hangup",
            headers={"Authorization": f"Bearer {KEY}"},
        )
        hangup.raise_for_status()
    finally:
        await client.close()


async def churn(url: str, count: int, parallel: int, http: httpx.AsyncClient) -> int:
    failed = 0
    for start in range(0, count, parallel):
        results = await asyncio.gather(
            *(one_call(url, http) for _ in range(min(parallel, count - start))),
            return_exceptions=True,
        )
        failed += sum(isinstance(r, BaseException) for r in results)
    return failed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls after warm-up (300)")
    parser.add_argument("--warmup", type=int, default=20, help="calls before the baseline (20)")
    parser.add_argument("--step", type=int, default=100, help="print RSS every N calls (100)")
    parser.add_argument("--parallel", type=int, default=4, help="calls at a time (4)")
    parser.add_argument("--max-records", type=int, default=100, help="the backend's (100)")
    parser.add_argument(
        "--backend-src",
        metavar="DIR",
        help="run the backend from another checkout's src/ (e.g. an older commit, for a "
        "before/after figure); --max-records is then not passed",
    )
    args = parser.parse_args()

    port = free_port()
    env = {**os.environ, "RT_NOTEBOOK_LOCAL_API_KEY": KEY}
    command = [
        sys.executable,
        "-m",
        "rt_notebook.local",
        "--port",
        str(port),
        "--log-level",
        "ERROR",
    ]
    if args.backend_src:
        env["PYTHONPATH"] = os.pathsep.join([args.backend_src, env.get("PYTHONPATH", "")])
    else:
        command += ["--max-records", str(args.max_records)]
    backend = subprocess.Popen(command, env=env)  # noqa: ASYNC220 (started once, before any call)
    url = f"http://127.0.0.1:{port}/v1"
    rows: list[dict[str, float]] = []
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            auth = {"Authorization": f"Bearer {KEY}"}
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    await http.get(f"{url}/local/sessions", headers=auth)
                    break
                await asyncio.sleep(0.1)
            idle = rss_mb(backend.pid)
            failed = await churn(url, args.warmup, args.parallel, http)
            await asyncio.sleep(2)  # the backend frees ended calls' memory 1 s after
            baseline = rss_mb(backend.pid)
            print(
                f"backend idle {idle:.1f} MB; after {args.warmup} warm-up calls {baseline:.1f} MB"
            )
            done = 0
            while done < args.calls:
                step = min(args.step, args.calls - done)
                failed += await churn(url, step, args.parallel, http)
                done += step
                await asyncio.sleep(2)  # the backend frees ended calls' memory 1 s after
                now = rss_mb(backend.pid)
                rows.append({"calls": done, "rss_mb": round(now, 1)})
                print(
                    f"after {done:4d} more calls: {now:.1f} MB "
                    f"({(now - baseline) * 1024 / done:+.1f} KB per call since warm-up)"
                )
            listed = await http.get(f"{url}/local/sessions", headers=auth)
            records = len(listed.json()["data"])
    finally:
        backend.terminate()
        try:
            backend.wait(10)
        except subprocess.TimeoutExpired:  # an old backend may take long to close its calls
            backend.kill()
            backend.wait()
    growth = rows[-1]["rss_mb"] - baseline if rows else 0.0
    result = {
        "calls": args.calls + args.warmup,
        "failed_calls": failed,
        "idle_mb": round(idle, 1),
        "baseline_mb": round(baseline, 1),
        "steps": rows,
        "growth_mb": round(growth, 1),
        "kb_per_call": round(growth * 1024 / max(1, args.calls), 1),
        "records_kept": records,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(
        f"{result['calls']} calls ({failed} failed) in {result['seconds']} s: "
        f"{growth:+.1f} MB after warm-up ({result['kb_per_call']} KB/call), "
        f"{records} session records kept (--max-records {args.max_records})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
