"""The scheduled runs other than the alert tick: the rollup fold (every minute), the nightly
pipeline audit and the nightly BigQuery export."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from video_monitoring.adapters.firestore_fold import Fold
from video_monitoring.adapters.firestore_store import FirestoreStore
from video_monitoring.config import constants
from video_monitoring.core.clock import utc_now
from video_monitoring.core.models import STATUSES
from video_monitoring.ingest.drift_audit import (
    AuditedLedger,
    AuditHooks,
    LedgerProgress,
    Reconcile,
    audit_days,
    audit_ledger_day,
)
from video_monitoring.ingest.monitoring_store import EVENT_LEDGER, Ledger, Planner
from video_monitoring.ingest.pipeline import Plan
from video_monitoring.ingest.rollup import floor_time
from video_monitoring.runtime.bootstrap import Services
from video_monitoring.runtime.transient import with_transient_retries
from video_monitoring.warehouse.nightly import (
    CHANGED_LOOKBACK,
    DayRun,
    ExportOptions,
    export_day,
    nightly_plan,
    scheduled_day,
)

log = logging.getLogger(__name__)
# fold_rollups runs every minute with a 60 s timeout; it stops starting transactions after this.
FOLD_BUDGET_SECONDS = 45.0
# audit_pipeline runs with a 1,800 s timeout; it stops starting work after this and stores where
# it stopped (the margin covers the hour walk's last reconcile and the final write).
AUDIT_BUDGET_SECONDS = 1500.0


def fold_rollups(services: Services, schedule_time: dt.datetime) -> Fold:
    """Fold the rollup journal of every closed minute (before the later of the tick and now)
    into the folded buckets; whatever the time budget leaves, the next minute's run takes."""
    now = max(schedule_time.astimezone(dt.UTC), utc_now())
    t0 = time.monotonic()
    result = services.store.fold(floor_time(now, "minute"), budget_seconds=FOLD_BUDGET_SECONDS)
    seconds = time.monotonic() - t0
    log.log(
        logging.ERROR if result.quarantined or result.stopped else logging.INFO,
        "fold_rollups %s: %d journal entries from %d documents into %d bucket writes in %.1f s "
        "(%.0f entries/s); %d transactions, %d failed; %d entries quarantined%s%s",
        now.isoformat(),
        result.entries,
        result.documents,
        result.buckets,
        seconds,
        result.entries / seconds if seconds > 0 else 0.0,
        result.transactions,
        result.failed_transactions,
        result.quarantined,
        "".join(f"; {kind} stopped by an error" for kind in result.stopped),
        "; more remain for the next run" if result.remaining else "",
    )
    return result


class AuditIncomplete(RuntimeError):
    """The audit's time budget ran out; its progress is stored and a retry continues it."""


def audit_ledgers(settings_source: str) -> tuple[AuditedLedger, AuditedLedger]:
    """The two ledgers the audit checks: generations (split by status) and app events (the
    monitor's own events get no record)."""
    generations = AuditedLedger(
        "generations", settings_source, constants.METRICS, constants.REJECTED, "createdAt",
        split=("status", STATUSES),
    )  # fmt: skip
    events = AuditedLedger(
        "events", constants.EVENTS, constants.EVENT_CONTRIBUTIONS, constants.REJECTED_EVENTS,
        "timestamp",
        ignored=("source", constants.EVENT_SOURCE_MONITOR),
    )  # fmt: skip
    return generations, events


def reconciler(store: FirestoreStore, ledger: Ledger | None) -> Reconcile:
    """The triggers' own reconcile of one ledger, riding out transient errors."""

    def reconcile(doc_id: str, planner: Planner) -> Plan:
        return with_transient_retries(lambda: store.reconcile(doc_id, planner, ledger))

    return reconcile


def audit_pipeline(
    services: Services,
    schedule_time: dt.datetime,
    budget_seconds: float = AUDIT_BUDGET_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """The nightly drift audit (ingest/drift_audit.py) of the settled days: counts per hour, the
    hours that differ walked and repaired through the triggers' own reconcile, a rotating
    sample; each day's progress and result in `pipeline_audits/{day}` (alert rule
    `pipeline_drift`). Raises AuditIncomplete when the time budget runs out first (the
    scheduler's retry of the same run continues where it stopped)."""
    deadline = monotonic() + budget_seconds
    run = schedule_time.astimezone(dt.UTC).date().isoformat()
    days = audit_days(schedule_time, services.settings.pipeline.audit_days)
    bodies = [audit_day(services, day, run, lambda: monotonic() > deadline) for day in days]
    unfinished = [body["day"] for body in bodies if not body["complete"]]
    if unfinished:
        raise AuditIncomplete(
            f"audit_pipeline {run}: the {budget_seconds:.0f} s budget ran out before "
            f"{', '.join(unfinished)} was done; a retry continues from the stored cursor"
        )
    return bodies


def audit_day(
    services: Services, day: dt.date, run: str, out_of_time: Callable[[], bool]
) -> dict[str, Any]:
    """Audit one UTC day of both ledgers for the run `run`, continuing that run's stored
    progress, and record the result (after each step, so a stop loses nothing)."""
    store = services.store
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    stored = store.audit_progress(day)
    if stored is not None and stored.get("run") == run and stored.get("complete"):
        return stored
    resumed = stored is not None and stored.get("run") == run
    ledgers = audit_ledgers(services.settings.runtime.source_collection)
    progress = {
        ledger.name: LedgerProgress.from_doc(stored[ledger.name])
        if resumed and stored is not None and ledger.name in stored
        else LedgerProgress()
        for ledger in ledgers
    }

    def body() -> dict[str, Any]:
        return {
            "day": day.isoformat(),
            "run": run,
            "ranAt": utc_now(),
            "complete": all(p.done for p in progress.values()),
            "repaired": sum(p.audit.repaired for p in progress.values()),
            **{name: p.to_doc() for name, p in progress.items()},
        }

    def save() -> None:
        store.record_audit(day, body())

    ingest = services.ingest
    planners = {"generations": ingest.generation_planner, "events": ingest.event_planner}
    for ledger in ledgers:
        if not audit_ledger_day(
            store,
            ledger,
            start,
            run,
            progress[ledger.name],
            AuditHooks(
                planners[ledger.name],
                reconciler(store, EVENT_LEDGER if ledger.name == "events" else None),
                out_of_time,
                save,
            ),
        ):
            break
    result = body()
    store.record_audit(day, result)
    generations, events = progress["generations"].audit, progress["events"].audit
    log.log(
        logging.ERROR if result["repaired"] else logging.INFO,
        "audit_pipeline %s: generations %d checked (%d sampled), %d repaired; app events %d "
        "checked (%d sampled), %d repaired; %d reads%s",
        day.isoformat(),
        generations.checked,
        generations.sampled,
        generations.repaired,
        events.checked,
        events.sampled,
        events.repaired,
        generations.reads + events.reads,
        "" if result["complete"] else "; stopped by the time budget",
    )
    return result


def export_one_day(services: Services, day: dt.date, trigger: str) -> DayRun:
    """Export one UTC day to BigQuery, replacing it there; raises when it fails (recorded)."""
    bq = services.settings.bigquery
    run = export_day(
        services.day_source,
        services.warehouse(),
        day,
        ExportOptions(
            trigger,
            pseudonym_key=bq.key(),
            load_rows=bq.export_load_rows,
            raw_horizon=services.retention.raw_horizon(utc_now()),
        ),
        now=utc_now,
        runs=services.run_log,
    )
    log.info(
        "export_to_bigquery %s (%s): %s",
        day.isoformat(),
        trigger,
        ", ".join(
            f"{table} {counts.rows} rows"
            + (f" ({counts.skipped} skipped)" if counts.skipped else "")
            for table, counts in run.tables.items()
        ),
    )
    return run


def export_to_bigquery(services: Services, schedule_time: dt.datetime) -> list[DayRun]:
    """The nightly export (warehouse.nightly.nightly_plan): yesterday, EXPORT_RESETTLE_DAYS
    earlier days again, and every older day Firestore still keeps whose records changed in the
    last two days; nothing, with a warning, where BigQuery is not enabled, as on the local
    stack without its emulator. Raises when a day fails (the scheduler retries; every day's
    export is idempotent)."""
    bq = services.settings.bigquery
    if not bq.bigquery_enabled:
        log.warning(
            "export_to_bigquery %s: BIGQUERY_ENABLED is off; nothing exported",
            scheduled_day(schedule_time),
        )
        return []
    horizon = services.retention.raw_horizon(utc_now())
    changed = services.day_source.changed_days(schedule_time - CHANGED_LOOKBACK)
    plan = nightly_plan(schedule_time, bq.export_resettle_days, horizon, changed)
    return [export_one_day(services, day, trigger) for day, trigger in plan]
