"""The monitor's own health: is the scheduled tick running, is the pipeline keeping up, are
documents being rejected, do notifications get out, did the last BigQuery export work.

`assess` turns what storage reports (`HealthInputs`) into the verdict `GET /health` serves: `ok`,
or `degraded` with one plain reason per problem. The same inputs give the system metrics the
built-in rules on the monitor itself evaluate (`monitor_stale`, `pipeline_rejections`,
`notifications_abandoned`, `export_failed`, `stuck_jobs`, `fold_quarantine`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from video_monitoring.core.models import rfc3339

# The tick runs every 5 minutes: three missed runs make the monitor stale.
STALE_AFTER = dt.timedelta(minutes=15)
# Changes wait in the journal for the fold (every minute); this far behind is a problem.
LAG_LIMIT = dt.timedelta(minutes=10)
# Share of the last hour's changes that were rejected above which the pipeline is degraded.
REJECTED_SHARE_LIMIT = 0.05
MIN_CHANGES_FOR_SHARE = 20
RECENT = dt.timedelta(hours=1)
ABANDONED_SPAN = dt.timedelta(hours=24)
# Journal entries the fold quarantined this recently make the monitor degraded (those held
# longer stay in the detail, and the `fold_quarantine` rule fires while any are held).
QUARANTINE_SPAN = dt.timedelta(hours=24)


@dataclass(frozen=True)
class ExportStatus:
    """The latest run of the nightly export: the day it exported, its status and rows."""

    day: str
    status: str
    finished_at: dt.datetime | None
    rows: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class HealthInputs:
    """What storage knows about the monitor's own work, read at `now`."""

    now: dt.datetime
    last_tick: dt.datetime | None  # the last scheduled tick that finished
    oldest_unfolded: dt.datetime | None  # arrival minute of the oldest journal entry waiting
    changes_last_hour: int  # generation changes recorded in the last hour
    rejected_last_hour: int  # documents rejected in the last hour (generations and events)
    outbox_backlog: int  # notifications waiting for delivery or a retry
    abandoned_last_day: int  # notifications given up in the last 24 hours
    last_export: ExportStatus | None
    queued: int = 0  # generations queued or processing now
    stuck: int = 0  # processing longer than the stuck limit
    quarantined: int = 0  # journal entries held in rollup_quarantine (not replayed)
    quarantined_last_day: int = 0  # of those, quarantined in the last 24 hours
    denied_last_hour: int = 0  # API calls refused for want of a role in the last hour

    @property
    def lag(self) -> dt.timedelta:
        """How far the rollups are behind the newest change (0 when the journal is empty)."""
        if self.oldest_unfolded is None:
            return dt.timedelta(0)
        return max(self.now - self.oldest_unfolded, dt.timedelta(0))

    @property
    def rejected_share(self) -> float | None:
        """Rejected documents per change in the last hour (None below a minimum of changes)."""
        seen = self.changes_last_hour + self.rejected_last_hour
        return self.rejected_last_hour / seen if seen >= MIN_CHANGES_FOR_SHARE else None


@dataclass(frozen=True)
class Health:
    """The verdict: `ok` or `degraded`, with a reason per problem and the detail."""

    status: str
    reasons: tuple[str, ...]
    detail: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        """Nothing wrong."""
        return self.status == "ok"

    def to_json(self, with_detail: bool) -> dict[str, Any]:
        """The `/health` body; the detail only for a signed-in reader."""
        body: dict[str, Any] = {"status": self.status}
        if self.reasons:
            body["reasons"] = list(self.reasons)
        if with_detail:
            body |= dict(self.detail)
        return body


# The checks `assess` makes, in the order /health lists them (`checks` in the detail).
CHECKS = ("tick", "rollups", "rejections", "notifications", "quarantine", "export")


def assess(inputs: HealthInputs) -> Health:
    """The monitor's health from what storage reports."""
    now = inputs.now
    found: dict[str, str] = {}  # check -> the reason it fails
    if inputs.last_tick is None:
        found["tick"] = "the scheduled tick aggregate_and_alert has not run yet"
    elif now - inputs.last_tick > STALE_AFTER:
        minutes = int((now - inputs.last_tick).total_seconds() // 60)
        found["tick"] = (
            f"the scheduled tick aggregate_and_alert has not run for {minutes} minutes "
            f"(last at {rfc3339(inputs.last_tick)})"
        )
    if inputs.lag > LAG_LIMIT:
        found["rollups"] = (
            f"the rollups are {int(inputs.lag.total_seconds() // 60)} minutes behind "
            "(fold_rollups is not keeping up)"
        )
    share = inputs.rejected_share
    if share is not None and share > REJECTED_SHARE_LIMIT:
        found["rejections"] = (
            f"{inputs.rejected_last_hour} documents rejected in the last hour "
            f"({share:.1%} of changes)"
        )
    if inputs.abandoned_last_day:
        found["notifications"] = (
            f"{inputs.abandoned_last_day} alert notifications abandoned in the last 24 hours"
        )
    if inputs.quarantined_last_day:
        found["quarantine"] = (
            f"{inputs.quarantined_last_day} rollup journal entries quarantined in the last 24 "
            "hours (the figures leave them out until they are replayed)"
        )
    export = inputs.last_export
    if export is not None and export.status == "failed":
        # The error text is detail (for signed-in readers): it can name tables and projects.
        found["export"] = f"the BigQuery export of {export.day} failed"
    reasons = [found[check] for check in CHECKS if check in found]
    detail: dict[str, Any] = {
        "lastTick": None if inputs.last_tick is None else rfc3339(inputs.last_tick),
        "pipelineLagSeconds": round(inputs.lag.total_seconds(), 1),
        "rejectedLastHour": inputs.rejected_last_hour,
        "changesLastHour": inputs.changes_last_hour,
        "outbox": {"backlog": inputs.outbox_backlog, "abandoned24h": inputs.abandoned_last_day},
        "queue": {"inProgress": inputs.queued, "stuck": inputs.stuck},
        "foldQuarantine": {
            "held": inputs.quarantined,
            "last24h": inputs.quarantined_last_day,
        },
        "deniedLastHour": inputs.denied_last_hour,
        "checks": [
            {"check": check, "ok": check not in found, "reason": found.get(check)}
            for check in CHECKS
        ],
        "lastExport": None
        if export is None
        else {
            "day": export.day,
            "status": export.status,
            "finishedAt": None if export.finished_at is None else rfc3339(export.finished_at),
            "rows": dict(export.rows),
            "error": export.error,
        },
    }
    return Health("degraded" if reasons else "ok", tuple(reasons), detail)


def system_figures(inputs: HealthInputs) -> dict[str, float | None]:
    """The monitor's own figures as rule metrics (overall scope): minutes since the previous
    tick, the rejected share, abandoned notifications, whether the last export failed, the queue
    backlog, stuck jobs, the journal entries held in quarantine and the API calls refused for
    want of a role in the last hour."""
    since = None
    if inputs.last_tick is not None:
        since = (inputs.now - inputs.last_tick).total_seconds() / 60
    export = inputs.last_export
    return {
        "minutesSinceLastTick": since,
        "rejectedShare": inputs.rejected_share,
        "abandonedNotifications": float(inputs.abandoned_last_day),
        "exportFailed": None if export is None else float(export.status == "failed"),
        "queueBacklog": float(inputs.queued),
        "stuckJobs": float(inputs.stuck),
        "quarantinedEntries": float(inputs.quarantined),
        "deniedRequests": float(inputs.denied_last_hour),
    }


class HealthSource(Protocol):
    """What the health check reads, and where the tick leaves its heartbeat."""

    def health_inputs(self, now: dt.datetime, queued: int, stuck: int) -> HealthInputs:
        """Everything `assess` needs at `now`, with the queue counts given."""
        ...

    def record_tick(self, at: dt.datetime) -> None:
        """The tick scheduled at `at` finished."""
        ...


class HealthCheck:
    """`GET /health`: the verdict, computed at most every `cache_seconds` per instance (the
    endpoint needs no token, so repeated calls must stay cheap)."""

    def __init__(
        self,
        source: HealthSource,
        backlog: Callable[[dt.datetime], tuple[int, int]],
        clock: Callable[[], dt.datetime],
        cache_seconds: float = 15.0,
        others: Callable[[dt.datetime], Mapping[str, int]] | None = None,
    ) -> None:
        self._others = others
        self._source = source
        self._backlog = backlog
        self._clock = clock
        self._cache = dt.timedelta(seconds=cache_seconds)
        self._last: tuple[dt.datetime, Health] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Health:
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last[0] < self._cache:
                return self._last[1]
            queued, stuck = self._backlog(now)
            health = assess(self._source.health_inputs(now, queued, stuck))
            if self._others is not None:
                # Detail only: values under `other` are counted, not a fault of the monitor.
                others = dict(self._others(now))
                health = replace(health, detail={**health.detail, "countedAsOther24h": others})
            self._last = (now, health)
            return health
