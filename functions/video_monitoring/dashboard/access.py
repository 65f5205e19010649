"""Access audit and per-caller rate limits of the dashboard API (pure parts)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from video_monitoring.core.audit_log import AuditEntry, AuditLog
from video_monitoring.core.errors import RateLimited

__all__ = [
    "AuditEntry",
    "AuditLog",
    "Bucket",
    "DenialCounter",
    "MemoryRateLimiter",
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


class MemoryRateLimiter:
    """RateLimiter held in this instance's memory: no storage operation and no contention,
    so a page's parallel reads never queue on one document. The limit holds per instance (the
    whole service admits at most limit x instances); at most `max_keys` callers are kept, the
    least recently seen dropped first (a dropped caller starts again with a full bucket)."""

    def __init__(self, capacity: int, period: dt.timedelta, max_keys: int = 10_000) -> None:
        self._capacity = capacity
        self._period = period
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, key: str, now: dt.datetime) -> float | None:
        """None when allowed, else seconds until a token is free."""
        after, wait = take_token(self._buckets.get(key), now, self._capacity, self._period)
        self._buckets[key] = after
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


# The bucket key's prefix per route class (exports kept theirs from before reads and actions).
KEY_PREFIX = {"reads": "reads", "actions": "actions", "exports": "export"}
PERIOD_NAMES = {60.0: "minute", 3600.0: "hour"}
_PLAIN_UID = re.compile(r"[A-Za-z0-9_.@:-]{1,128}")


def bucket_name(uid: str) -> str:
    """The caller's part of a bucket key: the uid, or its digest when it could not be a
    document id as it is (a uid may hold `/`)."""
    if _PLAIN_UID.fullmatch(uid):
        return uid
    return "h-" + hashlib.sha256(uid.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Quota:
    """One route class's limit: `limit` requests per `period` per caller (a token bucket: a
    burst up to `limit`, refilled evenly)."""

    limiter: RateLimiter
    limit: int
    period: dt.timedelta

    def admit(self, route_class: str, uid: str, now: dt.datetime) -> None:
        """Spend one of the caller's tokens, or RateLimited saying when to retry."""
        wait = self.limiter.take(f"{KEY_PREFIX[route_class]}__{bucket_name(uid)}", now)
        if wait is None:
            return
        seconds = self.period.total_seconds()
        per = PERIOD_NAMES.get(seconds, f"{seconds:g} s")
        raise RateLimited(
            f"{route_class}: at most {self.limit} {route_class} per {per} per user; "
            f"retry in {math.ceil(wait)} s",
            retry_after=wait,
        )
