"""The alert state machine, pure: one rule and scope, one evaluation or one action, no I/O.

Per (rule, scope) there is an `AlertState` (streaks of breaching and clear evaluations, the tick
last evaluated, the open instance if any) and at most one open `Instance`:

    (none) --breach--> pending --breach x pendingEvaluations--> firing --ack--> acknowledged
    pending --clear--> (deleted: it never fired, nobody was told)
    firing/acknowledged --clear x resolveEvaluations--> resolved (auto)
    any open --resolve by hand--> resolved (manual); the breach streak restarts from zero
    firing/acknowledged --suppress(minutes)--> suppressed --time passes--> back to what it was

`evaluate` is idempotent per tick: a tick at or before `state.last_tick` changes nothing, so a
rerun of the same scheduled run neither counts a streak twice nor notifies twice. Time-driven
changes (escalation, repeat, suppression expiry) are in `advance`, which is idempotent for a
given `now` because it compares against the times it records. Every notification a change owes
is returned as `Outbound` with a per-instance sequence number; the caller persists it with the
change in one commit (an outbox) and delivers afterwards, so a crash never loses one.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from video_monitoring.alerting.records import (
    AlertState,
    HistoryEntry,
    Instance,
    Judgement,
    Measurement,
    Outbound,
    Status,
    Transition,
    instance_id_for,
)
from video_monitoring.alerting.rules import AlertRule, EscalationLevel
from video_monitoring.core.stats import robust_z, wilson_interval


def judge(rule: AlertRule, measurement: Measurement | None, firing: bool) -> Judgement:
    """Breach, clear or no data. A firing alert must come back past threshold +/- hysteresis."""
    if measurement is None or measurement.value is None:
        return Judgement("nodata", None, 0, reason="no value in the window")
    value, samples = measurement.value, measurement.samples
    if samples < rule.min_samples:
        return Judgement(
            "nodata", value, samples, reason=f"{samples} samples < minSamples {rule.min_samples}"
        )
    if rule.kind == "anomaly":
        return _judge_anomaly(rule, measurement)
    if rule.kind == "baseline":
        return _judge_baseline(rule, measurement)
    slack = rule.hysteresis if firing else 0.0
    if rule.is_rate and measurement.successes is not None:
        low, high = wilson_interval(measurement.successes, samples, rule.confidence)
        # Alert only when even the favourable end of the interval is past the threshold.
        if rule.comparator == "lt":
            breach, bound = high < rule.threshold + slack, high
        else:
            breach, bound = low > rule.threshold - slack, low
    else:
        bound = value
        if rule.comparator == "lt":
            breach = value < rule.threshold + slack
        else:
            breach = value > rule.threshold - slack
    return Judgement("breach" if breach else "clear", value, samples, bound)


def _judge_anomaly(rule: AlertRule, measurement: Measurement) -> Judgement:
    value = measurement.value
    assert value is not None
    history = measurement.baseline
    if len(history) < rule.min_history_days:
        return Judgement(
            "nodata",
            value,
            measurement.samples,
            reason=f"{len(history)} baseline days < minHistoryDays {rule.min_history_days}",
        )
    z = robust_z(value, history)
    if rule.direction == "above":
        breach = z > rule.z_threshold
    elif rule.direction == "below":
        breach = z < -rule.z_threshold
    else:
        breach = abs(z) > rule.z_threshold
    return Judgement("breach" if breach else "clear", value, measurement.samples, z)


def _judge_baseline(rule: AlertRule, measurement: Measurement) -> Judgement:
    """Against the median of the previous days: `lt` breaches when even the favourable end of
    the value (the Wilson upper bound for a rate) is below (1 - threshold) x baseline; `gt` when
    even its lower end is above (1 + threshold) x baseline."""
    value, samples, history = measurement.value, measurement.samples, measurement.baseline
    assert value is not None
    if len(history) < rule.min_history_days:
        return Judgement(
            "nodata", value, samples,
            reason=f"{len(history)} baseline days < minHistoryDays {rule.min_history_days}",
        )  # fmt: skip
    expected = statistics.median(history)
    bound = value
    if rule.is_rate and measurement.successes is not None:
        low, high = wilson_interval(measurement.successes, samples, rule.confidence)
        bound = high if rule.comparator == "lt" else low
    if rule.comparator == "lt":
        breach = bound < expected * (1 - rule.threshold)
    else:
        breach = bound > expected * (1 + rule.threshold)
    reason = f"baseline {expected:.4g} (median of {len(history)} days)"
    return Judgement("breach" if breach else "clear", value, samples, bound, reason=reason)


def _notify(
    instance: Instance,
    event: str,
    channels: Sequence[str],
    now: dt.datetime,
    recipients: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[Instance, Outbound]:
    seq = instance.notification_seq + 1
    who = tuple(sorted((recipients or {}).items()))
    out = Outbound(instance.instance_id, seq, event, instance.level, tuple(channels), now, who)
    return replace(instance, notification_seq=seq, last_notified_at=now), out


def _tier(level: EscalationLevel) -> dict[str, tuple[str, ...]]:
    """An escalation level's own recipients, by channel (only its people hear the escalation)."""
    if level.recipients is None:
        return {}
    return {c: level.recipients.of(c) for c in level.channels if level.recipients.of(c)}


def _everyone(rule: AlertRule, instance: Instance) -> dict[str, tuple[str, ...]]:
    """Recipients of what follows an escalation: each channel's configured ones ("*") and the
    people of every tier reached."""
    told: dict[str, tuple[str, ...]] = {}
    for level in rule.escalation[: instance.level]:
        for channel, people in _tier(level).items():
            before = told.get(channel, ("*",))
            told[channel] = before + tuple(p for p in people if p not in before)
    return told


def _log(instance: Instance, now: dt.datetime, action: str, by: str, detail: str) -> Instance:
    return replace(instance, history=(*instance.history, HistoryEntry(now, action, by, detail)))


def _describe(j: Judgement) -> str:
    if j.value is None:
        return j.reason or "no data"
    text = f"value {j.value:.4g} over {j.samples} samples"
    if j.bound is not None and j.bound != j.value:
        text += f" (bound {j.bound:.4g})"
    return text


@dataclass
class _Step:
    """One evaluation as it goes: what it judged (the condition read through the rule's
    `noData`), and what it has decided so far: the state, the instance, the pending instance it
    withdrew, and the messages to send."""

    judgement: Judgement
    condition: str
    state: AlertState
    instance: Instance | None
    deleted: str | None = None
    out: list[Outbound] = field(default_factory=list)


def _condition(rule: AlertRule, judgement: Judgement) -> str:
    """The judged condition, with no data read as the rule's `noData` says."""
    if judgement.condition == "nodata":
        return {"ok": "clear", "alerting": "breach", "keep": "nodata"}[rule.no_data]
    return judgement.condition


def _streaks(rule: AlertRule, state: AlertState, condition: str, tick: dt.datetime) -> AlertState:
    """The state at `tick` with its breach or clear streak counted."""
    # Streaks are capped at what the rule needs, so a steady state changes nothing but the tick.
    if condition == "breach":
        streak = min(state.breach_streak + 1, rule.pending_evaluations)
        return replace(state, last_tick=tick, breach_streak=streak, clear_streak=0)
    if condition == "clear":
        streak = min(state.clear_streak + 1, rule.resolve_evaluations)
        return replace(state, last_tick=tick, clear_streak=streak, breach_streak=0)
    return replace(state, last_tick=tick)


def _open(step: _Step, rule: AlertRule, tick: dt.datetime) -> None:
    """Open a pending instance on a first breach."""
    instance = Instance(
        instance_id=instance_id_for(rule.rule_id, step.state.scope, tick),
        rule_id=rule.rule_id,
        scope=step.state.scope,
        status="pending",
        severity=rule.severity,
        metric=rule.metric,
        comparator=rule.comparator,
        threshold=rule.threshold,
        window=rule.window,
        value=step.judgement.value,
        samples=step.judgement.samples,
        opened_at=tick,
    )
    step.instance = _log(instance, tick, "pending", "monitor", _describe(step.judgement))
    step.state = replace(step.state, open_instance_id=instance.instance_id)


def _settle_pending(step: _Step, instance: Instance, rule: AlertRule, tick: dt.datetime) -> None:
    """Withdraw a pending instance that cleared, or fire it once the breach lasted long enough."""
    if step.condition == "clear":
        step.deleted, step.instance = instance.instance_id, None
        step.state = replace(step.state, open_instance_id=None)
    elif step.state.breach_streak >= rule.pending_evaluations:
        instance = replace(instance, status="firing", fired_at=tick, level=0)
        instance = _log(instance, tick, "firing", "monitor", _describe(step.judgement))
        step.instance, message = _notify(instance, "firing", rule.channels, tick)
        step.out.append(message)


def _resolve(step: _Step, instance: Instance, rule: AlertRule, tick: dt.datetime) -> None:
    """Resolve an open instance whose condition stayed clear long enough."""
    was_suppressed = instance.status == "suppressed"
    instance = replace(
        instance,
        status="resolved",
        resolved_at=tick,
        resolved_by="monitor",
        resolution="auto",
        suppressed_until=None,
        resumes_as=None,
    )
    instance = _log(instance, tick, "resolved", "monitor", _describe(step.judgement))
    if not was_suppressed:
        instance, message = _notify(
            instance, "resolved", _notified(rule, instance), tick, _everyone(rule, instance)
        )
        step.out.append(message)
    step.instance = instance
    step.state = replace(step.state, open_instance_id=None)


def evaluate(
    rule: AlertRule,
    state: AlertState,
    instance: Instance | None,
    measurement: Measurement | None,
    tick: dt.datetime,
) -> Transition:
    """One scheduled evaluation of a rule in a scope at `tick`, then the time-driven changes."""
    if state.last_tick is not None and tick <= state.last_tick:
        return Transition(state, instance, changed=False)
    if instance is not None and not instance.is_open:
        instance = None  # a resolved instance is history; the next breach opens a new one
    before = instance
    judgement = judge(rule, measurement, instance is not None and instance.status != "pending")
    condition = _condition(rule, judgement)
    step = _Step(judgement, condition, _streaks(rule, state, condition, tick), instance)
    if instance is not None and (instance.value, instance.samples) != (
        judgement.value,
        judgement.samples,
    ):
        step.instance = replace(instance, value=judgement.value, samples=judgement.samples)
    if step.instance is None and condition == "breach":
        _open(step, rule, tick)
    if step.instance is not None and step.instance.status == "pending":
        _settle_pending(step, step.instance, rule, tick)
    elif (
        step.instance is not None
        and condition == "clear"
        and step.state.clear_streak >= rule.resolve_evaluations
    ):
        _resolve(step, step.instance, rule, tick)
    if step.instance is not None and step.instance.is_open:
        timed = advance(rule, step.instance, tick)
        step.instance, step.out = timed.instance, [*step.out, *timed.outbound]
    changed = (
        replace(step.state, last_tick=state.last_tick) != state
        or step.deleted is not None
        or (step.instance is not None and step.instance != before)
    )
    return Transition(
        step.state, step.instance, step.deleted, tuple(step.out), judgement, changed=changed
    )


def _notified(rule: AlertRule, instance: Instance) -> list[str]:
    """Everyone told so far: the rule's channels and those of levels reached."""
    channels: list[str] = list(rule.channels)
    for level in rule.escalation[: instance.level]:
        channels += [c for c in level.channels if c not in channels]
    return channels


def advance(rule: AlertRule, instance: Instance, now: dt.datetime) -> Transition:
    """Time-driven changes of an open instance: suppression expiry, escalation, repeat."""
    original = instance
    out: list[Outbound] = []
    if (
        instance.status == "suppressed"
        and instance.suppressed_until is not None
        and now >= instance.suppressed_until
    ):
        resumed: Status = instance.resumes_as or "firing"
        instance = replace(instance, status=resumed, suppressed_until=None, resumes_as=None)
        instance = _log(instance, now, "suppression-ended", "monitor", f"back to {resumed}")
        if resumed == "firing":
            instance, message = _notify(
                instance, "firing", _notified(rule, instance), now, _everyone(rule, instance)
            )
            out.append(message)
    if instance.status == "firing" and instance.fired_at is not None:
        reached = instance.level
        for number, level in enumerate(rule.escalation, start=1):
            if now - instance.fired_at >= dt.timedelta(minutes=level.after_minutes):
                reached = max(reached, number)
        if reached > instance.level:
            instance = replace(instance, level=reached)
            detail = f"unacknowledged; level {reached}"
            instance = _log(instance, now, "escalated", "monitor", detail)
            level = rule.escalation[reached - 1]
            instance, message = _notify(instance, "escalated", level.channels, now, _tier(level))
            out.append(message)
        elif (
            rule.repeat_interval_minutes > 0
            and instance.last_notified_at is not None
            and now - instance.last_notified_at
            >= dt.timedelta(minutes=rule.repeat_interval_minutes)
        ):
            instance, message = _notify(
                instance, "repeat", _notified(rule, instance), now, _everyone(rule, instance)
            )
            out.append(message)
    state = AlertState(rule.rule_id, instance.scope)  # unused by callers of advance
    return Transition(state, instance, outbound=tuple(out), changed=instance != original)


def acknowledge(
    rule: AlertRule, instance: Instance, by: str, now: dt.datetime, note: str = ""
) -> Transition:
    """Someone is on it: escalation and repeats stop; it still resolves when clear."""
    if instance.status not in ("firing", "suppressed"):
        raise ValueError(f"cannot acknowledge an alert that is {instance.status}")
    if instance.status == "suppressed":
        instance = replace(instance, resumes_as="acknowledged")
    else:
        instance = replace(instance, status="acknowledged")
    instance = replace(instance, acknowledged_at=now, acknowledged_by=by)
    instance = _log(instance, now, "acknowledged", by, note)
    instance, message = _notify(
        instance, "acknowledged", _notified(rule, instance), now, _everyone(rule, instance)
    )
    return Transition(AlertState(rule.rule_id, instance.scope), instance, outbound=(message,))


def resolve(
    rule: AlertRule,
    state: AlertState,
    instance: Instance,
    by: str,
    now: dt.datetime,
    note: str = "",
) -> Transition:
    """Closed by hand; the rule must breach through a new pending period to open another."""
    if not instance.is_open:
        raise ValueError("the alert is already resolved")
    notify = instance.status in ("firing", "acknowledged")
    instance = replace(
        instance,
        status="resolved",
        resolved_at=now,
        resolved_by=by,
        resolution="manual",
        suppressed_until=None,
        resumes_as=None,
    )
    instance = _log(instance, now, "resolved", by, note)
    out: tuple[Outbound, ...] = ()
    if notify:
        instance, message = _notify(
            instance, "resolved", _notified(rule, instance), now, _everyone(rule, instance)
        )
        out = (message,)
    new_state = replace(state, open_instance_id=None, breach_streak=0, clear_streak=0)
    return Transition(new_state, instance, outbound=out)


def suppress(
    rule: AlertRule, instance: Instance, minutes: int, by: str, now: dt.datetime, note: str = ""
) -> Transition:
    """Silence an open alert until a time; it goes back to what it was when that time passes."""
    if not instance.is_open or instance.status == "pending":
        raise ValueError(f"cannot suppress an alert that is {instance.status}")
    until = now + dt.timedelta(minutes=minutes)
    resumes: Status = (
        instance.resumes_as or "firing" if instance.status == "suppressed" else instance.status
    )
    instance = replace(instance, status="suppressed", suppressed_until=until, resumes_as=resumes)
    instance = _log(instance, now, "suppressed", by, f"until {until.isoformat()} {note}".strip())
    return Transition(AlertState(rule.rule_id, instance.scope), instance)


def note_action(
    rule: AlertRule, instance: Instance, event: str, detail: str, by: str, now: dt.datetime
) -> Transition:
    """What the rule's action did (a provider paused, probed, restored, or a pause blocked):
    kept in the alert's history and told on the channels told of the alert so far."""
    instance = _log(instance, now, event, by, detail)
    instance, message = _notify(
        instance, event, _notified(rule, instance), now, _everyone(rule, instance)
    )
    message = replace(message, detail=detail)
    return Transition(AlertState(rule.rule_id, instance.scope), instance, outbound=(message,))
