"""Service level objectives: validation, the indicator counted from rollup cells against a count
of the raw generations done here, budgets and burn rates, the sketch's error band for latency,
burn-rate rules firing only when both windows burn, and the digest's budgets section."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from tests.unit.test_alert_manager import NOW, World
from video_monitoring.alerting import slo_objectives
from video_monitoring.alerting.rules import DEFAULT_RULES, AlertRule, parse_rule
from video_monitoring.alerting.slo_objectives import (
    DEFAULT_OBJECTIVES,
    Counts,
    Objective,
    parse_objective,
)
from video_monitoring.analytics import digest_render as render
from video_monitoring.analytics.digest_content import slo_summary
from video_monitoring.analytics.error_budgets import SloService
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.ingest import sketch
from video_monitoring.ingest.rollup import Totals

SUCCESS, LATENCY = DEFAULT_OBJECTIVES
PROVIDERS = ("runway", "pika", "heygen")


class FakeObjectiveStore:
    """Objectives in a dict, as `slo_objectives` holds them."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.seeded = 0

    def load(self) -> tuple[list[Objective], list[str]]:
        found, problems = [], []
        for slo_id, doc in sorted(self.docs.items()):
            try:
                found.append(parse_objective(doc, slo_id))
            except InvalidArgument as error:
                problems.append(f"{slo_id}: {error}")
        return found, problems

    def seed(self, objectives: tuple[Objective, ...]) -> list[str]:
        self.seeded += 1
        created = [o.slo_id for o in objectives if o.slo_id not in self.docs]
        for objective in objectives:
            self.docs.setdefault(objective.slo_id, objective.to_doc())
        return created

    def put(self, objective: Objective, by: str, now: dt.datetime) -> None:
        self.docs[objective.slo_id] = objective.to_doc()


def test_objectives_are_validated_and_a_bad_field_is_named() -> None:
    assert SUCCESS.target == 0.995 and SUCCESS.window_days == 28
    assert LATENCY.threshold_seconds == 90 and LATENCY.target == 0.95
    cases = {
        "target": {"sli": "success", "target": 1.0},
        "windowDays": {"sli": "success", "target": 0.99, "windowDays": 91},
        "sli": {"sli": "uptime", "target": 0.99},
        "thresholdSeconds": {"sli": "latency", "target": 0.9},
        "scopes.0": {"sli": "success", "target": 0.99, "scopes": ["region"]},
    }
    for field, body in cases.items():
        with pytest.raises(InvalidArgument) as error:
            parse_objective(body, "x")
        assert field in str(error.value), (field, str(error.value))
    with pytest.raises(InvalidArgument, match=r"^thresholdSeconds: applies to latency"):
        parse_objective({"sli": "success", "target": 0.99, "thresholdSeconds": 9}, "x")
    with pytest.raises(InvalidArgument, match="body"):
        parse_objective(["not", "an", "object"])


def test_burn_rate_rules_are_validated() -> None:
    base = next(r for r in DEFAULT_RULES if r.rule_id == "slo_success_fast_burn").to_doc()
    assert base["enabled"] is False  # seeded off: the team turns on the objectives it keeps
    changes: list[tuple[dict[str, Any], str]] = [
        ({"slo": None}, "^slo: a burn_rate rule needs the objective"),
        ({"shortWindow": "1h"}, "^shortWindow: a burn_rate rule's is one of 5m, 30m"),
        ({"window": "24h"}, "^window: a burn_rate rule's is one of 1h, 6h"),
        ({"comparator": "lt"}, "^threshold: a burn_rate rule fires above"),
        ({"metric": "successRate"}, "^metric: errorBudgetBurn goes with kind burn_rate"),
    ]
    for change, message in changes:
        with pytest.raises(InvalidArgument, match=message):
            parse_rule({**base, **change})
    with pytest.raises(InvalidArgument, match=r"^window: one of 5m, 1h, 24h"):
        parse_rule({"metric": "successRate", "threshold": 0.9, "window": "6h"}, "r")
    with pytest.raises(InvalidArgument, match=r"^slo: slo and shortWindow apply to burn_rate"):
        parse_rule({"metric": "successRate", "threshold": 0.9, "slo": "generation_success"}, "r")


def test_latency_is_counted_from_the_sketch_exactly_outside_the_one_percent_band() -> None:
    """Times at most T/(1 + alpha) are good and above T/(1 - alpha) bad, whatever the bin."""
    rng = random.Random(7)
    times = [rng.uniform(1, 400) for _ in range(5000)]
    times = [t for t in times if not 90 / 1.01 < t <= 90 / 0.99]
    bins = sketch.add({}, times)
    assert slo_objectives.slower_than(bins, 90.0) == sum(1 for t in times if t > 90)
    # Inside the band a time may land on either side, never outside it.
    edge = sketch.add({}, [89.2, 90.0, 90.8])
    assert 0 <= slo_objectives.slower_than(edge, 90.0) <= 3
    assert slo_objectives.slower_than(sketch.add({}, [89.0, 91.0]), 90.0) == 1


def test_budget_and_burn_rate_arithmetic() -> None:
    # 10,000 valid, 30 bad against 99.5%: 50 allowed, 40% left; burn 0.3% / 0.5% = 0.6.
    budget = slo_objectives.budget_json(SUCCESS, Counts(10_000, 30))
    assert budget["allowedBad"] == pytest.approx(50)
    assert budget["budgetRemaining"] == pytest.approx(0.4)
    assert budget["sli"] == pytest.approx(0.997) and budget["status"] == "ok"
    assert (
        slo_objectives.budget_json(SUCCESS, Counts(10_000, 40))["status"] == "at_risk"
    )  # 20% left
    assert slo_objectives.budget_json(SUCCESS, Counts(10_000, 60))[
        "budgetRemaining"
    ] == pytest.approx(-0.2)
    assert slo_objectives.budget_json(SUCCESS, Counts(10_000, 60))["status"] == "exhausted"
    assert slo_objectives.budget_json(SUCCESS, Counts(0, 0))["status"] == "no_data"
    assert slo_objectives.burn_rate(SUCCESS, Counts(10_000, 30)) == pytest.approx(0.6)
    assert slo_objectives.burn_rate(SUCCESS, Counts(0, 0)) is None
    # 40% left (the window spent 60% so far) burning at 2x: it shrinks by 2 - 0.6 = 1.4 budgets
    # per 28 days, so the 40% lasts 0.4 * 672 h / 1.4 = 192 hours; at 0.5x it grows back.
    assert slo_objectives.hours_to_exhaustion(SUCCESS, 0.4, 2.0) == pytest.approx(192.0)
    assert slo_objectives.hours_to_exhaustion(SUCCESS, 0.4, 0.9) == pytest.approx(0.4 * 672 / 0.3)
    assert slo_objectives.hours_to_exhaustion(SUCCESS, 0.4, 0.5) is None
    assert slo_objectives.hours_to_exhaustion(SUCCESS, -0.1, 3.0) is None  # spent already
    # Both windows must burn: the smaller counts; a short window with nothing finished defers
    # to the long one.
    fast = slo_objectives.burn_measurement(SUCCESS, Counts(100, 10), Counts(10, 5))
    assert fast.value == pytest.approx(20.0) and fast.samples == 100
    assert slo_objectives.burn_measurement(SUCCESS, Counts(100, 10), Counts(10, 0)).value == 0.0
    assert slo_objectives.burn_measurement(
        SUCCESS, Counts(100, 10), Counts(0, 0)
    ).value == pytest.approx(20)
    assert slo_objectives.burn_measurement(SUCCESS, Counts(0, 0), Counts(0, 0)).value is None


def random_history(world: World, rng: random.Random, days: int) -> list[dict[str, Any]]:
    """Generations over `days` before NOW (some outside 28 days), recorded by the monitor;
    returns what was written."""
    written = []
    for _ in range(900):
        ago = rng.uniform(0, days * 24 * 60)
        if rng.random() < 0.3:
            ago = rng.uniform(0, 7 * 60)  # plenty inside the burn windows too
        provider = rng.choice(PROVIDERS)
        status = rng.choice(["completed"] * 8 + ["failed", "processing"])
        seconds = rng.choice([rng.uniform(5, 89), rng.uniform(91, 300)])
        world.add(provider, status, seconds, ago_minutes=ago)
        written.append({"provider": provider, "status": status, "seconds": seconds,
                        "created": NOW - dt.timedelta(minutes=ago)})  # fmt: skip
    return written


def hand_count(
    written: list[dict[str, Any]], objective: Objective, scope: str, span: dt.timedelta
) -> Counts:
    """The indicator counted from the raw generations, without rollups or sketches."""
    end = NOW.replace(second=0, microsecond=0)
    inside = [
        g
        for g in written
        if end - span <= g["created"] < end
        and (scope == "overall" or scope == f"provider:{g['provider']}")
    ]
    if objective.sli == "success":
        done = [g for g in inside if g["status"] in ("completed", "failed")]
        return Counts(len(done), sum(1 for g in done if g["status"] == "failed"))
    completed = [g for g in inside if g["status"] == "completed"]
    limit = objective.threshold_seconds or 0
    return Counts(len(completed), sum(1 for g in completed if g["seconds"] > limit))


def test_status_matches_a_hand_count_for_every_objective_scope_and_window() -> None:
    world = World()
    written = random_history(world, random.Random(11), days=35)
    store = FakeObjectiveStore()
    service = SloService(store, world.monitor, world.clock)
    body = service.status(NOW)
    assert store.seeded == 1 and [o["sloId"] for o in body["objectives"]] == [
        "generation_success", "generation_latency"
    ]  # fmt: skip
    checked = 0
    for served in body["objectives"]:
        fields = ("sli", "target", "thresholdSeconds", "windowDays", "scopes")
        objective = parse_objective({k: served[k] for k in fields}, served["sloId"])
        assert [s["scope"] for s in served["budgets"]] == [
            "overall", *(f"provider:{p}" for p in sorted(PROVIDERS))
        ]  # fmt: skip
        for scope in served["budgets"]:
            counted = hand_count(written, objective, scope["scope"], objective.window)
            assert (scope["valid"], scope["bad"]) == (counted.valid, counted.bad)
            allowed = (1 - objective.target) * counted.valid
            assert scope["budgetRemaining"] == pytest.approx(1 - counted.bad / allowed)
            for name, span in slo_objectives.BURN_WINDOWS.items():
                small = hand_count(written, objective, scope["scope"], span)
                expected = (
                    None if small.valid == 0
                    else small.bad / small.valid / (1 - objective.target)
                )  # fmt: skip
                assert scope["burnRates"][name] == pytest.approx(expected), (scope, name)
                checked += 1
    assert checked == 2 * 4 * 4
    assert body["objectives"][1]["uncertainSeconds"] == pytest.approx([90 / 1.01, 90 / 0.99])


def test_a_disabled_objective_is_listed_without_figures_and_edits_replace() -> None:
    world = World()
    store = FakeObjectiveStore()
    service = SloService(store, world.monitor, world.clock)
    service.objectives()
    off = parse_objective({**LATENCY.to_doc(), "enabled": False})
    service.update(off, "admin")
    body = service.status(NOW)
    latency = next(o for o in body["objectives"] if o["sloId"] == "generation_latency")
    assert latency["enabled"] is False and latency["budgets"] == []
    assert store.seeded == 1  # the defaults exist: nothing seeded again


def enable(world: World, rule_id: str) -> AlertRule:
    rule = next(r for r in DEFAULT_RULES if r.rule_id == rule_id)
    on = rule.model_copy(update={"enabled": True})
    world.manager.rule_book.seed_default_rules()
    world.manager.rule_book.update_rule(on, "admin")
    return on


def run_with_objectives(world: World) -> list[tuple[str, str]]:
    snapshot = world.monitor.snapshot(world.clock.now, burn_windows=True)
    snapshot.objectives = {o.slo_id: o for o in DEFAULT_OBJECTIVES}
    world.manager.run(snapshot)
    world.clock.advance(minutes=5)
    return sorted(
        (i.rule_id, i.scope)
        for i in world.alerts.instances.values()
        if i.rule_id.startswith("slo_") and i.status == "firing"
    )


def test_the_fast_burn_rule_fires_when_both_windows_burn_and_clears_with_the_short_one() -> None:
    """pika fails 1 in 5 over the last hour (burn 40x); runway is healthy."""
    world = World()
    enable(world, "slo_success_fast_burn")
    for i in range(60):
        world.add("runway", "completed", 40, ago_minutes=59 - i)
        world.add("pika", "failed" if i % 5 == 0 else "completed", 40, ago_minutes=59.5 - i)
    fired = run_with_objectives(world)
    # overall: 12 failed of 120 = 10% = burn 20 in the hour, and in the last 5 minutes too.
    assert fired == [
        ("slo_success_fast_burn", "overall"),
        ("slo_success_fast_burn", "provider:pika"),
    ]
    # Its page says why no figure is charted (runs store no burn).
    alert_id = next(i.instance_id for i in world.alerts.instances.values()
                    if i.rule_id == "slo_success_fast_burn")  # fmt: skip
    figure = world.manager.actions.alert(alert_id)["figure"]
    assert figure["points"] == [] and "GET /slos" in figure["unavailable"]
    # No generation created since: the short window has none finished, so the long window
    # judges alone and the alerts stay firing (a slow incident is not taken for a recovery).
    assert run_with_objectives(world) == fired
    # Then pika completes everything again: the short windows are clean, so both resolve after
    # their two clear evaluations although the hour still burns.
    for i in range(20):
        world.add("pika", "completed", 40, ago_minutes=-5 - 0.5 * i)
    run_with_objectives(world)
    assert run_with_objectives(world) == []


def test_without_its_objective_a_burn_rule_has_no_data() -> None:
    world = World()
    enable(world, "slo_success_fast_burn")
    for i in range(40):
        world.add("pika", "failed", 40, ago_minutes=30 - i * 0.5)
    snapshot = world.monitor.snapshot(world.clock.now)  # no objectives in it
    world.manager.run(snapshot)
    assert all(i.status != "firing" for i in world.alerts.instances.values()
               if i.rule_id.startswith("slo_"))  # fmt: skip


def test_the_digest_shows_each_objective_overall_and_the_scopes_at_risk() -> None:
    world = World()
    for i in range(100):
        world.add("runway", "completed", 40, ago_minutes=i * 10 + 5)
        world.add("pika", "failed" if i % 10 == 0 else "completed", 40, ago_minutes=i * 10 + 6)
    status = SloService(FakeObjectiveStore(), world.monitor, world.clock).status(NOW)
    items = slo_summary(status)
    assert [(i["sloId"], i["scope"], i["status"]) for i in items] == [
        ("generation_success", "overall", "exhausted"),  # 10 of 200 failed: 5% against 0.5%
        ("generation_success", "provider:pika", "exhausted"),
        ("generation_latency", "overall", "ok"),
    ]
    line = render.slo_line(items[0])
    assert line.startswith("generation_success overall: 95.00% good (target 99.50% over 28")
    assert line.endswith(", the budget spent 10.0 times over, exhausted")
    assert render.slo_line(items[2]).endswith("% of the budget left, ok")
    assert slo_summary(None) == []


def test_counts_of_an_empty_window() -> None:
    assert slo_objectives.counts(SUCCESS, Totals()) == Counts(0, 0)
    assert slo_objectives.counts(LATENCY, Totals()) == Counts(0, 0)
