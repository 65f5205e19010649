"""The one retry policy: exponential backoff with a cap, bounded by attempts or a time budget.

Every place that retries uses a `Backoff` (named where it is used, with its reason):
a trigger handler riding out a briefly unavailable service (runtime/transient.py), a reconcile
whose commit lost a race (adapters/firestore_store.py), a broken export stream resuming after
its last document (adapters/_firestore.py), a notification channel that failed
(alerting/notifications.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Waits of `first` seconds doubling up to `cap`; with `jitter` each wait is a uniform
    fraction of that (so racing writers spread out); at most `retries` waits when given."""

    first: float
    cap: float
    retries: int | None = None
    jitter: bool = False

    def delay(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """The wait before retry number `retry` (0-based)."""
        wait = float(min(self.first * 2**retry, self.cap))
        return wait * rng() if self.jitter else wait

    def delays(self, rng: Callable[[], float] = random.random) -> Iterator[float]:
        """The waits in order; ends after `retries` of them (never, without a bound)."""
        retry = 0
        while self.retries is None or retry < self.retries:
            yield self.delay(retry, rng)
            retry += 1


@dataclass(frozen=True)
class RetryTime:
    """The seconds a retry loop may spend (None: no limit), and how it waits and reads the
    clock (injected, so a test spends no time)."""

    budget_seconds: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def retrying(
    action: Callable[[], T],
    on: tuple[type[BaseException], ...],
    backoff: Backoff,
    timing: RetryTime = RetryTime(),
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Run `action`; on one of the `on` errors wait as `backoff` says and run it again, until
    it succeeds, the backoff runs out of retries, or the next wait would pass the budget (then
    the last error is raised). Any other error is raised at once."""
    clock, budget_seconds = timing.clock, timing.budget_seconds
    deadline = None if budget_seconds is None else clock() + budget_seconds
    delays = backoff.delays()
    while True:
        try:
            return action()
        except on as error:
            delay = next(delays, None)
            if delay is None or (deadline is not None and clock() + delay > deadline):
                raise
            if on_retry is not None:
                on_retry(error, delay)
            timing.sleep(delay)
