"""The alert manager over the rollups: scopes, reruns, escalation, delivery retries, system metrics.

In-memory stores and recording channels; the real channels, servers and emulator are exercised in
tests/unit/test_notifications.py and tests/integration/test_alerting_emulator.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.unit.alert_fakes import FakeAlertStore, RecordingChannel
from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.alerting.evaluation import RunReport
from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.notifications import Delivery, RetryPolicy
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.errors import Conflict, InvalidArgument
from video_monitoring.ingest.service import IngestService

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(minutes=5)
STUCK = dt.timedelta(minutes=30)
CHANNELS = ("slack", "email", "webhook", "sms")


class World:
    """Generations in an in-memory store, recorded by the ingest service, the monitor over them
    and an alert manager."""

    def __init__(self, email_failures: int = 0) -> None:
        self.store = FakeStore()
        self.clock = FixedClock(NOW)
        self.monitor = PerformanceMonitor(self.store)
        self.ingest = IngestService(self.store, shards=4, clock=self.clock)
        self.alerts = FakeAlertStore()
        self.channels = {name: RecordingChannel(name) for name in CHANNELS}
        self.channels["email"].fail = email_failures
        policy = RetryPolicy(attempts=1, base_delay_seconds=0, max_delay_seconds=0)
        self.manager = AlertManager(
            self.alerts,
            Delivery(self.channels, policy, sleep=lambda _: None),
            "http://127.0.0.1:5001/p/us-central1/video_analytics_dashboard",
            self.clock,
        )
        self.count = 0

    def add(
        self, provider: str, status: str, seconds: float, ago_minutes: float, **extra: Any
    ) -> None:
        """One generation created `ago_minutes` before NOW."""
        self.count += 1
        created = NOW - dt.timedelta(minutes=ago_minutes)
        doc: dict[str, Any] = {
            "userId": f"u{self.count}",
            "provider": provider,
            "status": status,
            "createdAt": created,
            "userTier": "premium",
            "startedAt": created + dt.timedelta(seconds=2),
        }
        if status in ("completed", "failed"):
            doc["completedAt"] = created + dt.timedelta(seconds=seconds)
        if status == "failed":
            doc["error"] = {"code": "provider_5xx", "message": "boom", "retryable": True}
        doc.update(extra)
        generation_id = f"g{self.count}"
        self.store.source[generation_id] = doc
        self.ingest.record_generation_metrics(generation_id)

    def tick(self) -> RunReport:
        """One scheduled run at the clock's time, then move the clock one tick on."""
        report = self.run_at(self.clock.now)
        self.clock.advance(minutes=5)
        return report

    def run_at(self, when: dt.datetime) -> RunReport:
        """The scheduled run for `when` (may repeat a tick)."""
        snapshot = self.monitor.snapshot(when)
        self.alerts.write_system_metrics(
            self.monitor.system_metric_documents(snapshot, self.store.backlog(when - STUCK))
        )
        return self.manager.run(snapshot)

    def received(self, channel: str) -> list[tuple[str, str, str]]:
        """(event, rule, scope) that one channel received."""
        return self.channels[channel].events()


def degraded_world(email_failures: int = 0) -> World:
    """runway healthy; pika fails 1 in 4 and is slow; all inside the last hour."""
    world = World(email_failures)
    for i in range(40):
        world.add("runway", "completed", 40, ago_minutes=50 - i)
    for i in range(40):
        world.add("pika", "completed" if i % 4 else "failed", 150, ago_minutes=50 - i)
    return world


def test_a_degraded_provider_opens_one_instance_per_rule_and_scope() -> None:
    world = degraded_world()
    first = world.tick()
    assert first.fired == []  # pending period: two evaluations
    second = world.tick()
    fired = {(i.rule_id, i.scope) for i in world.alerts.instances.values()}
    assert fired == {
        ("low_success_rate", "provider:pika"),
        ("slow_generation", "provider:pika"),
        ("low_success_rate", "overall"),  # 70 of 80: the Wilson upper bound is 93.1%
    }
    assert len(second.fired) == 3
    assert sorted(world.received("webhook")) == [
        ("firing", "low_success_rate", "overall"),
        ("firing", "low_success_rate", "provider:pika"),
    ]
    assert sorted(world.received("slack")) == sorted(
        [("firing", rule, scope) for rule, scope in fired]
    )
    assert world.received("sms") == []


def test_reruns_of_a_tick_never_duplicate_instances_or_messages() -> None:
    world = degraded_world()
    world.tick()
    world.tick()
    before = {name: len(ch.sent) for name, ch in world.channels.items()}
    instances = dict(world.alerts.instances)
    for _ in range(3):
        report = world.run_at(world.clock.now - TICK)  # the last tick again
        assert report.changes == 0 and report.deliveries == []
    assert {name: len(ch.sent) for name, ch in world.channels.items()} == before
    assert world.alerts.instances == instances


def test_escalation_to_sms_after_fifteen_minutes_and_acknowledgement_stops_it() -> None:
    world = degraded_world()
    world.tick()
    world.tick()  # fired at NOW + 5 min
    overall = next(
        i for i in world.alerts.instances.values()
        if (i.rule_id, i.scope) == ("low_success_rate", "overall")
    )  # fmt: skip
    world.manager.actions.acknowledge(overall.instance_id, "ops@example.com", "looking")
    world.tick()
    world.tick()  # NOW + 15
    assert world.received("sms") == []
    world.tick()  # NOW + 20: 15 minutes after firing
    assert world.received("sms") == [("escalated", "low_success_rate", "provider:pika")]
    world.tick()
    assert len(world.received("sms")) == 1
    acknowledged = world.alerts.instances[overall.instance_id]
    assert acknowledged.status == "acknowledged" and acknowledged.level == 0
    assert acknowledged.acknowledged_by == "ops@example.com"
    with pytest.raises(Conflict, match="acknowledged"):
        world.manager.actions.acknowledge(overall.instance_id, "ops@example.com")


def test_a_failing_channel_is_retried_on_later_runs_and_never_blocks_the_others() -> None:
    world = degraded_world(email_failures=2)
    world.tick()
    second = world.tick()
    failed = [d for d in second.deliveries if not d.ok]
    assert {d.channel for d in failed} == {"email"} and len(failed) == 2
    assert len(world.received("slack")) == 3 and len(world.received("webhook")) == 2
    email = [d for k, d in world.alerts.delivered.items() if "email" in k]
    retrying = [d for d in email if d["status"] == "retrying"]
    assert len(email) == 3 and len(retrying) == 2
    assert all(d["lastError"] == "email refused" for d in retrying)
    world.tick()  # due again one minute after the failure: delivered now
    assert len(world.received("email")) == 3
    assert all(d["status"] == "sent" for k, d in world.alerts.delivered.items() if "email" in k)
    assert len(world.received("slack")) == 3  # nothing re-sent to the healthy channel


def test_resolves_when_the_provider_recovers() -> None:
    world = degraded_world()
    world.tick()
    world.tick()
    world.clock.advance(minutes=60)  # the bad hour leaves the 1h window
    for i in range(60):
        world.add("pika", "completed", 40, ago_minutes=-65 - i * 0.1)
    world.clock.advance(minutes=10)
    world.tick()
    world.tick()
    resolved = {
        (i.rule_id, i.scope) for i in world.alerts.instances.values() if i.status == "resolved"
    }
    assert ("low_success_rate", "provider:pika") in resolved
    assert ("slow_generation", "provider:pika") in resolved
    assert ("resolved", "slow_generation", "provider:pika") in world.received("email")


def test_suppress_validates_minutes_and_silences() -> None:
    world = degraded_world()
    world.tick()
    world.tick()
    alert = next(i for i in world.alerts.instances.values() if i.rule_id == "slow_generation")
    with pytest.raises(InvalidArgument, match="minutes"):
        world.manager.actions.suppress(alert.instance_id, 0, "ops")
    silenced = world.manager.actions.suppress(alert.instance_id, 60, "ops")
    assert silenced.status == "suppressed"
    assert silenced.suppressed_until == world.clock.now + dt.timedelta(minutes=60)


def test_system_metrics_documents_per_window_and_scope_with_stable_ids() -> None:
    world = degraded_world()
    world.add("pika", "processing", 0, ago_minutes=45)  # in flight for 45 min: stuck
    world.add("runway", "queued", 0, ago_minutes=1)
    world.tick()
    docs = world.alerts.system_metrics
    scopes = {"overall", "provider-pika", "provider-runway", "tier-free", "tier-premium"}
    assert set(docs) == {f"20261125T1200__{w}__{s}" for w in ("5m", "1h", "24h") for s in scopes}
    pika = docs["20261125T1200__1h__provider-pika"]
    assert pika["generations"]["total"] == 41
    assert pika["successRate"] == pytest.approx(30 / 40)
    assert pika["generationTimeSeconds"]["avg"] == pytest.approx(150.0)
    assert pika["errors"] == {"provider_5xx": 10}
    assert docs["20261125T1200__1h__overall"]["backlog"] == 2
    assert docs["20261125T1200__1h__overall"]["stuckJobs"] == 1
    assert docs["20261125T1200__1h__provider-pika"]["stuckJobs"] == 1
    assert docs["20261125T1200__1h__provider-runway"]["backlog"] == 1
    assert docs["20261125T1200__1h__provider-runway"]["stuckJobs"] == 0
    world.run_at(NOW)  # rerun overwrites the same documents
    assert len(world.alerts.system_metrics) == len(docs) == 15
