"""`aggregate_and_alert`, every 5 minutes, as a named sequence of steps.

Each step reads what earlier steps left on the `Tick` and adds its own result; every step is
idempotent per tick, so a rerun of the same scheduled time changes nothing twice. The steps
talk to the services only through `TickServices`, which the unit tests fake. Notifications go
out last, after the heartbeat, within a time budget: a slow or failing channel cannot delay
rule evaluation or the heartbeat, and what is not sent stays in the outbox for the next tick.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from video_monitoring.alerting.controls import Change
from video_monitoring.alerting.evaluation import RunReport
from video_monitoring.alerting.metrics import Snapshot
from video_monitoring.alerting.notifications import DeliveryResult
from video_monitoring.alerting.rule_book import RuleSet
from video_monitoring.alerting.slo_objectives import Objective
from video_monitoring.analytics.health import HealthInputs, system_figures
from video_monitoring.core.budget import Budget

log = logging.getLogger(__name__)
# Audit runs whose repairs the `pipeline_drift` rule sees: a nightly run stays visible for a day.
AUDIT_ALERT_SPAN = dt.timedelta(hours=26)


class TickServices(Protocol):
    """What the tick needs from the services (runtime.handlers wires the real ones)."""

    @property
    def stuck_after(self) -> dt.timedelta:
        """Processing longer than this counts as stuck."""
        ...

    def rule_set(self) -> RuleSet:
        """The alert rules of this run (missing defaults seeded)."""
        ...

    def snapshot(self, now: dt.datetime, anomaly_days: int, burn_windows: bool) -> Snapshot:
        """Every rule window's figures at `now` (and the burn windows when asked), with
        `anomaly_days` of history."""
        ...

    def objectives(self) -> dict[str, Objective]:
        """The service level objectives burn-rate rules name, by id."""
        ...

    def audit_repairs_since(self, since: dt.datetime) -> int | None:
        """Changes the nightly audit repaired since `since` (None: no audit ran)."""
        ...

    def backlog(self, stuck_before: dt.datetime) -> dict[str, tuple[int, int]]:
        """Generations queued or processing now, and those stuck, per scope."""
        ...

    def live_figures(self, now: dt.datetime) -> dict[str, dict[str, float | None]]:
        """The queue and capacity figures measured now, per scope (rule metrics)."""
        ...

    def write_system_metrics(
        self, snapshot: Snapshot, backlog: Mapping[str, tuple[int, int]]
    ) -> int:
        """Store the system metric documents of the snapshot; count written."""
        ...

    def health_inputs(self, now: dt.datetime, queued: int, stuck: int) -> HealthInputs:
        """What storage says about the monitor's own work (the previous tick, the journal,
        rejections, the outbox, the export)."""
        ...

    def record_tick(self, at: dt.datetime) -> None:
        """This tick finished (the heartbeat /health and `monitor_stale` read)."""
        ...

    def evaluate(self, snapshot: Snapshot, report: RunReport, rules: RuleSet) -> None:
        """Evaluate every rule in every scope."""
        ...

    def escalate(self, now: dt.datetime, report: RunReport, rules: RuleSet) -> None:
        """Escalations, repeats and suppression expiry of open alerts."""
        ...

    def respond(self, now: dt.datetime, rules: RuleSet, providers: list[str]) -> list[Change]:
        """Provider controls follow the open alerts of rules with a pause_provider action."""
        ...

    def delivery_budget(self) -> Budget:
        """The wall time this run's deliveries (alerts, then digests) may take, from now."""
        ...

    def deliver(self, now: dt.datetime, budget: Budget) -> list[DeliveryResult]:
        """Send the notifications the outbox owes, none started once the budget is spent."""
        ...

    def store_daily_snapshots(self, now: dt.datetime) -> bool:
        """The daily business, quality and user behaviour snapshots (once a day)."""
        ...

    def send_digests(self, now: dt.datetime, budget: Budget) -> dict[str, int]:
        """The daily and weekly digests due, once per period and recipient, within the budget;
        sent by kind."""
        ...


@dataclass
class Tick:
    """One run of the tick, as its steps fill it in."""

    now: dt.datetime
    rules: RuleSet | None = None
    snapshot: Snapshot | None = None
    system_documents: int = 0
    backlog: dict[str, tuple[int, int]] = field(default_factory=dict)
    health: HealthInputs | None = None
    report: RunReport = field(default_factory=RunReport)
    daily_snapshots: bool = False
    control_changes: list[Change] = field(default_factory=list)
    digests: dict[str, int] = field(default_factory=dict)
    budget: Budget | None = None  # the deliveries', from the first of them


def load_rules(services: TickServices, tick: Tick) -> None:
    """Read the alert rules once for the whole run."""
    tick.rules = services.rule_set()


def take_snapshot(services: TickServices, tick: Tick) -> None:
    """Every rule window's figures, with as many days of history as the anomaly rules need,
    the objectives of the burn-rate rules, and the audit's recent repairs (the `pipeline_drift`
    rule's metric)."""
    rules = tick.rules.rules if tick.rules else ()
    anomaly_days = max((r.baseline_days for r in rules if r.kind == "anomaly"), default=0)
    burn = any(r.kind == "burn_rate" and r.enabled for r in rules)
    tick.snapshot = services.snapshot(tick.now, anomaly_days, burn)
    if burn:
        tick.snapshot.objectives = services.objectives()
    repairs = services.audit_repairs_since(tick.now - AUDIT_ALERT_SPAN)
    tick.snapshot.system["pipelineRepairs"] = repairs


def check_monitor(services: TickServices, tick: Tick) -> None:
    """The monitor's own figures, which the built-in rules on the system evaluate: the queue
    backlog and stuck generations, minutes since the previous tick, rejected share, abandoned
    notifications, a failed export."""
    assert tick.snapshot is not None
    tick.backlog = services.backlog(tick.now - services.stuck_after)
    queued, stuck = tick.backlog.get("overall", (0, 0))
    tick.health = services.health_inputs(tick.now, queued, stuck)
    tick.snapshot.system |= system_figures(tick.health)


def measure_queue(services: TickServices, tick: Tick) -> None:
    """The queue and the providers' capacity now (queued, oldest, waits, utilisation, the
    month's forecast spend), which the queue and capacity rules evaluate."""
    assert tick.snapshot is not None
    tick.snapshot.live = services.live_figures(tick.now)


def write_system_metrics(services: TickServices, tick: Tick) -> None:
    """The windowed system metrics, with the backlog of queued and stuck generations."""
    assert tick.snapshot is not None
    tick.system_documents = services.write_system_metrics(tick.snapshot, tick.backlog)


def evaluate_rules(services: TickServices, tick: Tick) -> None:
    """Evaluate every enabled rule in every scope against the snapshot."""
    assert tick.snapshot is not None and tick.rules is not None
    services.evaluate(tick.snapshot, tick.report, tick.rules)


def escalate(services: TickServices, tick: Tick) -> None:
    """Escalate, repeat and end suppressions of open alerts (time-driven changes)."""
    assert tick.rules is not None
    services.escalate(tick.now, tick.report, tick.rules)


def apply_actions(services: TickServices, tick: Tick) -> None:
    """The rules' actions: pause, probe and restore providers (their notifications go out in
    the next step)."""
    assert tick.rules is not None and tick.snapshot is not None
    tick.control_changes = services.respond(tick.now, tick.rules, tick.snapshot.providers())


def deliver_notifications(services: TickServices, tick: Tick) -> None:
    """After the heartbeat: send what the outbox owes, including messages earlier runs failed
    to deliver, within the deliveries' budget (which starts here)."""
    tick.budget = services.delivery_budget()
    tick.report.deliveries = services.deliver(tick.now, tick.budget)


def store_daily_snapshots(services: TickServices, tick: Tick) -> None:
    """The daily snapshots, once per UTC day."""
    tick.daily_snapshots = services.store_daily_snapshots(tick.now)


def send_digests(services: TickServices, tick: Tick) -> None:
    """The digests due (from 07:00 UTC the day after their period), each once per recipient,
    in what is left of the deliveries' budget."""
    budget = tick.budget or services.delivery_budget()
    tick.digests = services.send_digests(tick.now, budget)


def record_heartbeat(services: TickServices, tick: Tick) -> None:
    """Before any delivery: say this tick evaluated its rules and stored its figures (an
    earlier failure leaves the heartbeat old, so /health and `monitor_stale` notice; a
    delivery that fails later shows in the outbox figures instead)."""
    services.record_tick(tick.now)


Step = Callable[[TickServices, Tick], None]
STEPS: tuple[Step, ...] = (
    load_rules,
    take_snapshot,
    check_monitor,
    measure_queue,
    write_system_metrics,
    evaluate_rules,
    escalate,
    apply_actions,
    store_daily_snapshots,
    record_heartbeat,
    deliver_notifications,
    send_digests,
)


def run_tick(services: TickServices, now: dt.datetime) -> Tick:
    """Run every step in order at the scheduled time `now`, and log what the run did."""
    tick = Tick(now.astimezone(dt.UTC))
    for step in STEPS:
        step(services, tick)
    report = tick.report
    failed = [d for d in report.deliveries if not d.ok]
    log.info(
        "aggregate_and_alert %s: %d system metric documents; "
        "%d evaluations, %d changes, fired %s, resolved %s; %d notifications sent, %d failed%s",
        tick.now.isoformat(),
        tick.system_documents,
        report.evaluations,
        report.changes,
        report.fired,
        report.resolved,
        len(report.deliveries) - len(failed),
        len(failed),
        "; stored the daily snapshots" if tick.daily_snapshots else "",
    )
    for kind, count in sorted(tick.digests.items()):
        log.info("sent the %s digest to %d recipient(s)", kind, count)
    for change in tick.control_changes:
        log.warning("provider control changed: %s", change.describe())
    for problem in report.rule_problems:
        log.error("alert rule skipped: %s", problem)
    return tick
