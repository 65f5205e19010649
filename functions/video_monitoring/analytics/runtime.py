"""The functions' own runtime: per function, executions, errors, p95 execution time and active
instances over a window, and Firestore document reads and writes per minute.

`RuntimeSeries` is what the figures read: Cloud Monitoring when deployed
(adapters/cloud_monitoring.py), the local functions host's own records on the local stack
(adapters/local_runtime.py). `RuntimeService` caches each window's series for a period, so
the tick and the console cost a bounded number of calls (docs/runtime.md), and gives the rule
metrics `functionErrors`, `functionErrorRate` and `functionP95Ms` (overall).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from video_monitoring.core.models import Window

log = logging.getLogger(__name__)
# The tick's rule metrics cover the last 10 minutes, two tick periods: Cloud Monitoring shows a
# minute's points a few minutes late, so every minute is counted by at least one tick.
LIVE_RUNTIME_SPAN = dt.timedelta(minutes=10)
# Windows whose series one instance keeps at once (each a few hundred bytes).
CACHED_WINDOWS = 32
FIRESTORE_FIGURES = (
    "firestoreReads",
    "firestoreWrites",
    "firestoreReadsPerMinute",
    "firestoreWritesPerMinute",
)


class RuntimeUnavailable(Exception):
    """The series could not be read (no permission, the API down, the host gone); the message
    names the source and never carries a credential."""


@dataclass(frozen=True)
class FunctionRuntime:
    """One function over a window."""

    function: str
    executions: int
    errors: int
    p95_ms: float | None  # None: no execution time recorded
    active_instances: float | None  # the peak of instances handling requests at once

    @property
    def error_rate(self) -> float | None:
        """errors / executions (None without executions)."""
        return self.errors / self.executions if self.executions > 0 else None

    def to_json(self) -> dict[str, Any]:
        """One entry of `GET /system` `functions`."""
        return {
            "function": self.function,
            "executions": self.executions,
            "errors": self.errors,
            "errorRate": self.error_rate,
            "p95ExecutionMs": self.p95_ms,
            "activeInstances": self.active_instances,
        }


@dataclass(frozen=True)
class RuntimeFigures:
    """Every function's runtime and the Firestore operations over [start, end)."""

    start: dt.datetime
    end: dt.datetime
    functions: Sequence[FunctionRuntime]
    firestore_reads: int | None  # None: the source does not measure them
    firestore_writes: int | None

    @property
    def minutes(self) -> float:
        """The window's length in minutes."""
        return (self.end - self.start).total_seconds() / 60

    def per_minute(self, count: int | None) -> float | None:
        """A count over the window per minute of it."""
        return None if count is None or self.minutes <= 0 else count / self.minutes


class RuntimeSeries(Protocol):
    """Where the runtime series come from (one bounded read per window)."""

    @property
    def source(self) -> str:
        """What is read: `cloud_monitoring` or `local`."""
        ...

    def read(self, start: dt.datetime, end: dt.datetime) -> RuntimeFigures:
        """The series over [start, end); raises RuntimeUnavailable when they cannot be read."""
        ...


class RuntimeService:
    """The runtime figures of `GET /system` and the tick, each window read once per period."""

    def __init__(
        self,
        series: RuntimeSeries | None,
        clock: Callable[[], dt.datetime],
        cache_for: dt.timedelta,
    ) -> None:
        self._series = series
        self._clock = clock
        self._cache_for = cache_for
        self._cached: collections.OrderedDict[
            tuple[dt.datetime, dt.datetime], tuple[dt.datetime, RuntimeFigures]
        ] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0  # series reads made (not served from the cache): what the cache saves

    @property
    def source(self) -> str | None:
        """The configured source (None: no series configured)."""
        return None if self._series is None else self._series.source

    def read(self, start: dt.datetime, end: dt.datetime) -> RuntimeFigures:
        """The series over [start, end), from the cache while younger than the period."""
        if self._series is None:
            raise RuntimeUnavailable("no runtime series is configured (RUNTIME_SERIES=off)")
        key, now = (start, end), self._clock()
        with self._lock:
            hit = self._cached.get(key)
            if hit is not None and now - hit[0] < self._cache_for:
                self._cached.move_to_end(key)
                return hit[1]
        figures = self._series.read(start, end)
        with self._lock:
            self.reads += 1
            self._cached[key] = (now, figures)
            self._cached.move_to_end(key)
            while len(self._cached) > CACHED_WINDOWS:
                self._cached.popitem(last=False)
        return figures

    def system(self, window: Window) -> dict[str, Any]:
        """`GET /system`'s `functions` and `runtime` for the window."""
        runtime: dict[str, Any] = {"source": self.source, "error": None}
        try:
            figures = self.read(window.start, window.end)
        except RuntimeUnavailable as error:
            runtime |= dict.fromkeys(FIRESTORE_FIGURES) | {"error": str(error)}
            return {"functions": [], "runtime": runtime}
        runtime |= {
            "firestoreReads": figures.firestore_reads,
            "firestoreWrites": figures.firestore_writes,
            "firestoreReadsPerMinute": figures.per_minute(figures.firestore_reads),
            "firestoreWritesPerMinute": figures.per_minute(figures.firestore_writes),
        }
        rows = [f.to_json() for f in sorted(figures.functions, key=lambda f: f.function)]
        return {"functions": rows, "runtime": runtime}

    def live_figures(self, now: dt.datetime) -> dict[str, float | None]:
        """The rule metrics over the last LIVE_RUNTIME_SPAN (overall): errors of every function,
        errors per execution (its samples: the executions), and the slowest function's p95
        execution time (its samples: that function's executions). Empty when unreadable."""
        if self._series is None:
            return {}
        try:
            figures = self.read(now - LIVE_RUNTIME_SPAN, now)
        except RuntimeUnavailable as error:
            log.warning("function runtime series unavailable: %s", error)
            return {}
        return runtime_metrics(figures.functions)


def runtime_metrics(functions: Sequence[FunctionRuntime]) -> dict[str, float | None]:
    """`functionErrors`, `functionErrorRate` and `functionP95Ms` with their samples."""
    executions = sum(f.executions for f in functions)
    errors = sum(f.errors for f in functions)
    timed = [f for f in functions if f.p95_ms is not None and f.executions > 0]
    slowest = max(timed, key=lambda f: f.p95_ms or 0.0, default=None)
    return {
        "functionErrors": float(errors),
        "functionExecutions": float(executions),
        "functionErrorRate": errors / executions if executions > 0 else None,
        "functionP95Ms": None if slowest is None else slowest.p95_ms,
        "functionP95Samples": 0.0 if slowest is None else float(slowest.executions),
    }
