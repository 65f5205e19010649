"""Access audit and per-user rate limits for the dashboard's sensitive actions (pure parts)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when, to what, and whether it was allowed."""

    at: dt.datetime
    uid: str
    role: str | None
    action: str  # acknowledge | resolve | suppress | rule.update | export
    target: str
    outcome: str  # ok | denied | rate-limited | failed
    details: Mapping[str, Any]

    def to_doc(self) -> dict[str, Any]:
        """The `audit_log` document."""
        return {
            "at": self.at,
            "uid": self.uid,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "details": dict(self.details),
        }


class AuditLog(Protocol):
    """Where audit entries go (Firestore `audit_log`; a list in unit tests)."""

    def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        ...


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
