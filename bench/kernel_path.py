"""What the kernel spends per event, per tool call and per budget check, in a real IPython kernel.

The widget's comm is replaced by ``rt_notebook.testing.ScriptedFrontend`` (no browser), so this
measures only the kernel's own work: the event log, transcript, sequencer, handlers, tools and
the budget, including the Output widget's messages when handlers run inside it. CPU time per
event (``time.process_time``) is reported beside wall time: CPU time is what the load of a
shared machine changes least. Numbers are printed, never asserted.

    .venv/bin/python bench/kernel_path.py [--events 20000] [--log 100000]

To compare two versions of the code, run it twice with ``PYTHONPATH=<other tree>/src``: the
kernel inherits the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import time
from typing import Any

from benchtools import load
from jupyter_client.manager import start_new_kernel

KERNEL_CODE = """
import gc, json, time
import rt_notebook as rt
from rt_notebook.testing import ScriptedFrontend

def _delta(k):
    return {"type": "response.output_text.delta", "event_id": f"evt_{k}", "response_id": "r",
            "item_id": "i", "output_index": 0, "content_index": 0, "delta": "x"}

def _usage_done(k):
    usage = {"total_tokens": 1300, "input_tokens": 1200, "output_tokens": 100,
             "input_token_details": {"text_tokens": 200, "audio_tokens": 1000,
                                     "cached_tokens": 600,
                                     "cached_tokens_details": {"text_tokens": 100,
                                                               "audio_tokens": 500}},
             "output_token_details": {"text_tokens": 20, "audio_tokens": 80}}
    return {"type": "response.done", "event_id": f"evt_d{k}",
            "response": {"id": f"r{k}", "object": "realtime.response", "status": "completed",
                         "output": [], "usage": usage}}

def _done(s):
    # widgets stay in ipywidgets' registry until closed: close them, so one phase's session
    # (and its event log) does not burden the next one's garbage collections
    s.widget.close()
    s.output.close()
    gc.collect()

def _measure(run, n):
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return {"n": n, "cpu_us": (time.process_time() - cpu) / n * 1e6,
            "wall_us": (time.perf_counter() - wall) / n * 1e6}

def _events(n, per_batch):
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    s.on("response.output_text.delta", lambda event: None)
    batch = [_delta(k) for k in range(per_batch)]
    def run():
        for _ in range(n // per_batch):
            frontend.emit(*batch)
    result = _measure(run, n)
    _done(s)
    return result

def _tools(n):
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    @s.tool
    def bench_tool(i: int) -> dict:
        return {"i": i}
    def run():
        for k in range(n):
            frontend.emit({"type": "response.created", "event_id": f"e{k}a",
                           "response": {"id": f"t{k}", "output": []}})
            frontend.emit({"type": "response.function_call_arguments.done", "event_id": f"e{k}",
                           "response_id": f"t{k}", "item_id": f"it{k}", "output_index": 0,
                           "call_id": f"c{k}", "name": "bench_tool",
                           "arguments": json.dumps({"i": k})})
            frontend.emit({"type": "response.done", "event_id": f"e{k}b",
                           "response": {"id": f"t{k}", "output": []}})
    result = _measure(run, n)
    result["outputs"] = sum(1 for e in frontend.client_events
                            if (e.get("item") or {}).get("type") == "function_call_output")
    _done(s)
    return result

def _budget(log_events, checks):
    s = rt.RealtimeSession(budget_usd=1e9)
    frontend = ScriptedFrontend(s)
    batch = [_delta(k) for k in range(1000)]
    for _ in range(log_events // 1000):
        frontend.emit(*batch)
    def run():
        for k in range(checks):
            frontend.emit(_usage_done(k))
    result = _measure(run, checks)
    result["log_events"] = len(s.events)
    result["cost_usd"] = s.cost()["cost_usd"]
    _done(s)
    return result

def _report(events, log):
    import rt_notebook
    # warm-up: openai-python's event models load on a background thread when a session is
    # made, and the first typed event waits for them (a one-time cost, not a per-call one)
    _tools(20)
    print(json.dumps({
        "rt_notebook": rt_notebook.__file__,
        "events_1_per_batch": _events(events, 1),
        "events_10_per_batch": _events(events, 10),
        "tool_calls": _tools(300),
        "budget_check_at_log": _budget(log, 50),
    }))
"""


def run_in_kernel(code: str, timeout: float) -> str:
    """Execute ``code`` in a fresh IPython kernel; its stdout."""
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute(code)
        out, deadline = "", time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = client.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            kind = message["msg_type"]
            if kind == "stream":
                out += message["content"]["text"]
            elif kind == "error":
                raise RuntimeError("\n".join(message["content"]["traceback"]))
            elif (
                kind == "status"
                and message["content"]["execution_state"] == "idle"
                and message["parent_header"].get("msg_type") == "execute_request"
            ):
                return out
        raise TimeoutError(f"the kernel did not finish within {timeout:.0f} s")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="events per event phase")
    parser.add_argument("--log", type=int, default=100000, help="event log size for the budget")
    parser.add_argument("--timeout", type=float, default=300.0, help="the whole run, seconds")
    args = parser.parse_args()
    print(f"kernel path: {os.cpu_count()} CPUs shared ({load()} at start)", flush=True)
    out = run_in_kernel(KERNEL_CODE + f"\n_report({args.events}, {args.log})\n", args.timeout)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    for name in ("events_1_per_batch", "events_10_per_batch", "tool_calls", "budget_check_at_log"):
        row = report[name]
        print(
            f"  {name:<22} n={row['n']:<6} CPU {row['cpu_us']:9.1f} µs"
            f"  wall {row['wall_us']:9.1f} µs"
            + (f"  (log of {row['log_events']} events)" if "log_events" in row else "")
        )
    print(f"  ({load()} at end; code from {report['rt_notebook']})")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
