"""The local functions host's runtime series: what Cloud Monitoring records for deployed
functions, recorded here for the functions the host runs (docs/runtime.md).

Each invocation (a trigger delivery, an HTTP call, a scheduled run) is kept with its function,
end time, execution time and outcome; the handlers running at once per function are the
function's active instances (each concurrent handler would be one instance, as Cloud Run's
concurrency 1 per function instance makes them), kept as the peak of each minute; the process's
Firestore document reads and writes are sampled at each invocation's end. `GET /__/runtime`
answers the figures of a window, which `adapters/local_runtime.py` reads.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

# Invocations kept per function (a demo or a test session makes far fewer).
KEPT_PER_FUNCTION = 200_000


@dataclass(frozen=True)
class Invocation:
    """One finished invocation."""

    ended: float  # epoch seconds
    milliseconds: float
    ok: bool


def _minute(epoch: float) -> int:
    return int(epoch // 60)


def nearest_rank(values: list[float], q: float) -> float | None:
    """The smallest value with at least a share q of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def store_operations() -> tuple[int, int]:
    """Document reads and writes among the process's operation counters (the adapters count
    reads as `reads` or `<kind>_reads`, writes as `writes` or `<kind>_writes`)."""
    from video_monitoring.adapters._firestore import OPERATIONS

    counts = dict(OPERATIONS)
    reads = sum(n for k, n in counts.items() if k == "reads" or k.endswith("_reads"))
    writes = sum(n for k, n in counts.items() if k == "writes" or k.endswith("_writes"))
    return reads, writes


@dataclass
class RuntimeLog:
    """Every function's invocations and instance peaks, and the store's operations, by time."""

    functions: Iterable[str]
    operations: Callable[[], tuple[int, int]]
    clock: Callable[[], float]
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: dict[str, collections.deque[Invocation]] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    peaks: dict[str, dict[int, int]] = field(default_factory=dict)  # function -> minute -> peak
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (at, reads, writes)

    def __post_init__(self) -> None:
        self.functions = tuple(self.functions)
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded (a test starting on a clean stack)."""
        with self.lock:
            self.calls = {f: collections.deque(maxlen=KEPT_PER_FUNCTION) for f in self.functions}
            self.running = dict.fromkeys(self.functions, 0)
            self.peaks = {f: {} for f in self.functions}
            reads, writes = self.operations()
            self.samples = [(self.clock(), reads, writes)]

    def started(self, function: str) -> float:
        """A handler began; its start time (perf time is not needed: wall time is compared)."""
        now = self.clock()
        with self.lock:
            self.running[function] = self.running.get(function, 0) + 1
            self._note_peak(function, now)
        return now

    def _note_peak(self, function: str, now: float) -> None:
        minutes = self.peaks.setdefault(function, {})
        minute = _minute(now)
        minutes[minute] = max(minutes.get(minute, 0), self.running[function])

    def finished(self, function: str, started: float, ok: bool) -> None:
        """A handler ended (ok: it returned without raising or a 5xx answer)."""
        now = self.clock()
        reads, writes = self.operations()
        with self.lock:
            self.running[function] = max(self.running.get(function, 1) - 1, 0)
            # The instances still busy count in the minute this one ended too.
            self._note_peak(function, now)
            kept = self.calls.setdefault(function, collections.deque(maxlen=KEPT_PER_FUNCTION))
            kept.append(Invocation(now, (now - started) * 1000, ok))
            self.samples.append((now, reads, writes))

    def _operations_between(self, start: float, end: float) -> tuple[int, int]:
        # The counters are cumulative: the last sample before each edge bounds the window.
        times = [s[0] for s in self.samples]
        before = self.samples[max(bisect.bisect_left(times, start) - 1, 0)]
        last = self.samples[max(bisect.bisect_left(times, end) - 1, 0)]
        return max(last[1] - before[1], 0), max(last[2] - before[2], 0)

    def figures(self, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        """Per function over [start, end): executions, errors, p95 execution time (ms,
        nearest rank) and the peak of handlers running at once; the store's reads and writes."""
        lo, hi = start.timestamp(), end.timestamp()
        rows = []
        with self.lock:
            for function in sorted(self.calls):
                inside = [c for c in self.calls[function] if lo <= c.ended < hi]
                peaks = [p for m, p in self.peaks.get(function, {}).items()
                         if _minute(lo) <= m < math.ceil(hi / 60)]  # fmt: skip
                rows.append(
                    {
                        "function": function,
                        "executions": len(inside),
                        "errors": sum(1 for c in inside if not c.ok),
                        "p95Ms": nearest_rank([c.milliseconds for c in inside], 0.95),
                        "activeInstances": float(max(peaks, default=0)),
                    }
                )
            reads, writes = self._operations_between(lo, hi)
        return {"functions": rows, "firestoreReads": reads, "firestoreWrites": writes}

    def answer(self, query_string: str) -> tuple[int, dict[str, Any]]:
        """`GET /__/runtime?start=&end=`: the window's figures, or a 400 naming the parameters."""
        query = parse_qs(query_string)
        try:
            start, end = (dt.datetime.fromisoformat(query[k][0]) for k in ("start", "end"))
        except (KeyError, ValueError):
            return 400, {"error": "start and end: RFC 3339 times with an offset"}
        return 200, self.figures(start, end)
