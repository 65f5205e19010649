"""Deliveries within a time budget: a stalled channel costs the run at most its budget, nothing
starts once it is spent, and what is not sent stays in the outbox (or stays due) for later."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

from tests.unit.alert_fakes import RecordingChannel
from tests.unit.test_alert_manager import World, degraded_world
from tests.unit.test_digest import MONDAY, TARGETS, Figures, MemoryStore
from video_monitoring.alerting.channels.base import DeliveryError, Notification
from video_monitoring.alerting.dispatch import CLAIM_LEASE
from video_monitoring.alerting.notifications import RetryPolicy, deliver
from video_monitoring.analytics.digest_service import DigestService, DigestSources, Recipient
from video_monitoring.core.budget import Budget, run_within
from video_monitoring.runtime.bootstrap import Services
from video_monitoring.runtime.handlers import LiveTick


class StalledChannel(RecordingChannel):
    """A channel whose sends hang until released (a server that accepts and never answers)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.release = threading.Event()
        self.started = threading.Event()

    def send(self, notification: Notification) -> None:
        self.started.set()
        if not self.release.wait(timeout=30):
            raise DeliveryError(f"{self.name}: timed out")
        super().send(notification)


class SteppingMonotonic:
    """A monotonic clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


NOTE = Notification(
    "low_success_rate__overall__1", "low_success_rate", "overall", "fired", "critical",
    "successRate", 0.9, 0.95, "lt", "1h", 1, MONDAY, "http://console.example/alerts/x",
)  # fmt: skip


def fired(world: World) -> dt.datetime:
    """Evaluate twice (the default rules fire on the second), delivering nothing; the time of
    the second evaluation."""
    for _ in range(2):
        at = world.clock.now
        world.manager.evaluation.evaluate(world.monitor.snapshot(at))
        world.clock.advance(minutes=5)
    return at


def statuses(world: World, channel: str) -> list[str]:
    return [doc["status"] for doc in world.alerts.outbox.values() if doc["channel"] == channel]


def test_a_stalled_channel_costs_the_run_its_budget_and_its_message_stays_owed() -> None:
    world = degraded_world()
    stalled = StalledChannel("slack")
    world.channels["slack"] = stalled  # the manager reads this mapping
    at = fired(world)
    owed = statuses(world, "slack")
    assert owed and set(owed) == {"pending"}
    started = time.monotonic()
    results = world.manager.dispatcher.dispatch(at, Budget(0.5))
    took = time.monotonic() - started
    try:
        assert took < 10, f"the run waited {took:.1f} s for a channel stalled 30 s"
        assert stalled.started.is_set()
        # The healthy channels delivered; the stalled one gave no result yet.
        assert {r.channel for r in results} == {"email", "webhook"}
        assert all(r.ok for r in results)
        assert len(world.received("email")) + len(world.received("webhook")) == len(results)
        # The stalled messages are claimed under a lease that ends before the next tick.
        slack = [d for d in world.alerts.outbox.values() if d["channel"] == "slack"]
        assert {d["status"] for d in slack} == {"sending"}
        assert {d["nextAttemptAt"] for d in slack} == {at + CLAIM_LEASE}
    finally:
        stalled.release.set()
    deadline = time.monotonic() + 10
    while set(statuses(world, "slack")) != {"sent"} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(statuses(world, "slack")) == {"sent"}  # sent late, not lost
    assert len(stalled.sent) == len(owed)


def test_nothing_is_claimed_once_the_budget_is_spent() -> None:
    world = degraded_world()
    at = fired(world)
    before = dict((k, dict(v)) for k, v in world.alerts.outbox.items())
    assert before
    assert world.manager.dispatcher.dispatch(at, Budget(0)) == []
    assert world.alerts.outbox == before  # still pending, due for the next run
    assert world.received("email") == []


def test_no_retry_starts_after_the_budget() -> None:
    channel = RecordingChannel("webhook", fail=10)
    policy = RetryPolicy(attempts=4, base_delay_seconds=0, max_delay_seconds=0)
    budget = Budget(0.5, SteppingMonotonic(1.0))  # spent at its first look, after attempt 1
    result = deliver(channel, NOTE, policy, lambda _: None, budget)
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error == "webhook refused; time budget spent"
    unlimited = deliver(channel, NOTE, policy, lambda _: None)
    assert unlimited.attempts == 4


def test_run_within_answers_none_for_a_task_still_running() -> None:
    gate = threading.Event()
    answers = run_within(Budget(0.3), [lambda: 1, lambda: int(gate.wait(30))], workers=2)
    gate.set()
    assert answers == [1, None]


def test_digests_stop_claiming_recipients_once_the_budget_is_spent() -> None:
    store = MemoryStore()
    sent: list[str] = []

    def send(recipient: Recipient, digest: Mapping[str, Any]) -> None:
        sent.append(recipient.address or recipient.key)

    service = DigestService(
        DigestSources(Figures(), lambda s, e: [], lambda *a: {}), store, TARGETS, send, ["weekly"],
        accounts=None,
    )  # fmt: skip
    at = MONDAY + dt.timedelta(hours=7, minutes=5)
    # Each look at the budget takes 1 s: the first recipient is sent, then the budget is spent.
    assert service.send_due(at, Budget(1.5, SteppingMonotonic(1.0))) == {"weekly": 1}
    assert sent == ["a@example.com"]
    assert len(store.records) == 1  # the others were never claimed: due for the next run
    assert service.send_due(at + dt.timedelta(minutes=5)) == {"weekly": 2}
    assert sorted(sent) == ["a@example.com", "b@example.com", "slack"]


def test_a_stalled_digest_send_costs_the_tick_at_most_its_budget() -> None:
    gate = threading.Event()

    class StalledDigests:
        def send_due(self, now: dt.datetime, budget: Budget) -> dict[str, int]:
            gate.wait(30)  # an SMTP server that never answers
            return {"weekly": 1}

    live = LiveTick(cast(Services, SimpleNamespace(digests=StalledDigests())))
    started = time.monotonic()
    try:
        assert live.send_digests(MONDAY, Budget(0.3)) == {}
        assert time.monotonic() - started < 10
        assert live.send_digests(MONDAY, Budget(0)) == {}  # spent: not even started
    finally:
        gate.set()
