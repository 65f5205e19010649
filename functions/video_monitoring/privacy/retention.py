"""How long Firestore keeps what the system writes (Firestore TTL on `expireAt`).

Raw, per-item records (one per generation, event, rejection or tick) are kept
`RAW_RETENTION_DAYS`; aggregates (rollups, user days, daily snapshots) are kept longer,
`ROLLUP_RETENTION_DAYS`, so dashboards over long windows still add up after the raw records are
gone (and BigQuery keeps everything). Firestore's TTL deletes a document some time (typically
within a day) after its `expireAt`; firestore.indexes.json declares one TTL policy per
collection listed in `TTL_COLLECTIONS`.

Expiry must never change a figure: when an expired raw record or app event is deleted, its
contribution stays counted in the aggregates, and a source document older than the raw
retention is never counted again once its stored record is gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from video_monitoring.config import constants
from video_monitoring.config.settings import RetentionSettings

EXPIRE_FIELD: Final = "expireAt"
RAW: Final = "raw"
AGGREGATE: Final = "aggregate"
JOB: Final = "job"  # EXPORT_JOB_DAYS (docs/exports.md), shorter than either retention
# Collection -> which retention its documents get.
TTL_COLLECTIONS: Final = {
    constants.METRICS: RAW,
    constants.EVENTS: RAW,
    constants.EVENT_CONTRIBUTIONS: RAW,
    constants.REJECTED: RAW,
    constants.REJECTED_EVENTS: RAW,
    constants.SYSTEM_METRICS: RAW,
    constants.ACCESS_DENIALS: RAW,
    constants.EXPORT_JOBS: JOB,
    constants.ROLLUPS: AGGREGATE,
    constants.ROLLUP_SHARDS: AGGREGATE,
    constants.EVENT_ROLLUPS: AGGREGATE,
    constants.EVENT_ROLLUP_SHARDS: AGGREGATE,
    constants.ROLLUP_QUARANTINE: AGGREGATE,  # held as long as the aggregates it would feed
    constants.USER_DAYS: AGGREGATE,
    constants.BUSINESS_METRICS: AGGREGATE,
    constants.QUALITY_INSIGHTS: AGGREGATE,
    constants.USER_BEHAVIOR_INSIGHTS: AGGREGATE,
    constants.USER_BEHAVIOR_OPEN_DAYS: AGGREGATE,
    constants.SESSION_DAYS: AGGREGATE,
}


@dataclass(frozen=True)
class Retention:
    """Retention durations in days (raw records, aggregates)."""

    raw_days: int = 90
    aggregate_days: int = 760

    def __post_init__(self) -> None:
        if self.raw_days < 1 or self.aggregate_days < self.raw_days:
            raise ValueError(
                "retention: RAW_RETENTION_DAYS must be >= 1 and ROLLUP_RETENTION_DAYS >= it"
            )

    def raw_until(self, at: dt.datetime) -> dt.datetime:
        """When a raw record about something at `at` expires."""
        return at + dt.timedelta(days=self.raw_days)

    def aggregate_until(self, at: dt.datetime) -> dt.datetime:
        """When an aggregate of a period starting at `at` expires."""
        return at + dt.timedelta(days=self.aggregate_days)

    def aggregate_horizon(self, now: dt.datetime) -> dt.datetime:
        """The first UTC midnight from which every aggregate is still kept at `now` (the day
        before it may be expiring already)."""
        oldest = now - dt.timedelta(days=self.aggregate_days)
        midnight = dt.datetime(oldest.year, oldest.month, oldest.day, tzinfo=dt.UTC)
        return midnight + dt.timedelta(days=1)

    def raw_horizon(self, now: dt.datetime) -> dt.datetime:
        """The oldest instant whose raw records are all still kept at `now`."""
        return now - dt.timedelta(days=self.raw_days)

    def raw_expired(self, at: dt.datetime, now: dt.datetime) -> bool:
        """Whether a raw record about `at` is past its retention at `now`."""
        return self.raw_until(at) <= now


DEFAULT_RETENTION: Final = Retention()


def retention_of(settings: RetentionSettings) -> Retention:
    """The configured retention (raises unless aggregates are kept at least as long as raw)."""
    return Retention(settings.raw_retention_days, settings.rollup_retention_days)
