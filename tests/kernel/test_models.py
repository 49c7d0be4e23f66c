"""OpenAI's model list, deprecations and prices, checked against openai-python's own types.

The first test is the tripwire: a newer openai-python that lists a model (or a deprecation)
rt_notebook's table lacks turns it red, before users' sessions fail.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import pytest

import rt_notebook as rt
from rt_notebook.analysis.recorded import RecordedSession
from rt_notebook.analysis.usage import PRICES, Prices, prices_for, transcription_prices_for
from rt_notebook.testing import ScriptedFrontend
from rt_notebook.wire import models
from rt_notebook.wire.events import EventLog
from rt_notebook.wire.session_config import SessionConfigError, check_models, prepare_session
from tests.protocol import assert_client_event

BEFORE = dt.date(2027, 1, 19)
SHUTDOWN = dt.date(2027, 1, 20)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fix "today" (UTC) for every deprecation check."""

    def fix(day: dt.date) -> None:
        monkeypatch.setattr(models, "utc_today", lambda: day)

    fix(BEFORE)
    return fix


def sdk() -> models.SdkModels:
    found = models.sdk_models()
    assert found is not None, "the test extra installs openai-python"
    return found


# ---- the model list ------------------------------------------------------------------


def test_our_table_knows_every_model_openai_python_lists() -> None:
    listed = sdk()
    version = tuple(int(part) for part in listed.version.split(".")[:2])
    assert version >= (3, 57), "pyproject requires the openai-python that has these types"
    unknown = {
        "realtime": sorted(set(listed.realtime) - set(models.REALTIME_MODELS)),
        "transcription": sorted(set(listed.transcription) - set(models.TRANSCRIPTION_MODELS)),
    }
    assert unknown == {"realtime": [], "transcription": []}, (
        f"openai-python {listed.version} lists models rt_notebook does not know: add them to "
        "rt_notebook/wire/models.py, and their prices to rt_notebook/analysis/usage.py"
    )
    assert set(models.REALTIME_MODELS) <= set(listed.realtime)  # no invented names
    assert set(models.TRANSCRIPTION_MODELS) <= set(listed.transcription)


def test_every_deprecation_openai_python_announces_is_in_our_table() -> None:
    listed = sdk()
    assert listed.shutdowns["gpt-realtime"] == SHUTDOWN
    assert listed.shutdowns["whisper-1"] == dt.date(2027, 2, 26)
    ours = {name: day for name, (day, _) in models._DEPRECATED.items()}
    missing = {n: str(d) for n, d in listed.shutdowns.items() if ours.get(n) != d}
    assert missing == {}, "add these shutdowns (and a replacement) to rt_notebook/wire/models.py"


def test_replacements_and_defaults_are_current_models() -> None:
    listed = sdk()
    for name, (_, replacement) in models._DEPRECATED.items():
        kind: models.ModelKind = "realtime" if name in models.REALTIME_MODELS else "transcription"
        assert models.is_known(replacement, kind), (name, replacement)
        assert models.deprecation(replacement, kind) is None, (name, replacement)
    assert models.DEFAULT_MODEL in listed.realtime
    assert models.DEFAULT_TRANSCRIPTION_MODEL in listed.transcription
    assert models.deprecation(models.DEFAULT_MODEL) is None
    assert models.deprecation(models.DEFAULT_TRANSCRIPTION_MODEL, "transcription") is None
    assert not any(name.startswith("gpt-live") for name in listed.realtime)


def test_deprecation_notes_are_read_from_wrapped_docstrings() -> None:
    source = '''
    model: str
    """The model.

    Deprecated values:

    - "old-a", "old-a-2025-01-01", "old-b":
      Announced shutdown date: 2027-03-04. See
      https://example.test for details.
    - "old-c": Announced shutdown date: 2028-01-02.
    """

    other: str
    """Not a note: - "x": Announced shutdown date: 2029-01-01."""
    '''
    notes = models._deprecation_notes(source)
    assert notes == {
        "old-a": dt.date(2027, 3, 4),
        "old-a-2025-01-01": dt.date(2027, 3, 4),
        "old-b": dt.date(2027, 3, 4),
        "old-c": dt.date(2028, 1, 2),
    }


def test_the_session_the_server_sends_validates_against_openai_python() -> None:
    session = prepare_session(None)
    assert session == {"type": "realtime", "model": "gpt-realtime-2.1"}
    assert_client_event({"type": "session.update", "session": session})
    composed = rt.compose_session(transcription=rt.DEFAULT_TRANSCRIPTION_MODEL)
    assert_client_event({"type": "session.update", "session": prepare_session(composed)})
    allowed = prepare_session({}, allowed_models=["gpt-realtime-2.1-mini"])
    assert allowed["model"] == "gpt-realtime-2.1-mini"
    pinned = prepare_session({}, defaults={"model": "gpt-realtime-2"})
    assert pinned["model"] == "gpt-realtime-2"


# ---- deprecation warnings and errors -------------------------------------------------


def test_check_models_before_and_after_the_shutdown() -> None:
    session = {
        "model": "gpt-realtime",
        "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
    }
    notices = check_models(session, today=BEFORE)
    assert [(n.model, n.replacement, n.shutdown) for n in notices] == [
        ("gpt-realtime", "gpt-realtime-2.1", SHUTDOWN),
        ("gpt-4o-mini-transcribe", "gpt-transcribe", dt.date(2027, 2, 26)),
    ]
    assert "shuts it down on 2027-01-20. Use 'gpt-realtime-2.1'" in notices[0].message(BEFORE)
    with pytest.raises(SessionConfigError, match="shut down by OpenAI on 2027-01-20") as caught:
        check_models(session, today=SHUTDOWN)
    assert caught.value.param == "session.model"
    assert "'gpt-realtime-2.1'" in caught.value.message
    assert caught.value.as_http().status == 400
    late = {"audio": {"input": {"transcription": {"model": "whisper-1"}}}}
    assert check_models(late, today=SHUTDOWN)[0].model == "whisper-1"  # its date is later
    with pytest.raises(SessionConfigError) as transcriber:
        check_models(late, today=dt.date(2027, 2, 26))
    assert transcriber.value.param == "session.audio.input.transcription.model"
    assert check_models({"model": "gpt-realtime-2.1"}, today=dt.date(2030, 1, 1)) == []


def test_a_deprecated_model_warns_in_the_kernel_and_shows_in_the_widget(today: Any) -> None:
    with pytest.warns(rt.ModelDeprecationWarning, match=r"2027-01-20\. Use 'gpt-realtime-2\.1'"):
        s = rt.RealtimeSession(model="gpt-realtime")
    assert "gpt-realtime-2.1" in s.widget.notice
    assert s.notices == [s.widget.notice]
    with pytest.warns(rt.ModelDeprecationWarning, match="2027-02-26.*'gpt-transcribe'"):
        s.update(transcription="whisper-1")
    assert "whisper-1" in s.widget.notice.splitlines()[1]
    with pytest.warns(rt.ModelDeprecationWarning, match="gpt-realtime-2.1-mini"):
        headless = rt.HeadlessSession(model="gpt-realtime-mini-2025-12-15")
    assert headless.notices


def test_current_defaults_warn_nothing(today: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = rt.RealtimeSession()
        headless = rt.HeadlessSession()
    assert s.widget.notice == ""
    assert s.notices == []
    assert "model" not in s.config  # the server extension's defaults may still choose
    assert s.config["audio"]["input"]["transcription"] == {"model": "gpt-transcribe"}
    assert headless.config["model"] == rt.DEFAULT_MODEL == "gpt-realtime-2.1"


def test_after_the_shutdown_a_session_fails_before_any_upstream_call(today: Any) -> None:
    today(SHUTDOWN)
    with pytest.raises(SessionConfigError, match="shut down by OpenAI on 2027-01-20"):
        rt.RealtimeSession(model="gpt-realtime-mini")
    with pytest.raises(SessionConfigError, match=r"'gpt-realtime-2\.1'"):
        rt.HeadlessSession(model="gpt-realtime")
    with pytest.raises(SessionConfigError) as by_default:  # the server's own defaults too
        prepare_session({}, defaults={"model": "gpt-realtime"})
    assert by_default.value.param == "session.model"


def test_a_deprecated_model_chosen_by_the_server_is_noticed(today: Any) -> None:
    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)
    created = {
        "type": "session.created",
        "event_id": "event_1",
        "session": {"type": "realtime", "model": "gpt-realtime-mini"},
    }
    with pytest.warns(rt.ModelDeprecationWarning, match="gpt-realtime-2.1-mini"):
        frontend.emit(created)
    assert "2027-01-20" in s.widget.notice
    frontend.emit({**created, "type": "session.updated"})  # said once, not per event
    assert len(s.notices) == 1


# ---- prices --------------------------------------------------------------------------

USAGE = {
    "total_tokens": 300,
    "input_tokens": 100,
    "output_tokens": 200,
    "input_token_details": {
        "text_tokens": 20,
        "audio_tokens": 80,
        "image_tokens": 0,
        "cached_tokens": 40,
        "cached_tokens_details": {"text_tokens": 10, "audio_tokens": 30, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 50, "audio_tokens": 150},
}


def recorded(*events: dict[str, Any]) -> RecordedSession:
    log = EventLog()
    for i, event in enumerate(events):
        log.append({"event_id": f"event_{i}", **event}, 1000.0 + i, "server")
    return RecordedSession(log)


def created(model: str, transcription: str | None = None) -> dict[str, Any]:
    session: dict[str, Any] = {"type": "realtime", "model": model}
    if transcription:
        session["audio"] = {"input": {"transcription": {"model": transcription}}}
    return {"type": "session.created", "session": session}


def done(usage: dict[str, Any] = USAGE) -> dict[str, Any]:
    return {
        "type": "response.done",
        "response": {"id": "r1", "status": "completed", "usage": usage},
    }


@pytest.mark.parametrize("model", models.REALTIME_MODELS)
def test_cost_on_every_listed_model(model: str) -> None:
    costs = recorded(created(model), done()).cost()
    p = prices_for(model)
    if p is None:  # never priced as another model
        assert costs["cost_usd"] is None
        assert costs["unpriced_models"] == [model]
        assert costs["known_cost_usd"] == 0.0
        return
    # cached tokens are part of the input: 10 of 20 text, 30 of 80 audio
    by_hand = (
        10 * p.text_input
        + 10 * p.text_cached_input
        + 50 * p.audio_input
        + 30 * p.audio_cached_input
        + 50 * p.text_output
        + 150 * p.audio_output
    ) / 1e6
    assert costs["cost_usd"] == pytest.approx(by_hand)
    assert costs["unpriced_models"] == []


def test_published_prices_of_the_current_models() -> None:
    flagship = recorded(created("gpt-realtime-2.1"), done()).cost()["cost_usd"]
    # 10 x $4 + 10 x $0.40 + 50 x $32 + 30 x $0.40 + 50 x $24 + 150 x $64
    assert flagship == pytest.approx((40 + 4 + 1600 + 12 + 1200 + 9600) / 1e6)
    mini = recorded(created("gpt-realtime-2.1-mini"), done()).cost()["cost_usd"]
    # 10 x $0.60 + 10 x $0.06 + 50 x $10 + 30 x $0.30 + 50 x $2.40 + 150 x $20
    assert mini == pytest.approx((6 + 0.6 + 500 + 9 + 120 + 3000) / 1e6)
    assert prices_for("gpt-realtime-2025-08-28") is PRICES["gpt-realtime"]
    assert prices_for("gpt-audio-1.5") is None
    assert transcription_prices_for("gpt-4o-mini-transcribe-2025-12-15") is not None


def test_an_unknown_model_is_flagged_and_a_user_price_fixes_it() -> None:
    events = (created("gpt-audio-1.5"), done())
    unknown = recorded(*events)
    assert unknown.usage()[0]["cost_usd"] is None
    assert unknown.cost()["unpriced_models"] == ["gpt-audio-1.5"]
    priced = RecordedSession(unknown.events, prices={**PRICES, "gpt-audio-1.5": Prices(*[1] * 7)})
    row = priced.usage()[0]
    assert row["cost_usd"] == pytest.approx(300 / 1e6)
    assert row["priced_as"] == "gpt-audio-1.5"


def test_input_transcription_is_billed_apart_and_counted() -> None:
    by_minute = recorded(
        created("gpt-realtime-2.1", "gpt-transcribe"),
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "content_index": 0,
            "transcript": "hello",
            "usage": {"type": "duration", "seconds": 12.0},
        },
        done(),
    )
    rows = by_minute.transcription_usage()
    assert [(r["model"], r["seconds"]) for r in rows] == [("gpt-transcribe", 12.0)]
    assert rows[0]["cost_usd"] == pytest.approx(12 / 60 * 0.0045)
    totals = by_minute.cost()
    assert totals["transcription_usd"] == pytest.approx(12 / 60 * 0.0045)
    assert totals["cost_usd"] == pytest.approx(totals["responses_usd"] + 12 / 60 * 0.0045)

    by_token = recorded(
        created("gpt-realtime-2.1", "gpt-4o-mini-transcribe"),
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "content_index": 0,
            "transcript": "hello",
            "usage": {
                "type": "tokens",
                "input_tokens": 100,
                "output_tokens": 20,
                "total_tokens": 120,
                "input_token_details": {"audio_tokens": 90, "text_tokens": 10},
            },
        },
    )
    # 90 audio x $3 + 10 text x $1.25 + 20 output x $5, per million tokens
    assert by_token.cost()["transcription_usd"] == pytest.approx((270 + 12.5 + 100) / 1e6)
    assert by_token.cost()["responses"] == 0

    unpriced = recorded(
        created("gpt-realtime-2.1", "gpt-4o-transcribe-diarize"),
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "usage": {"type": "duration", "seconds": 3.0},
        },
    )
    assert unpriced.cost()["cost_usd"] is None
    assert unpriced.cost()["unpriced_models"] == ["gpt-4o-transcribe-diarize"]


def test_a_budget_on_an_unpriced_model_says_it_counts_only_what_has_a_price() -> None:
    s = rt.RealtimeSession(budget_usd=1.0)
    frontend = ScriptedFrontend(s)
    frontend.emit(
        {
            "type": "session.created",
            "event_id": "e1",
            "session": created("gpt-audio-1.5")["session"],
        },
        {"event_id": "e2", **done()},
    )
    assert any("No price for gpt-audio-1.5" in n for n in s.notices)
    assert "rt.PRICES" in s.widget.notice


def test_a_deprecation_check_reads_the_sdk_without_importing_it() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rt_notebook.wire.session_config import check_models\n"
        "notices = check_models({'model': 'gpt-realtime'})\n"
        "assert notices[0].shutdown.isoformat() == '2027-01-20', notices\n"
        "assert 'openai' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_cost_plot_ends_at_the_bill_transcription_included() -> None:
    from rt_notebook import plots

    session = recorded(
        created("gpt-realtime-2.1", "gpt-transcribe"),
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "usage": {"type": "duration", "seconds": 40.0},
        },
        done(),
    )
    fig = plots.tokens_and_cost(session)
    (line,) = [a for ax in fig.axes for a in ax.get_lines() if a.get_gid() == "cumulative:cost_usd"]
    assert session.cost()["transcription_usd"] > 0
    assert line.get_ydata()[-1] == pytest.approx(session.cost()["cost_usd"])
