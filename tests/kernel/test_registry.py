"""The kernel's live sessions: rt.sessions(), rt.disconnect_all(), session.close()."""

from __future__ import annotations

import rt_notebook as rt
from rt_notebook.kernel import registry
from rt_notebook.testing import ScriptedFrontend


def test_sessions_lists_live_sessions_and_close_takes_one_out() -> None:
    a, b = rt.RealtimeSession(), rt.RealtimeSession()
    live = rt.sessions()
    assert live == registry.sessions()
    assert [x for x in live if x in (a, b)] == [a, b]  # oldest first
    frontend = ScriptedFrontend(a)
    a.connect()
    assert a.status == "connected"
    a.close()
    assert frontend.messages[-1] == {"kind": "disconnect"}  # the call ended first
    assert a.widget.comm is None  # then the widget went, and the browser's model with it
    assert a not in rt.sessions()
    assert b in rt.sessions()
    a.close()  # twice is harmless
    b.close()


def test_disconnect_all_ends_every_call() -> None:
    sessions = [rt.RealtimeSession() for _ in range(2)]
    frontends = [ScriptedFrontend(s) for s in sessions]
    for s in sessions:
        s.connect()
    assert rt.disconnect_all() >= 2
    assert [s.status for s in sessions] == ["closed", "closed"]
    assert all(f.messages[-1] == {"kind": "disconnect"} for f in frontends)
    for s in sessions:
        s.close()


def test_closing_the_widget_forgets_the_session() -> None:
    s = rt.RealtimeSession()
    s.widget.close()
    assert s not in rt.sessions()
