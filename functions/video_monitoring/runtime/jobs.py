"""The scheduled runs other than the alert tick: the rollup fold (every minute), the nightly
pipeline audit and the nightly BigQuery export."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from video_monitoring.adapters.firestore_fold import Fold
from video_monitoring.config import constants as c
from video_monitoring.core.clock import utc_now
from video_monitoring.ingest.audit import audit_days, audit_ledger, paired
from video_monitoring.ingest.rollup import floor_time
from video_monitoring.ingest.store import EVENT_LEDGER
from video_monitoring.runtime.bootstrap import Services
from video_monitoring.runtime.retry import with_transient_retries
from video_monitoring.warehouse.nightly import (
    CHANGED_LOOKBACK,
    DayRun,
    export_day,
    nightly_plan,
    scheduled_day,
)

log = logging.getLogger(__name__)
# fold_rollups runs every minute with a 60 s timeout; it stops starting transactions after this.
FOLD_BUDGET_SECONDS = 45.0


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


def audit_pipeline(services: Services, schedule_time: dt.datetime) -> list[dict[str, Any]]:
    """The nightly drift audit (ingest/audit.py) of the settled days: each day's generations and
    app events re-planned from their source documents, drift repaired through the triggers' own
    reconcile, the result stored in `pipeline_audits/{day}` (alert rule `pipeline_drift`)."""
    days = audit_days(schedule_time, services.settings.pipeline.audit_days)
    return [audit_day(services, day) for day in days]


def audit_day(services: Services, day: dt.date) -> dict[str, Any]:
    """Audit one UTC day of both ledgers and record the result."""
    store = services.store
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)

    def pairs(source: str, stored: str, time_field: str) -> Any:
        return paired(
            store.ordered_documents(source, time_field, start, end),
            store.ordered_documents(stored, time_field, start, end),
            time_field,
        )

    generations = audit_ledger(
        pairs(services.settings.runtime.source_collection, c.METRICS, "createdAt"),
        services.monitor.planner,
        lambda doc_id, planner: with_transient_retries(lambda: store.reconcile(doc_id, planner)),
    )
    events = audit_ledger(
        pairs(c.EVENTS, c.EVENT_CONTRIBUTIONS, "timestamp"),
        services.analytics.event_planner,
        lambda doc_id, planner: with_transient_retries(
            lambda: store.reconcile(doc_id, planner, EVENT_LEDGER)
        ),
    )
    body = {
        "day": day.isoformat(),
        "ranAt": utc_now(),
        "repaired": generations.repaired + events.repaired,
        "generations": generations.to_doc(),
        "events": events.to_doc(),
    }
    store.record_audit(day, body)
    log.log(
        logging.ERROR if body["repaired"] else logging.INFO,
        "audit_pipeline %s: generations %d checked, %d repaired; app events %d checked, "
        "%d repaired",
        day.isoformat(),
        generations.checked,
        generations.repaired,
        events.checked,
        events.repaired,
    )
    return body


def export_one_day(services: Services, day: dt.date, trigger: str) -> DayRun:
    """Export one UTC day to BigQuery, replacing it there; raises when it fails (recorded)."""
    bq = services.settings.bigquery
    run = export_day(
        services.day_source,
        services.warehouse(),
        day,
        trigger=trigger,
        now=utc_now,
        runs=services.run_log,
        pseudonym_key=bq.key(),
        load_rows=bq.export_load_rows,
        raw_horizon=services.retention.raw_horizon(utc_now()),
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
