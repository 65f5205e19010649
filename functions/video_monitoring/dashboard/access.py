"""Access audit and per-caller rate limits of the dashboard API (pure parts)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Protocol

from video_monitoring.core.audit import AuditEntry, AuditLog
from video_monitoring.core.errors import RateLimited

__all__ = [
    "AuditEntry",
    "AuditLog",
    "Bucket",
    "DenialCounter",
    "Quota",
    "RateLimiter",
    "take_token",
]


class DenialCounter(Protocol):
    """Counts API calls refused for want of a role, in a figure whose storage is bounded
    whatever callers do (per minute), instead of a record per call."""

    def record(self, at: dt.datetime) -> None:
        """Count one refused call at `at`."""
        ...


class RateLimiter(Protocol):
    """Per-caller token buckets of one capacity and period."""

    def take(self, key: str, now: dt.datetime) -> float | None:
        """None when allowed (a token is used), else seconds until the next token."""
        ...


@dataclass(frozen=True)
class Bucket:
    """A token bucket: `capacity` tokens, refilled continuously at capacity per `period`."""

    tokens: float
    updated: dt.datetime


def take_token(
    bucket: Bucket | None, now: dt.datetime, capacity: int, period: dt.timedelta
) -> tuple[Bucket, float | None]:
    """The bucket after one request at `now`, and None (allowed) or seconds to wait."""
    rate = capacity / period.total_seconds()
    if bucket is None:
        tokens = float(capacity)
    else:
        elapsed = max((now - bucket.updated).total_seconds(), 0.0)
        tokens = min(float(capacity), bucket.tokens + elapsed * rate)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), None
    return Bucket(tokens, now), math.ceil(round((1.0 - tokens) / rate, 6))


# The bucket key's prefix per route class (exports kept theirs from before reads and actions).
KEY_PREFIX = {"reads": "reads", "actions": "actions", "exports": "export"}


@dataclass(frozen=True)
class Quota:
    """One route class's limit: `limit` requests per `period` per caller (a token bucket: a
    burst up to `limit`, refilled evenly)."""

    limiter: RateLimiter
    limit: int
    period: dt.timedelta

    def admit(self, route_class: str, uid: str, now: dt.datetime) -> None:
        """Spend one of the caller's tokens, or RateLimited saying when to retry."""
        wait = self.limiter.take(f"{KEY_PREFIX[route_class]}__{uid or 'unknown'}", now)
        if wait is None:
            return
        per = (
            "hour" if self.period == dt.timedelta(hours=1) else f"{self.period.total_seconds():g} s"
        )
        if self.period == dt.timedelta(minutes=1):
            per = "minute"
        raise RateLimited(
            f"{route_class}: at most {self.limit} {route_class} per {per} per user; "
            f"retry in {math.ceil(wait)} s",
            retry_after=wait,
        )
