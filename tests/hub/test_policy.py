"""The class policy: layers per group and user, budgets against a real SQLite store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rt_notebook.hub.policy import check_policy, day_start, rules_for
from rt_notebook.hub.store import Store
from tests.hub import postgres

POLICY: dict[str, Any] = {
    "default": {"usd_per_day": 0.5, "concurrent_calls": 1, "allowed_models": ["gpt-realtime-2.1"]},
    "groups": {
        "students": {"session_overrides": {"instructions": "Be a tutor."}, "minutes_per_day": 20},
        "staff": {"usd_per_day": None, "concurrent_calls": 3},
    },
    "users": {"ann": {"session_overrides": {"audio": {"output": {"voice": "marin"}}}}},
}


def test_layers_apply_default_then_groups_in_order_then_the_user() -> None:
    ann = rules_for(check_policy(POLICY), "ann", ["staff", "students"])
    assert ann.usd_per_day is None  # staff lifted it
    assert ann.concurrent_calls == 3
    assert ann.minutes_per_day == 20
    assert ann.allowed_models == ("gpt-realtime-2.1",)
    assert ann.session_overrides == {
        "instructions": "Be a tutor.",
        "audio": {"output": {"voice": "marin"}},
    }
    nobody = rules_for(POLICY, "zed", [])
    assert (nobody.usd_per_day, nobody.session_overrides) == (0.5, {})


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"defaults": {}}, "unknown keys ['defaults']"),
        ({"default": {"usd_per_dya": 1}}, "unknown rules ['usd_per_dya']"),
        ({"default": {"usd_per_day": -1}}, "policy.default.usd_per_day must be a number >= 0"),
        ({"groups": {"a": {"calls_per_minute": True}}}, "policy.groups.a.calls_per_minute"),
        ({"users": {"b": {"allowed_models": "gpt-realtime-2.1"}}}, "allowed_models must be a list"),
        ({"groups": {"a": {"session_overrides": {"voice": "marin"}}}}, "audio.output.voice"),
    ],
)
def test_a_bad_policy_is_refused_with_the_field(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_policy(policy)


def test_the_service_refuses_a_bad_policy_at_startup() -> None:
    pytest.importorskip("jupyterhub", reason="scripts/setup installs jupyterhub")
    from rt_notebook.hub.service import HubService

    service = HubService()
    with pytest.raises(Exception, match=r"HubService\.policy\.default has unknown rules"):
        service.policy = {"default": {"usd": 1}}


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
rule_names = st.sampled_from(
    ["usd_per_day", "minutes_per_day", "allowed_models", "session_overrides", "other"]
)


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["default", "groups", "users", "x"]),
        json_values | st.dictionaries(rule_names, json_values),
    )
)
def test_any_policy_is_either_accepted_or_refused_with_a_value_error(policy: Any) -> None:
    try:
        checked = check_policy(policy)
    except ValueError:
        return
    for name in ("ann", "bob"):  # an accepted policy always resolves
        rules_for(checked, name, ["students", "staff"])


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite (the default) and PostgreSQL (production), both real servers of the data."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'usage.sqlite'}"
        return
    if postgres.binaries() is None:
        pytest.skip("PostgreSQL is not installed (scripts/setup installs it)")
    pytest.importorskip("psycopg", reason="scripts/setup installs psycopg")
    with postgres.running_postgres() as url:
        yield url


def test_spending_sums_money_and_minutes_from_the_database(db_url: str) -> None:
    url = db_url
    store = Store(url)
    start = day_start(1_800_000_000.0) + 3600
    store.start_call("rtc_1", "ann", ["students"], "gpt-realtime-2.1", start)
    store.add_usage("rtc_1", 10, 1000, 0.064)
    store.add_usage("rtc_1", 10, 500, 0.032)
    assert store.end_call("rtc_1", start + 120, "budget_exhausted", "spent")
    assert not store.end_call("rtc_1", start + 180)  # the first reason stays
    store.start_call("rtc_2", "ann", ["students"], "gpt-realtime-2.1", start + 200)  # live
    store.close()
    reopened = Store(url)  # what a restarted service sees
    spent = reopened.spending("ann", day_start(start), start + 260)
    assert spent.usd == pytest.approx(0.096)
    assert spent.minutes == pytest.approx(3.0)  # 2 min ended + 1 min live
    assert spent.calls == 2
    row = reopened.call("rtc_1")
    assert row is not None
    assert (row.end_code, row.responses, row.output_tokens) == ("budget_exhausted", 2, 1500)
    assert [r.call_id for r in reopened.live_calls("ann")] == ["rtc_2"]
    assert reopened.spending("bob", 0, start + 260).calls == 0
