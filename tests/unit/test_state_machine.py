"""Rule tests in the promtool style: a synthetic series per 5-minute tick, expected states and
messages at given ticks. Pure: the alert state machine (alerting/state_machine.py), a fake
clock, no storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from video_monitoring.alerting import state_machine
from video_monitoring.alerting.records import (
    AlertState,
    Instance,
    Measurement,
    Outbound,
    Transition,
)
from video_monitoring.alerting.rules import AlertRule, parse_rule
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.stats import wilson_interval

T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(minutes=5)


def rule(**overrides: Any) -> AlertRule:
    """A slow-generation style rule with test-friendly defaults."""
    fields: dict[str, Any] = {
        "ruleId": "slow",
        "metric": "avgGenerationSeconds",
        "comparator": "gt",
        "threshold": 90.0,
        "minSamples": 20,
        "pendingEvaluations": 2,
        "resolveEvaluations": 1,
        "repeatIntervalMinutes": 0,
        "channels": ["slack"],
    }
    fields.update(overrides)
    return AlertRule.model_validate(fields)


@dataclass
class Run:
    """Feeds one scope of one rule a series, tick by tick, keeping state like the store does."""

    rule: AlertRule
    state: AlertState = field(default_factory=lambda: AlertState("slow", "overall"))
    instance: Instance | None = None
    messages: list[Outbound] = field(default_factory=list)
    now: dt.datetime = T0

    def tick(self, measurement: Measurement | None) -> Transition:
        """One scheduled evaluation at the next tick."""
        result = state_machine.evaluate(self.rule, self.state, self.instance, measurement, self.now)
        self.apply(result)
        self.now += TICK
        return result

    def series(self, values: Sequence[float | None], samples: int = 50) -> list[str]:
        """Status after each value (None: no value in the window)."""
        statuses = []
        for value in values:
            self.tick(None if value is None else Measurement(value, samples))
            statuses.append(self.status())
        return statuses

    def apply(self, result: Transition) -> None:
        """Keep what the transaction would have stored."""
        self.state = result.state
        self.instance = result.instance
        self.messages += result.outbound

    def status(self) -> str:
        """Status of the open instance, or '-'."""
        if self.instance is None:
            return "-"
        return self.instance.status

    def events(self) -> list[tuple[str, tuple[str, ...]]]:
        """(event, channels) of every message so far."""
        return [(m.event, m.channels) for m in self.messages]


def test_pending_then_firing_after_the_pending_period_with_one_message() -> None:
    run = Run(rule(pendingEvaluations=3))
    assert run.series([80, 95, 96, 97, 98]) == ["-", "pending", "pending", "firing", "firing"]
    assert run.events() == [("firing", ("slack",))]
    assert run.instance is not None
    assert run.instance.fired_at == T0 + 3 * TICK
    assert [h.action for h in run.instance.history] == ["pending", "firing"]


def test_pending_that_clears_is_dropped_and_nobody_is_told() -> None:
    run = Run(rule(pendingEvaluations=3))
    first = run.tick(Measurement(95, 50))
    assert first.instance is not None
    cleared = run.tick(Measurement(85, 50))
    assert cleared.delete_instance_id == first.instance.instance_id
    assert run.instance is None and run.messages == []
    assert run.state.open_instance_id is None


def test_flapping_is_held_back_by_hysteresis() -> None:
    flapping = [95, 95, 88, 95, 88, 95, 88, 84]
    with_band = Run(rule(hysteresis=5.0, pendingEvaluations=1))
    assert with_band.series(flapping)[-2:] == ["firing", "resolved"]
    assert with_band.events() == [("firing", ("slack",)), ("resolved", ("slack",))]
    without = Run(rule(hysteresis=0.0, pendingEvaluations=1))
    without.series(flapping)
    fired = [e for e, _ in without.events() if e == "firing"]
    assert len(fired) == 3  # without the band the same series pages three times


def test_resolve_needs_consecutive_clear_evaluations() -> None:
    run = Run(rule(pendingEvaluations=1, resolveEvaluations=3))
    assert run.series([95, 80, 80, 95, 80, 80, 80]) == [
        "firing", "firing", "firing", "firing", "firing", "firing", "resolved",
    ]  # fmt: skip
    assert run.events() == [("firing", ("slack",)), ("resolved", ("slack",))]
    assert run.instance is not None and run.instance.resolution == "auto"


def test_minimum_sample_size_keeps_a_bad_value_from_firing() -> None:
    run = Run(rule(pendingEvaluations=1))
    for _ in range(5):
        result = run.tick(Measurement(500.0, 19))
        assert result.judgement is not None and result.judgement.condition == "nodata"
    assert run.instance is None and run.messages == []
    run.tick(Measurement(500.0, 20))
    assert run.status() == "firing"


@pytest.mark.parametrize(
    ("no_data", "expected"),
    [
        ("keep", ["firing"] * 3),
        ("ok", ["firing", "resolved", "-"]),
        ("alerting", ["firing"] * 3),
    ],
)
def test_what_no_data_means(no_data: str, expected: list[str]) -> None:
    run = Run(rule(pendingEvaluations=1, resolveEvaluations=2, noData=no_data))
    run.series([95])
    assert run.series([None, None, None]) == expected


def test_no_data_alerting_opens_an_alert_on_silence() -> None:
    run = Run(rule(pendingEvaluations=2, noData="alerting"))
    assert run.series([None, None]) == ["pending", "firing"]


def test_rates_are_judged_on_the_wilson_bound() -> None:
    r = rule(metric="successRate", comparator="lt", threshold=0.95, minSamples=0,
             pendingEvaluations=1)  # fmt: skip
    # 19 of 21 succeeded: 90.5% looks bad, but the interval reaches 98.7%: no page.
    judged = state_machine.judge(r, Measurement(19 / 21, 21, 19), firing=False)
    assert judged.condition == "clear"
    assert judged.bound is not None and judged.bound > 0.95
    # 80 of 100: even the favourable end (87.1%) is below 95%.
    judged = state_machine.judge(r, Measurement(0.8, 100, 80), firing=False)
    assert judged.condition == "breach"
    low, high = wilson_interval(80, 100, 0.95)
    assert low == pytest.approx(0.7112, abs=1e-4) and high == pytest.approx(0.8666, abs=1e-4)


def test_two_failures_in_three_do_not_page_with_the_default_minimum() -> None:
    r = rule(metric="successRate", comparator="lt", threshold=0.95, pendingEvaluations=1)
    assert state_machine.judge(r, Measurement(1 / 3, 3, 1), firing=False).condition == "nodata"


def test_escalation_moves_up_when_unacknowledged_and_acknowledging_stops_it() -> None:
    r = rule(
        pendingEvaluations=1,
        escalation=[{"afterMinutes": 15, "channels": ["sms"]},
                    {"afterMinutes": 30, "channels": ["webhook"]}],
    )  # fmt: skip
    run = Run(r)
    run.series([95, 95, 95])  # fired at T0; T0+10
    assert run.events() == [("firing", ("slack",))]
    run.series([95])  # T0+15
    assert run.events()[-1] == ("escalated", ("sms",))
    assert run.instance is not None and run.instance.level == 1
    run.series([95, 95])  # T0+20, T0+25: no repeat of the escalation
    assert len(run.messages) == 2

    acked = Run(r)
    acked.series([95, 95])
    assert acked.instance is not None
    ack = state_machine.acknowledge(r, acked.instance, "ops@example.com", acked.now)
    acked.instance = ack.instance
    acked.messages += ack.outbound
    acked.series([95] * 8)  # past both escalation delays
    assert [e for e, _ in acked.events()] == ["firing", "acknowledged"]
    assert acked.status() == "acknowledged"
    acked.series([80])
    assert acked.status() == "resolved"
    assert acked.events()[-1][0] == "resolved"


def test_resolved_message_reaches_every_channel_told_so_far() -> None:
    r = rule(pendingEvaluations=1, escalation=[{"afterMinutes": 5, "channels": ["sms"]}])
    run = Run(r)
    run.series([95, 95, 80])
    assert run.events() == [
        ("firing", ("slack",)), ("escalated", ("sms",)), ("resolved", ("slack", "sms")),
    ]  # fmt: skip


def test_suppression_silences_until_it_expires_then_the_alert_is_back() -> None:
    r = rule(pendingEvaluations=1, repeatIntervalMinutes=10,
             escalation=[{"afterMinutes": 20, "channels": ["sms"]}])  # fmt: skip
    run = Run(r)
    run.series([95])
    assert run.instance is not None
    silenced = state_machine.suppress(r, run.instance, 30, "ops", run.now)
    run.instance = silenced.instance
    assert run.series([95] * 6) == ["suppressed"] * 6  # 30 minutes: no repeats, no escalation
    assert run.events() == [("firing", ("slack",))]
    run.series([95])
    assert run.status() == "firing"
    assert [e for e, _ in run.events()] == ["firing", "firing", "escalated"]


def test_resolving_while_suppressed_tells_nobody() -> None:
    r = rule(pendingEvaluations=1)
    run = Run(r)
    run.series([95])
    assert run.instance is not None
    run.instance = state_machine.suppress(r, run.instance, 60, "ops", run.now).instance
    assert run.series([80]) == ["resolved"]
    assert run.events() == [("firing", ("slack",))]


def test_repeat_interval_renotifies_a_firing_unacknowledged_alert() -> None:
    run = Run(rule(pendingEvaluations=1, repeatIntervalMinutes=10))
    run.series([95] * 5)  # T0 .. T0+20
    assert [e for e, _ in run.events()] == ["firing", "repeat", "repeat"]


def test_a_rerun_of_the_same_tick_changes_nothing() -> None:
    r = rule(pendingEvaluations=2)
    state = AlertState("slow", "overall")
    first = state_machine.evaluate(r, state, None, Measurement(95, 50), T0)
    again = state_machine.evaluate(r, first.state, first.instance, Measurement(95, 50), T0)
    assert not again.changed and again.outbound == ()
    assert again.state.breach_streak == 1
    older = state_machine.evaluate(r, first.state, first.instance, Measurement(95, 50), T0 - TICK)
    assert not older.changed


def test_steady_state_writes_nothing() -> None:
    run = Run(rule())
    run.tick(Measurement(50, 50))
    later = state_machine.evaluate(run.rule, run.state, None, Measurement(51, 50), run.now)
    assert not later.changed


def test_manual_resolve_needs_a_new_pending_period_to_reopen() -> None:
    r = rule(pendingEvaluations=2)
    run = Run(r)
    run.series([95, 95])
    assert run.instance is not None and run.instance.status == "firing"
    closed = state_machine.resolve(r, run.state, run.instance, "ops", run.now, "fixed upstream")
    run.apply(closed)
    assert run.instance is not None and run.instance.resolution == "manual"
    run.instance = None
    assert run.series([95, 95]) == ["pending", "firing"]


def test_actions_refuse_states_they_do_not_apply_to() -> None:
    r = rule(pendingEvaluations=1)
    run = Run(r)
    run.series([95, 80])
    assert run.instance is not None and run.instance.status == "resolved"
    with pytest.raises(ValueError, match="resolved"):
        state_machine.acknowledge(r, run.instance, "ops", run.now)
    with pytest.raises(ValueError, match="already resolved"):
        state_machine.resolve(r, run.state, run.instance, "ops", run.now)


def test_anomaly_rule_fires_on_a_robust_z_score_after_minimum_history() -> None:
    r = rule(kind="anomaly", metric="total", comparator="gt", minSamples=0,
             pendingEvaluations=1, baselineDays=7, minHistoryDays=3, zThreshold=3.5,
             direction="above")  # fmt: skip
    baseline = (100.0, 104.0, 98.0, 101.0, 97.0)
    assert (
        state_machine.judge(r, Measurement(103.0, 103, None, baseline), False).condition == "clear"
    )
    spike = state_machine.judge(r, Measurement(160.0, 160, None, baseline), False)
    assert spike.condition == "breach"
    # median 100, MAD 2 -> scale 2.9652; z = 60 / 2.9652
    assert spike.bound == pytest.approx(60 / (1.4826 * 2), rel=1e-9)
    short = state_machine.judge(r, Measurement(160.0, 160, None, (100.0, 101.0)), False)
    assert short.condition == "nodata" and "minHistoryDays" in short.reason
    dip = state_machine.judge(r, Measurement(20.0, 20, None, baseline), False)
    assert dip.condition == "clear"  # direction: above only


def test_rule_validation_names_the_field() -> None:
    with pytest.raises(InvalidArgument, match="metric"):
        parse_rule({"metric": "nope"}, "x")
    with pytest.raises(InvalidArgument, match="threshold"):
        parse_rule({"metric": "successRate", "threshold": "high"}, "x")
    with pytest.raises(InvalidArgument, match="escalation"):
        parse_rule(
            {"metric": "successRate", "escalation": [
                {"afterMinutes": 30, "channels": ["sms"]},
                {"afterMinutes": 10, "channels": ["email"]},
            ]},
            "x",
        )  # fmt: skip
    with pytest.raises(InvalidArgument, match="overall only"):
        parse_rule({"metric": "conversionRate", "scopes": ["provider"]}, "x")
    with pytest.raises(InvalidArgument, match="unknownField"):
        parse_rule({"metric": "successRate", "unknownField": 1}, "x")
    assert parse_rule({"metric": "successRate"}, "ok_rule").rule_id == "ok_rule"


def test_documents_round_trip() -> None:
    run = Run(rule(pendingEvaluations=1))
    run.series([95])
    assert run.instance is not None
    assert Instance.from_doc(run.instance.to_doc()) == run.instance
    assert AlertState.from_doc(run.state.to_doc()) == run.state
