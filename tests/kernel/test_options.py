"""One options type for the sessions' keywords: checked statically, at run time, and shown."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from mypy import api

import rt_notebook as rt
from rt_notebook.kernel.options import (
    DEFAULTS,
    HeadlessOptions,
    RealtimeOptions,
    SessionOptions,
    keywords,
)


def test_every_keyword_has_one_default() -> None:
    assert set(keywords(RealtimeOptions)) | set(keywords(HeadlessOptions)) == set(DEFAULTS)
    shared = set(keywords(RealtimeOptions)) & set(keywords(HeadlessOptions))
    assert shared == set(keywords(SessionOptions))


def test_signatures_show_the_keywords_and_defaults() -> None:
    browser = inspect.signature(rt.RealtimeSession).parameters
    headless = inspect.signature(rt.HeadlessSession).parameters
    assert list(browser) == keywords(RealtimeOptions)
    assert browser["transcription"].default == rt.DEFAULT_TRANSCRIPTION_MODEL == "gpt-transcribe"
    assert browser["push_to_talk"].kind is inspect.Parameter.KEYWORD_ONLY
    assert headless["url"].default is None
    assert "push_to_talk" not in headless


def test_a_misspelt_keyword_is_refused_with_a_suggestion() -> None:
    with pytest.raises(TypeError, match=r"'voise'; did you mean 'voice'\?"):
        rt.RealtimeSession(voise="marin")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'push_to_talk'"):
        rt.HeadlessSession(push_to_talk=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        rt.RealtimeSession("gpt-realtime-2.1")  # type: ignore[misc]


def test_keywords_are_type_checked(tmp_path: Path) -> None:
    script = tmp_path / "uses_sessions.py"
    script.write_text(
        "import rt_notebook as rt\n"
        "rt.RealtimeSession(model='gpt-realtime', voice='marin', push_to_talk=True)\n"
        "rt.HeadlessSession(url='ws://127.0.0.1:1/v1/realtime', budget_usd=0.5)\n"
        "rt.RealtimeSession(voise='marin')\n"
        "rt.RealtimeSession(budget_usd='a lot')\n"
        "rt.HeadlessSession(sideband=True)\n"
    )
    out, _, status = api.run(["--strict", "--no-error-summary", str(script)])
    errors = [line.split(":")[1] for line in out.splitlines() if ": error:" in line]
    assert (status, errors) == (1, ["4", "5", "6"])
