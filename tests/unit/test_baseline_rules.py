"""Business alerts against a baseline: conversion and revenue over the last 24 hours compared
with the same 24 hours on previous days (what each run stored), quiet without history or on a
normal day, firing on a real drop; unedited defaults follow the new definition, edited ones stay."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.alert_fakes import FakeAlertStore
from tests.unit.test_alert_manager import World
from video_monitoring.alerting.metrics import system_metrics_id
from video_monitoring.alerting.records import Measurement
from video_monitoring.alerting.rules import DEFAULT_RULES, AlertRule
from video_monitoring.alerting.state_machine import judge

CONVERSION = next(r for r in DEFAULT_RULES if r.rule_id == "conversion_drop")
REVENUE = next(r for r in DEFAULT_RULES if r.rule_id == "revenue_decline")


def test_a_rate_is_judged_by_its_wilson_bound_against_the_median_of_previous_days() -> None:
    history = (0.04, 0.05, 0.045)  # median 0.045: the rule fires below 0.0225
    normal = judge(CONVERSION, Measurement(0.03, 400, 12, history), firing=False)
    assert normal.condition == "clear"  # 3% with an upper bound of 5.1%
    dropped = judge(CONVERSION, Measurement(2 / 400, 400, 2, history), firing=False)
    assert dropped.condition == "breach"
    assert dropped.bound is not None and dropped.bound < 0.0225
    assert "baseline 0.045 (median of 3 days)" in dropped.reason
    short = judge(CONVERSION, Measurement(0.0, 400, 0, (0.04, 0.05)), firing=False)
    assert (short.condition, short.reason) == ("nodata", "2 baseline days < minHistoryDays 3")
    few = judge(CONVERSION, Measurement(0.0, 50, 0, history), firing=False)
    assert few.condition == "nodata"  # 50 free generations < minSamples 100


def world_with_history(conversion: list[float], revenue: list[float]) -> World:
    """A world whose previous days' runs at this time stored these figures."""
    world = World()
    for day, (rate, usd) in enumerate(zip(conversion, revenue, strict=True), start=1):
        for minutes in (0, 5):  # the runs at the times of this test's two runs
            tick = world.clock.now + dt.timedelta(minutes=minutes) - dt.timedelta(days=day)
            world.alerts.system_metrics[system_metrics_id(tick, "24h", "overall")] = {
                "tick": tick, "windowName": "24h", "scope": "overall",
                "ruleMetrics": {"conversionRate": rate, "revenueUsd": usd},
            }  # fmt: skip
    return world


def run(world: World, upgrades: int, free: int, revenue: float) -> list[str]:
    """Two runs five minutes apart (the rules' pending period) with `free` free-tier
    generations and `upgrades` upgrades worth `revenue` in the last 24 hours."""
    for i in range(free):
        world.add("runway", "completed", 40, ago_minutes=60 + i, userTier="free")
    fired: list[str] = []
    for _ in range(2):
        snapshot = world.monitor.snapshot(world.clock.now)
        snapshot.upgrades["24h"] = upgrades
        snapshot.revenue["24h"] = revenue
        fired += [f.split("__")[0] for f in world.manager.run(snapshot).fired]
        world.clock.advance(minutes=5)
    return sorted(fired)


def test_without_history_the_business_rules_stay_quiet() -> None:
    assert run(World(), upgrades=0, free=400, revenue=0.0) == []


def test_a_normal_day_stays_quiet_and_a_real_drop_fires() -> None:
    normal = world_with_history([0.04, 0.045, 0.05, 0.042], [400.0, 380.0, 420.0, 410.0])
    assert run(normal, upgrades=16, free=400, revenue=390.0) == []
    dropped = world_with_history([0.04, 0.045, 0.05, 0.042], [400.0, 380.0, 420.0, 410.0])
    assert run(dropped, upgrades=1, free=400, revenue=90.0) == [
        "conversion_drop", "revenue_decline",
    ]  # fmt: skip


@pytest.mark.parametrize("threshold", [0.0, 1.0, 1.5])
def test_a_baseline_drop_is_a_fraction(threshold: float) -> None:
    with pytest.raises(ValueError, match="relative threshold"):
        AlertRule.model_validate({**CONVERSION.to_doc(), "threshold": threshold})


def test_unedited_defaults_follow_the_new_definition_and_edited_ones_stay() -> None:
    store = FakeAlertStore()
    old = AlertRule.model_validate(
        {**CONVERSION.to_doc(), "kind": "threshold", "threshold": 0.5, "minSamples": 20}
    )
    store.seed_rules([old, REVENUE])  # as an earlier version seeded them
    changed = store.seed_rules(DEFAULT_RULES)  # creates the rest, updates conversion_drop
    assert changed == [r.rule_id for r in DEFAULT_RULES if r.rule_id != "revenue_decline"]
    assert store.rules["conversion_drop"] == CONVERSION
    edited = CONVERSION.model_copy(update={"threshold": 0.3})
    store.put_rule(edited, "ops", dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    assert store.seed_rules(DEFAULT_RULES) == []
    assert store.rules["conversion_drop"] == edited
