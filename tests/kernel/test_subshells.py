"""Which thread handles the widget's events while a cell keeps a real ipykernel busy.

A real kernel (jupyter_client) plays JupyterLab's part: it opens a subshell and sends the
widget's messages with that ``subshell_id`` while a cell on the main shell sleeps, after the
cell has sent on the comm itself (which makes ipykernel 7.4 route the comm's messages to the
main shell). With ``events_during_cells`` the events are handled during the cell on the
subshell's thread, and a ``main_thread`` tool runs after the cell; without it everything waits.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

SLEEP = 2.0

SETUP = """
import json, threading, time
import rt_notebook as rt
_seen = []
s = rt.RealtimeSession(events_during_cells={opt_in})
s.on("*", lambda e: _seen.append([e.type, threading.current_thread().name, time.time()]))
s._sent = []  # what the kernel sends the widget
_send = s._send_widget
s._send_widget = lambda message, buffers=None: (s._sent.append(message), _send(message, buffers))

@s.tool
def here() -> str:
    "Where it runs."
    _seen.append(["tool here", threading.current_thread().name, time.time()])
    return "ok"

@s.tool(main_thread=True)
def there() -> str:
    "Where it runs."
    _seen.append(["tool there", threading.current_thread().name, time.time()])
    return "ok"

s.send_text("hi")  # the cell sends on the comm: ipykernel would route replies to the main shell
print(json.dumps(s.widget.comm.comm_id))
"""


def call(call_id: str, name: str) -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.done",
        "event_id": f"ev_{call_id}",
        "response_id": "resp_1",
        "item_id": f"item_{call_id}",
        "output_index": 0,
        "call_id": call_id,
        "name": name,
        "arguments": "{}",
    }


EVENTS = [
    {"type": "input_audio_buffer.speech_started", "event_id": "ev_1", "audio_start_ms": 0,
     "item_id": "item_0"},
    call("call_here", "here"),
    call("call_there", "there"),
]  # fmt: skip


@pytest.fixture(scope="module")
def kernel() -> Iterator[BlockingKernelClient]:
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel()
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(kc: BlockingKernelClient, code: str) -> str:
    """Run ``code`` on the main shell; what it printed."""
    out: list[str] = []

    def collect(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, timeout=60, output_hook=collect)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def query(kc: BlockingKernelClient, expression: str) -> Any:
    return json.loads(execute(kc, f"print(json.dumps({expression}))"))


def create_subshell(kc: BlockingKernelClient) -> str:
    msg = kc.session.msg("create_subshell_request", {})
    kc.control_channel.send(msg)
    reply = kc.control_channel.get_msg(timeout=10)
    assert reply["content"]["status"] == "ok", reply["content"]
    return str(reply["content"]["subshell_id"])


def send_comm(kc: BlockingKernelClient, comm_id: str, data: Any, subshell: str | None) -> str:
    """A ``comm_msg`` as JupyterLab sends it (on ``subshell``); its msg_id."""
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    if subshell is not None:
        msg["header"]["subshell_id"] = subshell
    kc.shell_channel.send(msg)
    return str(msg["header"]["msg_id"])


def send_events(kc: BlockingKernelClient, comm_id: str, subshell: str | None) -> str:
    """The widget's ``events`` message (on ``subshell``); its msg_id."""
    batch = [{"dir": "server", "t": time.time() * 1000, "event": e} for e in EVENTS]
    data = {"method": "custom", "content": {"kind": "events", "batch": batch}}
    return send_comm(kc, comm_id, data, subshell)


def statuses(kc: BlockingKernelClient, msg_id: str, timeout: float = 10) -> list[str]:
    """The kernel statuses published for message ``msg_id``, up to its ``idle``."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        if msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id:
            got.append(msg["content"]["execution_state"])
            if got[-1] == "idle":
                return got
    raise AssertionError(f"no idle status for {msg_id} within {timeout} s: {got}")


def busy_cell_with_events(
    kc: BlockingKernelClient, opt_in: bool, subshell: str | None, batches: int = 1
) -> Any:
    """Events sent while a cell sleeps; what ran where and when, and the tools' answers."""
    comm_id = json.loads(execute(kc, SETUP.format(opt_in=opt_in)))
    started = time.time()
    cell = kc.execute(f"time.sleep({SLEEP})")
    time.sleep(0.5)
    for _ in range(batches):
        send_events(kc, comm_id, subshell)
    while True:  # the cell's reply; the iopub messages meanwhile are the kernel's sends
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == cell:
            break
    ended = time.time()
    seen = []
    for _ in range(50):  # the main-thread tool runs once the cell is over
        seen = query(kc, "_seen")
        if any(kind == "tool there" for kind, _, _ in seen):
            break
        time.sleep(0.1)
    outputs = query(
        kc,
        "[e['item']['call_id'] for m in s._sent for e in [m.get('event', {})]"
        " if e.get('item', {}).get('type') == 'function_call_output']",
    )
    notices = query(kc, "s.notices")
    return started, ended, seen, outputs, notices


def test_with_events_during_cells_events_and_tools_run_on_the_subshell_during_the_cell(
    kernel: BlockingKernelClient,
) -> None:
    subshell = create_subshell(kernel)
    started, ended, seen, outputs, notices = busy_cell_with_events(kernel, True, subshell)
    during = [kind for kind, thread, t in seen if started < t < ended - 0.2]
    print(f"events_during_cells=True: {len(during)} of {len(seen)} handled during the cell")
    by_kind = {kind: (thread, t) for kind, thread, t in seen}
    assert by_kind["input_audio_buffer.speech_started"][0] != "MainThread"
    assert by_kind["input_audio_buffer.speech_started"][1] < ended - 1  # not after the cell
    assert by_kind["tool here"][0] != "MainThread"
    assert by_kind["tool there"][0] == "MainThread"
    assert by_kind["tool there"][1] >= ended - 0.2  # after the cell
    assert "tool here" in during
    assert sorted(outputs) == ["call_here", "call_there"]  # each answered once
    assert notices == []


def test_without_it_events_wait_for_the_cell_on_the_main_thread(
    kernel: BlockingKernelClient,
) -> None:
    subshell = create_subshell(kernel)
    started, ended, seen, _, notices = busy_cell_with_events(kernel, False, subshell)
    print(f"events_during_cells=False: {sum(started < t < ended - 0.2 for *_, t in seen)} handled")
    assert seen
    assert all(thread == "MainThread" for _, thread, _ in seen)
    assert all(t >= ended - 0.2 for *_, t in seen)
    assert notices == []


def test_a_frontend_without_subshells_gets_said_once(kernel: BlockingKernelClient) -> None:
    _started, ended, seen, _, notices = busy_cell_with_events(kernel, True, None, batches=4)
    assert all(thread == "MainThread" and t >= ended - 0.2 for _, thread, t in seen)
    assert len(notices) == 1
    assert "events wait for a busy cell" in notices[0]
    assert query(kernel, "s.events_during_cells") is False


# ---- the guards, without a kernel --------------------------------------------------------


class Comm:
    """ipykernel 7.4's hook: the subshell that last sent on the comm (here: the main shell)."""

    def _reply_subshell_for(self, data: Any, default: str | None) -> str | None:
        return None


class OtherComm:
    def _reply_subshell_for(self, data: Any) -> str | None:
        return None


class SubshellKernel:
    _supports_kernel_subshells = True


def test_outside_a_kernel_the_session_says_once_why_events_wait() -> None:
    import rt_notebook as rt

    s = rt.RealtimeSession(events_during_cells=True)
    assert s.events_during_cells is False
    assert s.notices == [
        "events_during_cells: no IPython kernel runs this session, so events wait for a busy cell."
    ]
    s.events_during_cells = True  # asked again: said once
    assert len(s.notices) == 1
    assert rt.RealtimeSession().notices == []


def test_the_comm_honours_the_frontends_subshell_and_unknown_hooks_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rt_notebook.kernel import subshells

    monkeypatch.setattr(subshells, "_kernel", lambda: SubshellKernel())
    comm = Comm()
    assert subshells.route_to_frontend_subshell(comm) is None
    assert comm._reply_subshell_for({}, "widgets") == "widgets"
    assert comm._reply_subshell_for({}, None) is None  # no subshell asked for: ipykernel's
    assert subshells.route_to_frontend_subshell(comm) is None  # twice: wrapped once
    subshells.restore_routing(comm)
    assert comm._reply_subshell_for({}, "widgets") is None  # ipykernel's routing again
    other = OtherComm()
    why = subshells.route_to_frontend_subshell(other)
    assert why is not None
    assert "does not know" in why
    assert other._reply_subshell_for({}) is None  # untouched
    monkeypatch.setattr(subshells, "_kernel", lambda: object())
    assert "no subshells" in str(subshells.route_to_frontend_subshell(Comm()))


def test_a_sessions_messages_leave_the_kernel_idle_unless_a_cell_runs(
    kernel: BlockingKernelClient,
) -> None:
    subshell = create_subshell(kernel)
    comm_id = json.loads(execute(kernel, SETUP.format(opt_in=True)))
    slider = "import ipywidgets; _w = ipywidgets.IntSlider(); print(json.dumps(_w.comm.comm_id))"
    other = json.loads(execute(kernel, slider))
    # the session's events, on the widgets' subshell and on the main shell: idle only
    assert statuses(kernel, send_events(kernel, comm_id, subshell)) == ["idle"]
    assert statuses(kernel, send_events(kernel, comm_id, None)) == ["idle"]
    # another widget's message: busy, as ipykernel has it
    update = {"method": "update", "state": {"value": 3}, "buffer_paths": []}
    assert statuses(kernel, send_comm(kernel, other, update, subshell)) == ["busy", "idle"]
    # while a cell runs, the session's events on a subshell say busy too
    cell = kernel.execute("time.sleep(1.5)")
    time.sleep(0.5)
    assert statuses(kernel, send_events(kernel, comm_id, subshell)) == ["busy", "idle"]
    while kernel.get_shell_msg(timeout=30)["parent_header"].get("msg_id") != cell:
        pass
    # every event was handled, and each tool answered once
    seen = query(kernel, "[kind for kind, *_ in _seen if kind.startswith('tool')]")
    assert seen.count("tool here") == 3
    # a closed session's comm is no longer quiet
    execute(kernel, "s.widget.close()")
    assert statuses(kernel, send_events(kernel, comm_id, subshell)) == ["busy", "idle"]


ECHO = """
import sys
def _echo(comm, _):
    comm.on_msg(lambda msg: print("said", msg["content"]["data"]["n"]))
get_ipython().kernel.comm_manager.register_target("echo", _echo)
print(json.dumps(type(sys.stdout).__name__))
"""


def test_what_a_message_prints_still_comes_before_its_idle(kernel: BlockingKernelClient) -> None:
    """ipykernel flushes the streams after each message; rt_notebook's routers skip a flush
    with nothing to send, never one with output waiting."""
    subshell = create_subshell(kernel)
    comm_id = json.loads(execute(kernel, SETUP.format(opt_in=True)))
    statuses(kernel, send_events(kernel, comm_id, subshell))  # handlers ran: routers in place
    assert json.loads(execute(kernel, ECHO)) == "_Routed"
    echo = "echo-comm"
    opened = kernel.session.msg("comm_open", {"comm_id": echo, "target_name": "echo", "data": {}})
    kernel.shell_channel.send(opened)
    statuses(kernel, opened["header"]["msg_id"])
    for n in range(5):
        msg_id = send_comm(kernel, echo, {"n": n}, subshell)
        order: list[str] = []
        while not order or order[-1] != "idle":
            msg = kernel.get_iopub_msg(timeout=10)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                order.append(msg["content"]["text"])
            elif msg["msg_type"] == "status":
                order.append(msg["content"]["execution_state"])
        assert order == ["busy", f"said {n}\n", "idle"]
