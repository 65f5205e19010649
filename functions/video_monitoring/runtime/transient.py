"""Riding out transient failures in a trigger handler.

The Python SDK does not expose `retry` for Firestore triggers, so a delivery whose handler
raises is not delivered again; the handler itself rides out what a retry would have: a
service that is briefly unavailable, and a reconcile that did not settle because the same
document kept changing under it (the store retries its own commit conflicts a few times, fast,
before giving up with ConcurrencyError; this is the slower outer backoff around that).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from google.api_core.exceptions import DeadlineExceeded, InternalServerError, ServiceUnavailable

from video_monitoring.core.backoff import Backoff, RetryTime, retrying
from video_monitoring.ingest.monitoring_store import ConcurrencyError

log = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT = (ServiceUnavailable, DeadlineExceeded, InternalServerError, ConcurrencyError)
# A trigger's budget for retries, under the function's 60 s timeout: 0.2 s doubling to 5 s.
TRIGGER_BUDGET_SECONDS = 50.0
TRIGGER_BACKOFF = Backoff(first=0.2, cap=5.0)


def with_transient_retries(
    action: Callable[[], T],
    budget_seconds: float = TRIGGER_BUDGET_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `action`, retrying transient failures with exponential backoff (0.2 s doubling,
    at most 5 s) for up to `budget_seconds`; any other error is raised at once."""
    timing = RetryTime(budget_seconds, sleep)
    return retrying(action, TRANSIENT, TRIGGER_BACKOFF, timing, on_retry=_log_retry)


def _log_retry(error: BaseException, delay: float) -> None:
    log.warning("transient failure, retrying in %.1f s: %s", delay, type(error).__name__)
