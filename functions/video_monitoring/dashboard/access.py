"""Access audit and per-user rate limits for the dashboard's sensitive actions (pure parts)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Protocol

from video_monitoring.core.audit import AuditEntry, AuditLog

__all__ = ["AuditEntry", "AuditLog", "Bucket", "RateLimiter", "take_token"]


class RateLimiter(Protocol):
    """Per-user token buckets."""

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
