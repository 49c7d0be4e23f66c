"""Fuzz the kernel's event path far beyond what CI runs, and print what happened.

Each case is a fresh ``RealtimeSession`` fed batches of mutated GA server events (the same
strategy as ``tests/kernel/test_event_fuzz.py``: real GA shapes with junk put in their fields),
then a normal scripted conversation through the same object: its transcript, cost and tool
output must come out right. A case fails if anything escaped or the conversation came out
wrong. Also replays every fuzzed stream through ``load_session``. Figures are printed, never
asserted (exit code 0 unless a case failed).

    .venv/bin/python bench/fuzz_events.py [--cases 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.kernel.event_fuzz: the fuzz strategy the tests use

from tests.kernel.event_fuzz import (  # noqa: E402
    TIMESTAMPS,
    batches,
    fuzzable_session,
    scripted_conversation,
)

from rt_notebook.analysis.recorded import load_session  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases to run (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    args = parser.parse_args()

    figures: Counter[str] = Counter()
    broken: Counter[str] = Counter()
    failures: list[str] = []
    kinds: set[str] = set()
    folder = Path(tempfile.mkdtemp(prefix="rtnb-fuzz-"))

    @settings(
        max_examples=args.cases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(batches=batches, stamps=st.lists(TIMESTAMPS, max_size=4))
    def case(batches: list[list[dict[str, Any]]], stamps: list[Any]) -> None:
        figures["cases"] += 1
        try:
            s, frontend = fuzzable_session()
            for n, batch in enumerate(batches):
                t = stamps[n] if n < len(stamps) else None
                frontend._deliver([{"dir": "server", "t": t, "event": e} for e in batch])
                figures["events"] += len(batch)
                kinds.update(str(e.get("type")) for e in batch)
            s.usage(), s.cost(), s.latencies(), s.latency_summary(), s.tool_calls()
            for (consumer, _kind), count in s.bad_events.items():
                broken[consumer] += count
            problems = scripted_conversation(s, frontend)
            path = s.save(folder / "case.jsonl")
            recorded = load_session(path)
            recorded.usage(), recorded.cost(), recorded.latencies(), recorded.transcript.to_dicts()
        except Exception:  # report, keep going: the figures are the point
            problems = [traceback.format_exc(limit=4)]
        if problems:
            failures.append("; ".join(problems))

    started = time.perf_counter()
    case()
    seconds = time.perf_counter() - started
    result = {
        "cases": figures["cases"],
        "events": figures["events"],
        "event_types_seen": len(kinds),
        "seconds": round(seconds, 1),
        "cases_per_second": round(figures["cases"] / seconds, 1),
        "consumer_failures_isolated": dict(broken),
        "failed_cases": len(failures),
    }
    print(
        f"{result['cases']} cases, {result['events']} events "
        f"({result['event_types_seen']} types) in {seconds:.1f} s "
        f"({result['cases_per_second']} cases/s)"
    )
    print(f"malformed events a consumer could not use (isolated, reported once): {dict(broken)}")
    print(
        f"failed cases (an escape, or a wrong transcript/cost/tool output after): {len(failures)}"
    )
    for failure in failures[:5]:
        print("  -", failure[:500])
    print(json.dumps(result))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
