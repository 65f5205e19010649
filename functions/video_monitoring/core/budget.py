"""Wall-time budgets: work that may take longer than its caller can wait stops starting new
pieces when the budget is spent, and the caller stops waiting for the pieces still running."""

from __future__ import annotations

import contextvars
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Budget:
    """Seconds of wall time from when it was made, on a monotonic clock (injected in tests)."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self._start = monotonic()
        self._end = self._start + seconds

    @classmethod
    def unlimited(cls) -> Budget:
        """A budget that is never spent."""
        return cls(math.inf)

    def remaining(self) -> float:
        """Seconds left (0 when spent)."""
        return max(0.0, self._end - self._monotonic())

    def elapsed(self) -> float:
        """Seconds since it was made (past its end too)."""
        return self._monotonic() - self._start

    def spent(self) -> bool:
        """Whether no time is left."""
        return self.remaining() <= 0


def run_within(budget: Budget, tasks: Sequence[Callable[[], T]], workers: int) -> list[T | None]:
    """Run the tasks on up to `workers` threads and wait at most the budget's remaining time.

    A task's answer is None when it had not finished by then; tasks not yet started are
    cancelled, and the ones still running are left to end on their own (nothing waits for them,
    so they must leave their work resumable by a later run). Each runs in a copy of the caller's
    context, so its log lines keep the caller's labels."""
    if not tasks:
        return []
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(tasks))))
    parent = contextvars.copy_context()
    futures = [pool.submit(parent.copy().run, task) for task in tasks]
    timeout = None if math.isinf(budget.remaining()) else budget.remaining()
    done, late = wait(futures, timeout=timeout)
    pool.shutdown(wait=False, cancel_futures=True)
    if late:
        log.warning("time budget of %g s spent: %d of %d tasks left unfinished for a later run",
                    budget.seconds, len(late), len(tasks))  # fmt: skip
    return [future.result() if future in done else None for future in futures]
