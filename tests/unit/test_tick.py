"""The five-minute tick, step by step, against a fake of the services it calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from video_monitoring.alerting.controls import Change, ProviderControl
from video_monitoring.alerting.evaluation import RunReport
from video_monitoring.alerting.metrics import Snapshot, measure
from video_monitoring.alerting.notifications import DeliveryResult
from video_monitoring.alerting.records import Measurement
from video_monitoring.alerting.rule_book import RuleSet
from video_monitoring.alerting.rules import DEFAULT_RULES, AlertRule
from video_monitoring.alerting.slo_objectives import DEFAULT_OBJECTIVES, Objective
from video_monitoring.analytics.health import HealthInputs
from video_monitoring.core.budget import Budget
from video_monitoring.core.models import Window
from video_monitoring.runtime import tick as tick_module

NOW = dt.datetime(2026, 11, 30, 12, 5, tzinfo=dt.UTC)


def anomaly_rule(baseline_days: int) -> AlertRule:
    return AlertRule.model_validate(
        {
            "ruleId": f"spike_{baseline_days}",
            "kind": "anomaly",
            "metric": "total",
            "comparator": "gt",
            "threshold": 0.0,
            "minSamples": 0,
            "baselineDays": baseline_days,
            "minHistoryDays": 2,
            "direction": "above",
            "channels": ["slack"],
        }
    )


@dataclass
class FakeServices:
    """TickServices recording every call; each answer is a plain value set by the test."""

    rules: RuleSet = field(default_factory=lambda: RuleSet(DEFAULT_RULES, ()))
    repairs: int | None = 3
    backlog_counts: dict[str, tuple[int, int]] = field(default_factory=lambda: {"overall": (4, 1)})
    deliveries: list[DeliveryResult] = field(default_factory=list)
    daily: bool = True
    changes: list[Change] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    budget: Budget = field(default_factory=lambda: Budget(60))

    @property
    def stuck_after(self) -> dt.timedelta:
        return dt.timedelta(minutes=30)

    def rule_set(self) -> RuleSet:
        self.calls.append(("rule_set", None))
        return self.rules

    def snapshot(self, now: dt.datetime, anomaly_days: int, burn_windows: bool) -> Snapshot:
        self.calls.append(("snapshot", (now, anomaly_days, burn_windows)))
        return Snapshot(tick=now, cells={}, windows={}, upgrades={})

    def objectives(self) -> dict[str, Objective]:
        self.calls.append(("objectives", None))
        return {o.slo_id: o for o in DEFAULT_OBJECTIVES}

    def audit_repairs_since(self, since: dt.datetime) -> int | None:
        self.calls.append(("audit_repairs_since", since))
        return self.repairs

    def backlog(self, stuck_before: dt.datetime) -> dict[str, tuple[int, int]]:
        self.calls.append(("backlog", stuck_before))
        return self.backlog_counts

    def live_figures(self, now: dt.datetime) -> dict[str, dict[str, float | None]]:
        self.calls.append(("live_figures", now))
        return {"provider:pika": {"providerUtilization": 0.9, "queuedJobs": 12.0}}

    def write_system_metrics(
        self, snapshot: Snapshot, backlog: Mapping[str, tuple[int, int]]
    ) -> int:
        self.calls.append(("write_system_metrics", (snapshot.tick, dict(backlog))))
        return 17

    def evaluate(self, snapshot: Snapshot, report: RunReport, rules: RuleSet) -> None:
        self.calls.append(("evaluate", rules))
        report.evaluations += len(rules.rules)

    def escalate(self, now: dt.datetime, report: RunReport, rules: RuleSet) -> None:
        self.calls.append(("escalate", (now, rules)))

    def send_digests(self, now: dt.datetime, budget: Budget) -> dict[str, int]:
        self.calls.append(("send_digests", (now, budget)))
        return {"weekly": 2}

    def respond(self, now: dt.datetime, rules: RuleSet, providers: list[str]) -> list[Change]:
        self.calls.append(("respond", (now, tuple(providers))))
        return self.changes

    def delivery_budget(self) -> Budget:
        self.calls.append(("delivery_budget", None))
        return self.budget

    def deliver(self, now: dt.datetime, budget: Budget) -> list[DeliveryResult]:
        self.calls.append(("deliver", (now, budget)))
        return self.deliveries

    def store_daily_snapshots(self, now: dt.datetime) -> bool:
        self.calls.append(("store_daily_snapshots", now))
        return self.daily

    def health_inputs(self, now: dt.datetime, queued: int, stuck: int) -> HealthInputs:
        self.calls.append(("health_inputs", (now, queued, stuck)))
        return HealthInputs(
            now=now, last_tick=now - dt.timedelta(minutes=20), oldest_unfolded=None,
            changes_last_hour=90, rejected_last_hour=10, outbox_backlog=0,
            abandoned_last_day=2, last_export=None, queued=queued, stuck=stuck,
            quarantined=3, quarantined_last_day=1,
        )  # fmt: skip

    def record_tick(self, at: dt.datetime) -> None:
        self.calls.append(("record_tick", at))


def test_load_rules_reads_the_rules_once_for_the_run() -> None:
    services = FakeServices()
    tick = tick_module.Tick(NOW)
    tick_module.load_rules(services, tick)
    assert tick.rules == services.rules
    assert [name for name, _ in services.calls] == ["rule_set"]


def test_take_snapshot_reads_as_much_history_as_the_longest_anomaly_baseline() -> None:
    services = FakeServices()
    tick = tick_module.Tick(
        NOW, rules=RuleSet((*DEFAULT_RULES, anomaly_rule(5), anomaly_rule(9)), ())
    )
    tick_module.take_snapshot(services, tick)
    assert services.calls[0] == ("snapshot", (NOW, 9, False))
    assert services.calls[1] == ("audit_repairs_since", NOW - dt.timedelta(hours=26))
    assert tick.snapshot is not None and tick.snapshot.system["pipelineRepairs"] == 3


def test_take_snapshot_without_anomaly_rules_reads_no_history() -> None:
    services = FakeServices(repairs=None)
    tick = tick_module.Tick(NOW, rules=RuleSet(DEFAULT_RULES, ()))
    tick_module.take_snapshot(services, tick)
    assert services.calls[0] == ("snapshot", (NOW, 0, False))
    assert tick.snapshot is not None and tick.snapshot.system["pipelineRepairs"] is None


def test_take_snapshot_reads_the_objectives_only_for_enabled_burn_rate_rules() -> None:
    """The default burn-rate rules are seeded disabled: no objective read until one is on."""
    services = FakeServices()
    tick = tick_module.Tick(NOW, rules=RuleSet(DEFAULT_RULES, ()))
    tick_module.take_snapshot(services, tick)
    assert "objectives" not in [name for name, _ in services.calls]
    burn = next(r for r in DEFAULT_RULES if r.kind == "burn_rate")
    enabled = RuleSet((*DEFAULT_RULES, burn.model_copy(update={"enabled": True})), ())
    tick = tick_module.Tick(NOW, rules=enabled)
    tick_module.take_snapshot(services, tick)
    asked = [args for name, args in services.calls if name == "snapshot"]
    assert asked == [(NOW, 0, False), (NOW, 0, True)]  # the burn windows only when needed
    assert tick.snapshot is not None
    assert sorted(tick.snapshot.objectives) == ["generation_latency", "generation_success"]


def test_check_monitor_puts_the_monitors_own_figures_in_the_snapshot() -> None:
    """The backlog with stuck jobs counted from the setting, and the health inputs become the
    system metrics the built-in rules evaluate."""
    services = FakeServices()
    tick = tick_module.Tick(NOW, snapshot=Snapshot(tick=NOW, cells={}, windows={}, upgrades={}))
    tick_module.check_monitor(services, tick)
    assert services.calls[0] == ("backlog", NOW - dt.timedelta(minutes=30))
    assert services.calls[1] == ("health_inputs", (NOW, 4, 1))
    assert tick.snapshot is not None
    assert tick.snapshot.system == {
        "minutesSinceLastTick": 20.0,
        "rejectedShare": 0.1,
        "abandonedNotifications": 2.0,
        "exportFailed": None,
        "queueBacklog": 4.0,
        "stuckJobs": 1.0,
        "quarantinedEntries": 3.0,
        "deniedRequests": 0.0,
    }


def test_measure_queue_puts_the_live_figures_where_the_rules_measure_them() -> None:
    services = FakeServices()
    window = Window(start=NOW - dt.timedelta(minutes=5), end=NOW)
    snapshot = Snapshot(tick=NOW, cells={"5m": []}, windows={"5m": window}, upgrades={})
    tick_module.measure_queue(services, tick_module.Tick(NOW, snapshot=snapshot))
    assert services.calls == [("live_figures", NOW)]
    scoped = snapshot.scope_totals("5m", "provider:pika")
    assert measure("providerUtilization", scoped) == Measurement(0.9, 1)
    assert measure("queuedJobs", scoped) == Measurement(12.0, 1)
    assert measure("queuedJobs", snapshot.scope_totals("5m", "overall")).value is None


def test_write_system_metrics_writes_the_backlog_the_tick_read() -> None:
    services = FakeServices()
    snapshot = Snapshot(tick=NOW, cells={}, windows={}, upgrades={})
    tick = tick_module.Tick(NOW, snapshot=snapshot, backlog={"overall": (4, 1)})
    tick_module.write_system_metrics(services, tick)
    assert services.calls == [("write_system_metrics", (NOW, {"overall": (4, 1)}))]
    assert tick.system_documents == 17


def test_the_heartbeat_comes_after_evaluation_and_before_any_delivery() -> None:
    services = FakeServices()
    tick_module.record_heartbeat(services, tick_module.Tick(NOW))
    assert services.calls == [("record_tick", NOW)]
    steps = list(tick_module.STEPS)
    beat = steps.index(tick_module.record_heartbeat)
    assert steps.index(tick_module.evaluate_rules) < beat
    assert (
        beat
        < steps.index(tick_module.deliver_notifications)
        < steps.index(tick_module.send_digests)
    )


def test_alerts_and_digests_share_one_delivery_budget() -> None:
    services = FakeServices()
    tick = tick_module.Tick(NOW)
    tick_module.deliver_notifications(services, tick)
    tick_module.send_digests(services, tick)
    assert services.calls == [
        ("delivery_budget", None),
        ("deliver", (NOW, services.budget)),
        ("send_digests", (NOW, services.budget)),
    ]


def test_evaluation_and_escalation_use_the_rules_the_run_read() -> None:
    services = FakeServices()
    rules = RuleSet((anomaly_rule(7),), ("bad_rule: threshold: not a number",))
    tick = tick_module.Tick(NOW, rules=rules, snapshot=Snapshot(NOW, {}, {}, {}))
    tick_module.evaluate_rules(services, tick)
    tick_module.escalate(services, tick)
    assert services.calls == [("evaluate", rules), ("escalate", (NOW, rules))]
    assert tick.report.evaluations == 1


def test_deliveries_and_daily_snapshots_are_recorded_on_the_tick() -> None:
    sent = [DeliveryResult("slack", True, 1, None), DeliveryResult("sms", False, 3, "down")]
    services = FakeServices(deliveries=sent, daily=False)
    tick = tick_module.Tick(NOW)
    tick_module.deliver_notifications(services, tick)
    tick_module.store_daily_snapshots(services, tick)
    assert tick.report.deliveries == sent
    assert tick.daily_snapshots is False


def test_a_run_takes_every_step_in_order_and_reads_the_rules_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = FakeServices(rules=RuleSet(DEFAULT_RULES, ("broken: metric: unknown",)))
    services.deliveries = [DeliveryResult("email", False, 3, "refused")]
    with caplog.at_level("INFO"):
        tick = tick_module.run_tick(services, NOW)
    assert [name for name, _ in services.calls] == [
        "rule_set",
        "snapshot",
        "audit_repairs_since",
        "backlog",
        "health_inputs",
        "live_figures",
        "write_system_metrics",
        "evaluate",
        "escalate",
        "respond",
        "store_daily_snapshots",
        "record_tick",
        "delivery_budget",
        "deliver",
        "send_digests",
    ]
    assert tick.system_documents == 17 and tick.report.evaluations == len(DEFAULT_RULES)
    assert "17 system metric documents" in caplog.text
    assert "0 notifications sent, 1 failed; stored the daily snapshots" in caplog.text
    assert tick.digests == {"weekly": 2}
    assert "sent the weekly digest to 2 recipient(s)" in caplog.text


def test_the_steps_are_named_in_the_order_they_run() -> None:
    assert [step.__name__ for step in tick_module.STEPS] == [
        "load_rules",
        "take_snapshot",
        "check_monitor",
        "measure_queue",
        "write_system_metrics",
        "evaluate_rules",
        "escalate",
        "apply_actions",
        "store_daily_snapshots",
        "record_heartbeat",
        "deliver_notifications",
        "send_digests",
    ]


def test_apply_actions_hands_the_providers_seen_and_logs_each_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    paused = ProviderControl("pika", "open", 0.0, "low_success_rate fired", until=NOW)
    services = FakeServices(changes=[Change(ProviderControl("pika"), paused)])
    with caplog.at_level("WARNING"):
        tick = tick_module.run_tick(services, NOW)
    (respond,) = [args for name, args in services.calls if name == "respond"]
    assert tick.snapshot is not None and respond == (NOW, tuple(tick.snapshot.providers()))
    assert tick.control_changes == services.changes
    assert "provider control changed: pika paused (weight 0) until 12:05 UTC" in caplog.text
