"""How many simultaneous WebRTC sessions the local backend sustains here without late audio.

The backend runs in this process (tornado + aiortc on a free 127.0.0.1 port), or with
``--server-workers N|auto`` in N worker processes behind one front, as ``python -m
rt_notebook.local --workers N`` runs it (late frames and CPU then come from the workers and are
summed); N aiortc clients,
the browser's stand-in, run in a worker subprocess (``--clients-in-process`` puts them in this
process instead). All N connect at once, speak an espeak-ng sentence into their mic and hear the
spoken reply. Per level it prints server late frames, client-side audio continuity, VAD→response
latency and CPU use. A level *sustains* when every session finished, no frame was late and no
client gap exceeds 100 ms. Climbing stops when a level clearly fails twice in a row (a session
unfinished, late frames > 10 % or < 90 % of the audio received) or the time budget runs out.
Numbers are printed, never asserted; the exit code is 0. ICE is limited to 127.0.0.1, so all
traffic stays on loopback.

    .venv/bin/python bench/local_capacity.py [--quick] [--levels 1,2,4] [--server-workers auto]
        [--clients-in-process]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aioice.ice
import httpx
import numpy as np

from rt_notebook.local.access import Access
from rt_notebook.local.backend import LocalOptions, LocalRealtime
from rt_notebook.local.responders import ResponseContext
from rt_notebook.local.server import serve
from rt_notebook.local.workers import WorkerPool, run_worker, serve_workers, worker_count
from rt_notebook.testing import RtcClient, espeak_pcm, read_wav
from rt_notebook.wire.audio import SAMPLE_RATE

FRAME_SAMPLES = SAMPLE_RATE // 50  # the server track's 20 ms frames
LATE_LIMIT_PCT = 0.0  # "no late frames" means none
CLEAR_FAIL_LATE_PCT = 10.0  # overload, not a passing hiccup
GAP_LIMIT_MS = 100.0
GAP_NOTE_MS = 60.0
AUDIBLE_RMS = 0.01  # a received frame louder than -40 dBFS is reply speech
TRAILING_SILENCE_S = 1.2

WORKER_SCRIPT = Path(__file__).resolve()  # run again with --worker for the clients

Json = dict[str, Any]


@dataclass(frozen=True)
class Profile:
    levels: tuple[int, ...]
    mic_text: str
    reply_text: str
    budget_s: float


FULL = Profile(
    levels=(1, 2, 4, 6, 8, 12, 16),
    mic_text="Hello there, what is the weather like in Paris today?",
    reply_text="It is sunny and mild in Paris today, about twenty degrees, with a light "
    "breeze and no rain.",
    budget_s=240.0,
)
QUICK = Profile(
    levels=(1, 2, 4, 8),
    mic_text="What time is it in Paris?",
    reply_text="It is half past three in the afternoon in Paris.",
    budget_s=60.0,
)


def loopback_only() -> None:
    """Gather only 127.0.0.1 ICE candidates (aioice skips loopback and offers every interface)."""

    def addresses(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"]

    aioice.ice.get_host_addresses = addresses


# ---- client side (a worker subprocess, or this process) --------------------------------------


async def connect(client: RtcClient, http: httpx.AsyncClient, base_url: str) -> None:
    response = await client.connect(base_url, key="sk-local-bench", http=http)
    if response.status_code != 201:
        raise RuntimeError(f"POST /realtime/calls: {response.status_code} {response.text}")


async def wait_all(clients: list[RtcClient], kind: str, timeout: float) -> bool:
    """Poll until every client received ``kind``; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(kind in c.first for c in clients):
            return True
        await asyncio.sleep(0.02)
    return False


def session_metrics(client: RtcClient, t0: float, t1: float, speech_end: float) -> Json:
    """Continuity and latency of one session over the window [t0, t1]."""
    frames = [a for a in client.arrivals if t0 <= a[0] <= t1]
    times = [t0, *(a[0] for a in frames), t1]
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
    first = client.first

    def ms(a: str | float, b: str | float) -> float | None:
        start = first.get(a) if isinstance(a, str) else a
        end = first.get(b) if isinstance(b, str) else b
        return None if start is None or end is None else round((end - start) * 1000, 1)

    audible = next((a[0] for a in frames if a[0] >= speech_end and a[2] > AUDIBLE_RMS), None)
    return {
        "done": "output_audio_buffer.stopped" in first,
        "received_pct": round(100 * sum(a[1] for a in frames) / (t1 - t0), 1),
        "max_gap_ms": round(max(gaps, default=0.0), 1),
        "max_gap_at_s": round(times[gaps.index(max(gaps)) + 1] - t0, 2) if gaps else None,
        "gaps_over_60ms": sum(g > GAP_NOTE_MS for g in gaps),
        "gaps_over_100ms": sum(g > GAP_LIMIT_MS for g in gaps),
        "end_to_speech_stopped_ms": ms(speech_end, "input_audio_buffer.speech_stopped"),
        "speech_stopped_to_response_created_ms": ms(
            "input_audio_buffer.speech_stopped", "response.created"
        ),
        "response_created_to_audio_started_ms": ms(
            "response.created", "output_audio_buffer.started"
        ),
        "end_to_audible_reply_ms": ms(speech_end, audible) if audible else None,
        "reply_s": (ms("output_audio_buffer.started", "output_audio_buffer.stopped") or 0) / 1000,
    }


class Hooks:
    """What the client driver tells the server side: speaking starts, then results are in."""

    async def speaking(self) -> None:
        raise NotImplementedError

    async def measured(self, result: Json) -> None:
        raise NotImplementedError


async def drive(url: str, sessions: int, speech: np.ndarray, timeout: float, hooks: Hooks) -> None:
    """Connect ``sessions`` clients at once, speak, hear the replies, report, close."""
    clients = [RtcClient() for _ in range(sessions)]
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            await asyncio.gather(*(connect(c, http, url) for c in clients))
        if not await wait_all(clients, "session.created", 30 + sessions):
            raise RuntimeError("not every session got session.created")
        # measure from steady state: aiortc's receiver holds 4 packets before its first frame
        for _ in range(500):
            if all(len(c.arrivals) >= 25 for c in clients):
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("remote audio did not start on every session")
        mic_late = [c.mic_track.late_frames for c in clients]
        await hooks.speaking()
        t0, cpu0 = time.monotonic(), time.process_time()
        for client in clients:
            client.say(speech, TRAILING_SILENCE_S)
        speech_end = t0 + len(speech) / SAMPLE_RATE
        await wait_all(clients, "output_audio_buffer.stopped", timeout)
        await asyncio.sleep(0.3)  # the tail of the reply's audio
        t1, cpu1 = time.monotonic(), time.process_time()
        mic_frames = (t1 - t0) * 50 * sessions
        await hooks.measured(
            {
                "wall_s": round(t1 - t0, 2),
                "client_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
                "client_mic_late_pct": round(
                    100
                    * sum(
                        c.mic_track.late_frames - m for c, m in zip(clients, mic_late, strict=True)
                    )
                    / max(mic_frames, 1),
                    2,
                ),
                "sessions": [session_metrics(c, t0, t1, speech_end) for c in clients],
            }
        )
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


class WorkerHooks(Hooks):
    """Worker side of the pipe: JSON lines on stdout, commands on stdin."""

    def __init__(self, readline: Callable[[], Awaitable[str]]) -> None:
        self.readline = readline

    async def speaking(self) -> None:
        emit({"speaking": True})

    async def measured(self, result: Json) -> None:
        emit({"measured": result})
        await self.readline()  # hold the calls open until the server has read its counters


def emit(message: Json) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def worker() -> None:
    """``--worker``: run levels on command (one JSON line each) until stdin closes."""
    loop = asyncio.get_running_loop()

    async def readline() -> str:
        return await loop.run_in_executor(None, sys.stdin.readline)

    emit({"ready": True})
    while line := await readline():
        command = json.loads(line)
        try:
            speech = read_wav(Path(command["speech_wav"]))
            hooks = WorkerHooks(readline)
            await drive(command["url"], command["sessions"], speech, command["timeout"], hooks)
            emit({"closed": True})
        except Exception as exc:
            emit({"error": f"{type(exc).__name__}: {exc}"})


# ---- server side (this process) --------------------------------------------------------------


class ServerProbe:
    """Outbound late frames and CPU of the backend over a window."""

    def __init__(self, backend: LocalRealtime) -> None:
        self.backend = backend
        self._t0 = self._cpu0 = 0.0
        self._tracks0: dict[str, tuple[int, int]] = {}
        self._busy0: tuple[int, int] | None = None

    async def tracks(self) -> dict[str, tuple[int, int]]:
        # LocalRealtime._calls is private; fine for a bench. (late frames, frames) per call.
        return {
            call_id: (call.track.late_frames, call.track.frames)
            for call_id, call in self.backend._calls.items()
        }

    async def calls(self) -> int:
        return len(self.backend._calls)

    async def hang_up_all(self) -> None:
        for call_id in list(self.backend._calls):
            with contextlib.suppress(Exception):
                await self.backend.hangup(call_id)

    def cpu(self) -> float:
        # this process plus reaped children (the backend's espeak-ng runs)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    @staticmethod
    def machine_busy() -> tuple[int, int] | None:
        """(busy, total) jiffies of all CPUs from /proc/stat (Linux), to show other load."""
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            return None
        total = sum(fields[:8])  # guest time is already in user
        return total - fields[3] - fields[4], total  # minus idle and iowait

    async def begin(self) -> None:
        self._t0, self._cpu0, self._tracks0 = time.monotonic(), self.cpu(), await self.tracks()
        self._busy0 = self.machine_busy()

    async def end(self) -> Json:
        wall, cpu, now = time.monotonic() - self._t0, self.cpu(), await self.tracks()
        return self._figures(wall, cpu - self._cpu0, now)

    def _figures(self, wall: float, cpu: float, now: dict[str, tuple[int, int]]) -> Json:
        busy1 = self.machine_busy()
        machine = None
        if self._busy0 and busy1 and busy1[1] > self._busy0[1]:
            share = (busy1[0] - self._busy0[0]) / (busy1[1] - self._busy0[1])
            machine = round(100 * share * (os.cpu_count() or 1), 1)
        late = frames = 0
        for call_id, (late1, frames1) in now.items():
            late0, frames0 = self._tracks0.get(call_id, (0, 0))
            late, frames = late + late1 - late0, frames + frames1 - frames0
        return {
            "calls": len(now),
            "late_frames": late,
            "frames": frames,
            "late_pct": round(100 * late / max(frames, 1), 2),
            "server_cpu_pct": round(100 * cpu / max(wall, 1e-9), 1),
            "machine_cpu_pct": machine,
        }


class PoolProbe(ServerProbe):
    """The same figures from worker processes (their stats endpoint), CPU summed."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self._t0 = self._cpu0 = 0.0
        self._tracks0 = {}
        self._busy0 = None
        self._cpu_now = 0.0

    async def tracks(self) -> dict[str, tuple[int, int]]:
        stats = await self.pool.stats()
        self._cpu_now = sum(float(s["cpu_s"]) for s in stats)
        return {
            call_id: (int(c["late_frames"]), int(c["frames"]))
            for s in stats
            for call_id, c in s["calls"].items()
        }

    async def calls(self) -> int:
        return len(await self.tracks())

    async def hang_up_all(self) -> None:
        """Calls end with their clients; nothing to do from here."""

    def cpu(self) -> float:
        return self._cpu_now  # as of the last tracks()

    async def begin(self) -> None:
        self._tracks0 = await self.tracks()
        self._t0, self._cpu0 = time.monotonic(), self.cpu()
        self._busy0 = self.machine_busy()

    async def end(self) -> Json:
        now = await self.tracks()
        return self._figures(time.monotonic() - self._t0, self.cpu() - self._cpu0, now)


class InProcessHooks(Hooks):
    def __init__(self, probe: ServerProbe) -> None:
        self.probe = probe
        self.client: Json = {}
        self.server: Json = {}

    async def speaking(self) -> None:
        await self.probe.begin()

    async def measured(self, result: Json) -> None:
        # one process: srvCPU% already includes the clients
        self.server, self.client = await self.probe.end(), {**result, "client_cpu_pct": None}


class WorkerClients:
    """The client worker subprocess, driven over stdin/stdout JSON lines."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER_SCRIPT),
            "--worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        await self._expect("ready", 60)

    async def run(self, probe: ServerProbe, command: Json) -> tuple[Json, Json]:
        self._send(command)
        await self._expect("speaking", 60 + 3 * command["sessions"])
        await probe.begin()
        client = (await self._expect("measured", command["timeout"] + 30))["measured"]
        server = await probe.end()
        self._send({"close": True})
        await self._expect("closed", 30)
        return server, client

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def _send(self, message: Json) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())

    async def _expect(self, key: str, timeout: float) -> Json:
        assert self.proc is not None
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("the client worker exited")
        message: Json = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"client worker: {message['error']}")
        if key not in message:
            raise RuntimeError(f"client worker sent {message}, expected {key!r}")
        return message


def numbered_replies(text: str) -> Callable[[ResponseContext], str]:
    """A different reply per response, so every one is synthesized (no cache hits)."""
    counter = itertools.count(1)
    return lambda _context: f"Reply {next(counter)}. {text}"


def summarize(sessions: int, server: Json, client: Json, load1: float) -> Json:
    """One level's figures and verdict."""
    per = client["sessions"]

    def spread(key: str) -> list[float | None]:
        values = [s[key] for s in per if s[key] is not None]
        if not values:
            return [None, None]
        return [round(statistics.median(values), 1), round(max(values), 1)]

    done = sum(s["done"] for s in per)
    worst = max(per, key=lambda s: s["max_gap_ms"], default=None)
    max_gap = worst["max_gap_ms"] if worst else 0.0
    late = server["late_pct"]
    level = {
        "sessions": sessions,
        "done": done,
        **server,
        "received_pct_min": min((s["received_pct"] for s in per), default=0.0),
        "max_gap_ms": max_gap,
        "max_gap_at_s": worst["max_gap_at_s"] if worst else None,
        "gaps_over_60ms": sum(s["gaps_over_60ms"] for s in per),
        "gaps_over_100ms": sum(s["gaps_over_100ms"] for s in per),
        "latency_ms_median_max": {
            "end_to_speech_stopped": spread("end_to_speech_stopped_ms"),
            "speech_stopped_to_response_created": spread("speech_stopped_to_response_created_ms"),
            "response_created_to_audio_started": spread("response_created_to_audio_started_ms"),
            "end_to_audible_reply": spread("end_to_audible_reply_ms"),
        },
        "reply_s_median": spread("reply_s")[0],
        "wall_s": client["wall_s"],
        "client_cpu_pct": client["client_cpu_pct"],
        "client_mic_late_pct": client["client_mic_late_pct"],
        "load1_before": round(load1, 2),
    }
    level["sustained"] = done == sessions and server["late_frames"] == 0 and max_gap <= GAP_LIMIT_MS
    # overload, not a passing hiccup from other work on the machine: climbing further is moot
    level["clear_fail"] = (
        done < sessions or late > CLEAR_FAIL_LATE_PCT or level["received_pct_min"] < 90
    )
    return level


HEADER = (
    f"{'N':>3} {'done':>5} {'late%':>6} {'late/frames':>12} {'recv%min':>8} {'maxgap':>7} "
    f"{'gap>60':>6} {'stop→created':>13} {'created→audio':>13} {'end→audible':>12} "
    f"{'srvCPU%':>7} {'cliCPU%':>7} {'allCPU%':>7}  verdict"
)


def row(level: Json) -> str:
    if "error" in level:
        return f"{level['sessions']:>3}  error: {level['error']}"
    lat = level["latency_ms_median_max"]

    def pair(key: str) -> str:
        median, worst = lat[key]
        return "-" if median is None else f"{median:.0f}/{worst:.0f}"

    verdict = "sustained" if level["sustained"] else "FAILS"
    machine = "-" if level["machine_cpu_pct"] is None else f"{level['machine_cpu_pct']:.1f}"
    client_cpu = "-" if level["client_cpu_pct"] is None else f"{level['client_cpu_pct']:.1f}"
    return (
        f"{level['sessions']:>3} {level['done']:>2}/{level['sessions']:<2} "
        f"{level['late_pct']:>6.2f} {level['late_frames']:>5}/{level['frames']:<6} "
        f"{level['received_pct_min']:>8.1f} {level['max_gap_ms']:>7.0f} "
        f"{level['gaps_over_60ms']:>6} {pair('speech_stopped_to_response_created'):>13} "
        f"{pair('response_created_to_audio_started'):>13} {pair('end_to_audible_reply'):>12} "
        f"{level['server_cpu_pct']:>7.1f} {client_cpu:>7} "
        f"{machine:>7}  {verdict} (load {level['load1_before']:.1f})"
    )


async def settle(probe: ServerProbe) -> None:
    """Wait (bounded) for the level's calls to close; hang up any left."""
    for _ in range(100):
        if not await probe.calls():
            break
        await asyncio.sleep(0.1)
    await probe.hang_up_all()
    await asyncio.sleep(1.0)


async def run_level(
    probe: ServerProbe,
    workers: WorkerClients | None,
    url: str,
    sessions: int,
    wav: Path,
    speech: np.ndarray,
    timeout: float,
) -> Json:
    """One level: N sessions at once, measured on both sides."""
    load1 = os.getloadavg()[0]
    try:
        if workers is not None:
            command = {"url": url, "sessions": sessions, "speech_wav": str(wav), "timeout": timeout}
            server, client = await workers.run(probe, command)
        else:
            hooks = InProcessHooks(probe)
            await asyncio.wait_for(drive(url, sessions, speech, timeout, hooks), timeout + 90)
            server, client = hooks.server, hooks.client
    except (RuntimeError, asyncio.TimeoutError) as exc:
        return {
            "sessions": sessions,
            "error": f"{type(exc).__name__}: {exc}",
            "sustained": False,
            "clear_fail": True,
        }
    return summarize(sessions, server, client, load1)


async def bench(args: argparse.Namespace) -> Json:
    profile = QUICK if args.quick else FULL
    levels = tuple(args.levels) if args.levels else profile.levels
    budget = args.budget or profile.budget_s
    with tempfile.TemporaryDirectory(prefix="rtnb-bench-") as workdir:
        wav = Path(workdir) / "mic.wav"
        speech = espeak_pcm(profile.mic_text, wav)
        return await ladder(args, profile, levels, budget, wav, speech)


async def ladder(
    args: argparse.Namespace,
    profile: Profile,
    levels: tuple[int, ...],
    budget: float,
    wav: Path,
    speech: np.ndarray,
) -> Json:
    """Climb the levels until one clearly fails, the ladder ends or the time budget runs out."""
    mode = "this process" if args.clients_in_process else "a worker subprocess"
    served = (
        f"{args.server_workers} server worker processes"
        if args.server_workers > 1
        else "the backend in this process"
    )
    print(
        f"local backend capacity: {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start, {served}, clients in {mode}, "
        f"mic {len(speech) / SAMPLE_RATE:.1f} s + {TRAILING_SILENCE_S} s silence per session\n"
        f"sustained = all done, 0 late frames, max gap ≤ {GAP_LIMIT_MS:g} ms; "
        "latencies median/max ms; CPU in % of one core (allCPU% = the whole machine, other "
        "work included)"
    )
    print(HEADER)
    timeout = 40.0
    results: list[Json] = []
    options = LocalOptions(scenario=numbered_replies(profile.reply_text))
    workers = None if args.clients_in_process else WorkerClients()
    started = time.monotonic()
    last_duration = 0.0
    stopped_because = "ladder finished"
    async with contextlib.AsyncExitStack() as stack:
        if args.server_workers > 1:
            command = [sys.executable, str(WORKER_SCRIPT), "--server-worker"]
            pool, url = await stack.enter_async_context(
                serve_workers(args.server_workers, ["--reply", profile.reply_text], command=command)
            )
            probe: ServerProbe = PoolProbe(pool)
        else:
            backend, url = await stack.enter_async_context(serve(LocalRealtime(options)))
            probe = ServerProbe(backend)
        try:
            if workers is not None:
                await workers.start()
            queue = list(levels)
            retried: set[int] = set()
            while queue:
                sessions = queue[0]
                elapsed = time.monotonic() - started
                if results and elapsed + 1.3 * last_duration > budget:
                    stopped_because = f"time budget ({budget:.0f} s) before N={sessions}"
                    break
                level_start = time.monotonic()
                level = await run_level(probe, workers, url, sessions, wav, speech, timeout)
                results.append(level)
                print(row(level), flush=True)
                await settle(probe)
                last_duration = time.monotonic() - level_start
                if not level["clear_fail"]:
                    queue.pop(0)
                elif "error" in level or sessions in retried:
                    stopped_because = f"N={sessions} clearly failed"
                    break
                else:  # once more: other work on the machine may have caused it
                    retried.add(sessions)
        finally:
            if workers is not None:
                await workers.stop()
    sustained = sorted({r["sessions"] for r in results if r["sustained"]})
    contiguous = 0  # the highest level with every level below it sustained (in some attempt)
    for n in dict.fromkeys(r["sessions"] for r in results):
        if n not in sustained:
            break
        contiguous = n
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "clients": mode,
        "server_workers": args.server_workers,
        "profile": "quick" if args.quick else "full",
        "mic_s": round(len(speech) / SAMPLE_RATE, 2),
        "criteria": {"late_pct_max": LATE_LIMIT_PCT, "gap_ms_max": GAP_LIMIT_MS},
        "levels": results,
        "sustained_levels": sustained,
        "highest_sustained": max(sustained, default=0),
        "highest_sustained_with_all_below": contiguous,
        "stopped": stopped_because,
        "runtime_s": round(time.monotonic() - started, 1),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="levels 1,2,4,8, short turns (~1 min)")
    parser.add_argument(
        "--levels",
        type=lambda text: [int(n) for n in text.split(",") if n.strip()],
        help="comma-separated session counts, e.g. 1,2,4 (default 1,2,4,6,8,12,16)",
    )
    parser.add_argument("--budget", type=float, help="seconds before no new level starts")
    parser.add_argument(
        "--clients-in-process",
        action="store_true",
        help="run the clients in the backend's process and event loop (they then share its CPU)",
    )
    parser.add_argument(
        "--server-workers",
        type=worker_count,
        default=1,
        metavar="N",
        help="serve with N worker processes behind one front (python -m rt_notebook.local "
        "--workers N), or auto: one per core (default 1: the backend in this process)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reply", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    loopback_only()
    if args.worker:
        asyncio.run(worker())
        return
    if args.server_worker:  # one of --server-workers' processes: replies numbered per worker
        backend = LocalRealtime(LocalOptions(scenario=numbered_replies(args.reply)))
        asyncio.run(run_worker(backend, Access.create(host=args.host), args.port))
        return
    report = asyncio.run(bench(args))
    print(
        f"highest sustained N: {report['highest_sustained']} (every level up to it: "
        f"{report['highest_sustained_with_all_below']}; {report['stopped']}; "
        f"{report['runtime_s']} s; {os.cpu_count()} CPUs shared with whatever else runs here)"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
