"""The local backend's two protocols side by side: Realtime and GPT-Live.

``.venv/bin/python bench/live_vs_realtime.py [--runs N] [--quick]``

- **Turn latency over WebRTC**: an aiortc client speaks an espeak-ng sentence into its microphone
  track; the figure is the end of that speech → the first audible frame of the reply on the
  remote track, measured the same way for both protocols (runs alternate; the first of each is
  warm-up). Live has no ``speech_stopped``, so nothing protocol-specific is used.
- **Idle WebSocket cost**: CPU seconds per session-second of one idle WebSocket session (server
  and client in this process), Realtime (silent until spoken to) against Live (continuous
  100 ms output frames, as OpenAI sends them).

Figures are printed, never asserted; other load on the machine changes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.local.harness import LiveWsClient, WsClient

from rt_notebook.local.backend import LocalRealtime
from rt_notebook.local.server import serve
from rt_notebook.testing import RtcClient, espeak_pcm, wait_until
from rt_notebook.wire.audio import SAMPLE_RATE

LOUD = 0.01  # RMS of a remote frame that carries speech (the idle track is far below)


async def turn_latency(url: str, protocol: str, speech: np.ndarray) -> float | None:
    client = RtcClient()
    try:
        if protocol == "live":
            await client.connect_live(url, {"model": "gpt-live-1"})
            await client.wait("session.started", timeout=15)
        else:
            await client.connect(url, {"type": "realtime"})
            await client.wait("session.created", timeout=15)
        await asyncio.sleep(0.5)
        client.say(speech, trailing_silence=1.5)
        spoken_end = time.monotonic() + len(speech) / SAMPLE_RATE

        def first_reply() -> float | None:
            return next((t for t, _, rms in client.arrivals if t > spoken_end and rms > LOUD), None)

        heard = await wait_until(first_reply, 30, "the reply's audio")
        return float(heard - spoken_end)
    finally:
        await client.close()


async def idle_cpu(url: str, protocol: str, seconds: float) -> float:
    if protocol == "live":
        client: WsClient = await LiveWsClient.start(url)
    else:
        client = await WsClient.open(url, "model=gpt-realtime")
        await client.wait("session.created")
    before = time.process_time()
    await asyncio.sleep(seconds)
    used = time.process_time() - before
    await client.close()
    return used / seconds


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        speech = espeak_pcm("What is the weather like in Paris today?", Path(tmp) / "s.wav")
    results: dict[str, Any] = {"latency_s": {"realtime": [], "live": []}, "idle_cpu": {}}
    async with serve(LocalRealtime()) as (_, url):
        for run in range(args.runs + 1):
            for protocol in ("realtime", "live"):
                latency = await turn_latency(url, protocol, speech)
                if run and latency is not None:  # the first run of each is warm-up
                    results["latency_s"][protocol].append(round(latency, 3))
        for protocol in ("realtime", "live"):
            results["idle_cpu"][protocol] = round(await idle_cpu(url, protocol, args.idle), 4)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured turns per protocol")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle WebSocket")
    parser.add_argument("--quick", action="store_true", help="2 runs, 2 s idle")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.idle = 2, 2.0
    results = asyncio.run(bench(args))
    latency = {p: statistics.median(v) if v else None for p, v in results["latency_s"].items()}
    print(f"{'':28}{'realtime':>10}{'live':>10}{'live/realtime':>15}")
    rt, lv = latency["realtime"], latency["live"]
    ratio = f"{lv / rt:.2f}" if rt and lv else "-"
    print(f"{'turn latency p50 (s)':28}{rt or 0:>10.3f}{lv or 0:>10.3f}{ratio:>15}")
    cpu_rt, cpu_lv = results["idle_cpu"]["realtime"], results["idle_cpu"]["live"]
    cpu_ratio = f"{cpu_lv / cpu_rt:.1f}" if cpu_rt else "-"
    print(f"{'idle WS CPU s/s':28}{cpu_rt:>10.4f}{cpu_lv:>10.4f}{cpu_ratio:>15}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
