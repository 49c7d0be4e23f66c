"""What the benches share: the machine's load, percentiles, and a child server's lifetime."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import numpy as np


def load() -> str:
    """The machine's load average now, for printing beside figures (the machine is shared)."""
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def stats(values: list[float], digits: int = 1) -> dict[str, Any]:
    """n, median, p10, p90, min, max (and p99 from 100 values on), rounded."""
    if not values:
        return {"n": 0}
    array = np.asarray(values, dtype=float)

    def pct(q: float) -> float:
        return round(float(np.percentile(array, q)), digits)

    out: dict[str, Any] = {
        "n": len(values),
        "median": round(float(np.median(array)), digits),
        "p10": pct(10),
        "p90": pct(90),
        "min": round(float(array.min()), digits),
        "max": round(float(array.max()), digits),
    }
    if len(values) >= 100:
        out["p99"] = pct(99)
    return out


async def serve_until_parent_goes() -> None:
    """For a bench's child process: return once the parent closes our stdin or sends SIGTERM
    (so a child never outlives the bench that started it)."""
    loop, stop = asyncio.get_running_loop(), asyncio.Event()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            stop.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
