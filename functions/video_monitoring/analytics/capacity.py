"""Provider capacity as data: each provider's concurrency limit, rate limit and monthly budget
(`provider_capacity/{provider}`, admin-editable) against what the provider does now: in flight,
starts per minute, quota-type errors, spend this month and its forecast to month end.

The same figures feed the rules (`provider_saturation`, `budget_overrun`, `queue_depth`,
`queue_wait`) through `live_figures`, which the tick calls once per run.
"""

from __future__ import annotations

import calendar
import collections
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from video_monitoring.alerting.rules import parse_model
from video_monitoring.analytics.planning import Planner
from video_monitoring.analytics.queue import (
    LIVE_WAIT_SPAN,
    OVERALL,
    QueueService,
    Start,
    age_seconds,
    nearest_rank,
    waits_by_scope,
    with_other,
)
from video_monitoring.config.constants import OTHER
from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.core.models import PROVIDER_PATTERN, Window, rfc3339
from video_monitoring.ingest import counters
from video_monitoring.ingest.rollup import floor_time, merge_cells

# Error codes that say the provider refused for want of capacity (a quota or a rate limit), not
# that the job was bad or the provider broken: their share of failures is the quota error share.
QUOTA_ERROR_CODES = frozenset({"quota_exceeded", "rate_limited"})
Cells = list[tuple[str, Mapping[str, Any]]]


class ProviderCapacity(BaseModel):
    """One `provider_capacity/{provider}` document: each limit optional (null: not known)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    max_concurrent: int | None = Field(alias="maxConcurrent", default=None, ge=1, le=1_000_000)
    max_per_minute: int | None = Field(alias="maxPerMinute", default=None, ge=1, le=10_000_000)
    monthly_budget_usd: float | None = Field(
        alias="monthlyBudgetUsd", default=None, ge=0, le=1e9, allow_inf_nan=False
    )

    def to_doc(self) -> dict[str, Any]:
        """The stored and served form (camelCase)."""
        return self.model_dump(by_alias=True, mode="json")


class CapacityStore(Protocol):
    """Where the capacity documents live (adapters/firestore_queue.py)."""

    def capacities(self) -> dict[str, ProviderCapacity]:
        """Every provider's stored capacity."""
        ...

    def put_capacity(
        self, provider: str, capacity: ProviderCapacity, by: str, now: dt.datetime
    ) -> None:
        """Replace one provider's capacity, stamped with who changed it."""
        ...


def month_start(now: dt.datetime) -> dt.datetime:
    """00:00 UTC on the first of `now`'s month."""
    return floor_time(now, "day").replace(day=1)


def month_forecast(spent: float, now: dt.datetime) -> float:
    """Spend to the end of the month at the month's run rate so far (spent per elapsed second
    times the month's seconds): the plainest forecast, and exact for a steady spend."""
    start = month_start(now)
    days = calendar.monthrange(start.year, start.month)[1]
    elapsed = (now - start).total_seconds()
    return spent if elapsed <= 0 else spent * (days * 86_400) / elapsed


def ratio(value: float | int, limit: float | int | None) -> float | None:
    """value / limit, None without a (positive) limit."""
    return None if limit is None or limit <= 0 else value / limit


def peak_per_minute(starts: Iterable[Start]) -> int:
    """The most starts in any one minute."""
    minutes = collections.Counter(floor_time(s.started_at, "minute") for s in starts)
    return max(minutes.values(), default=0)


def quota_share(cells: Cells, provider: str) -> tuple[int, int, float | None]:
    """(failed, quota-type failed, share) of the provider's generations in the cells."""
    totals = merge_cells(cells, provider=provider)
    failed = totals.count("failed")
    quota = sum(
        n for code, n in totals.members(counters.ERRORS).items() if code in QUOTA_ERROR_CODES
    )
    return failed, quota, None if failed <= 0 else quota / failed


class CapacityService:
    """`GET /capacity`, `PUT /capacity/{provider}` and the live figures of the tick."""

    def __init__(
        self,
        store: CapacityStore,
        queue: QueueService,
        cells: Callable[[Window], Cells],
        clock: Callable[[], dt.datetime],
        planner: Planner | None = None,
    ) -> None:
        self._store = store
        self._queue = queue
        self._cells = cells
        self._clock = clock
        self._planner = planner or Planner()

    @property
    def queue(self) -> QueueService:
        """The queue figures this service reads."""
        return self._queue

    def _providers(self, stored: Mapping[str, ProviderCapacity]) -> list[str]:
        return sorted(set(self._queue.providers) | set(stored))

    def month_to_date(self, now: dt.datetime, providers: Sequence[str]) -> dict[str, float]:
        """USD spent on generations created this month, per provider."""
        end = floor_time(now, "minute")
        start = month_start(now)
        cells = self._cells(Window(start=start, end=end)) if end > start else []
        return {p: merge_cells(cells, provider=p).sum(counters.COST) for p in providers}

    def capacity(self, window: Window) -> dict[str, Any]:
        """`GET /capacity`: every tracked or configured provider (the window's provider only
        when it names one)."""
        now = self._clock()
        stored = self._store.capacities()
        providers = self._providers(stored)
        if window.provider is not None:
            providers = [p for p in providers if p == window.provider]
        current = self._queue.now()
        starts = self._queue.starts(window.start, window.end)
        by_provider: dict[str, list[Start]] = collections.defaultdict(list)
        for start in starts:
            by_provider[start.provider].append(start)
        minutes = (window.end - window.start).total_seconds() / 60
        cells = self._cells(window)
        spent = self.month_to_date(now, providers)
        forecasts = self.plan(now, providers, stored)
        rows = []
        for p in providers:
            limits = stored.get(p, ProviderCapacity())
            in_flight = int(current.processing.get(p, 0))
            started = by_provider.get(p, [])
            peak = peak_per_minute(started)
            failed, quota, share = quota_share(cells, p)
            forecast = month_forecast(spent[p], now)
            rows.append(
                {
                    "provider": p,
                    "inFlight": in_flight,
                    "queued": int(current.queued.get(p, 0)),
                    "maxConcurrent": limits.max_concurrent,
                    "utilization": ratio(in_flight, limits.max_concurrent),
                    "starts": len(started),
                    "startsPerMinute": len(started) / minutes if minutes > 0 else 0.0,
                    "peakStartsPerMinute": peak,
                    "maxPerMinute": limits.max_per_minute,
                    "rateUtilization": ratio(peak, limits.max_per_minute),
                    "failed": failed,
                    "quotaErrors": quota,
                    "quotaErrorShare": share,
                    "monthToDateUsd": spent[p],
                    "forecastMonthUsd": forecast,
                    "monthlyBudgetUsd": limits.monthly_budget_usd,
                    "budgetForecastShare": ratio(forecast, limits.monthly_budget_usd),
                    "forecast": forecasts[p],
                }
            )
        return {
            "asOf": rfc3339(now),
            "window": window.to_json(),
            "monthStart": rfc3339(month_start(now)),
            "quotaErrorCodes": sorted(QUOTA_ERROR_CODES),
            "providers": rows,
        }

    def plan(
        self, now: dt.datetime, providers: Sequence[str], stored: Mapping[str, ProviderCapacity]
    ) -> dict[str, dict[str, Any]]:
        """Each provider's 14-day peak-hour demand forecast against its limits."""
        limits = {p: stored.get(p, ProviderCapacity()) for p in providers}
        return self._planner.forecasts(
            now, {p: (c.max_concurrent, c.max_per_minute) for p, c in limits.items()}
        )

    def outlook(self, now: dt.datetime) -> list[dict[str, Any]]:
        """Per provider as of `now`: the month's spend and forecast against the budget, and
        the peak-hour demand forecast against capacity (the weekly digest's section)."""
        stored = self._store.capacities()
        providers = self._providers(stored)
        spent = self.month_to_date(now, providers)
        forecasts = self.plan(now, providers, stored)
        rows = []
        for p in providers:
            budget = stored.get(p, ProviderCapacity()).monthly_budget_usd
            month = month_forecast(spent[p], now)
            rows.append({
                "provider": p, "monthToDateUsd": spent[p], "forecastMonthUsd": month,
                "monthlyBudgetUsd": budget, "budgetForecastShare": ratio(month, budget),
                "forecast": forecasts[p],
            })  # fmt: skip
        return rows

    def check_provider(self, provider: str) -> None:
        """A 400 for a malformed id or `other`, a 404 for a provider neither tracked nor
        configured: a client cannot grow the collection."""
        if not re.fullmatch(PROVIDER_PATTERN, provider):
            raise InvalidArgument(f"provider: expected a provider id matching {PROVIDER_PATTERN}")
        if provider == OTHER:
            raise InvalidArgument("provider: `other` is the untracked providers together")
        stored = self._store.capacities()
        if provider not in self._queue.providers and provider not in stored:
            raise NotFound(
                f"provider: {provider!r} is neither tracked (TRACKED_PROVIDERS) nor configured; "
                f"known: {', '.join(self._providers(stored))}"
            )

    def limits(self, provider: str) -> ProviderCapacity | None:
        """One provider's stored limits (None: none stored)."""
        return self._store.capacities().get(provider)

    def put(self, provider: str, body: Any, by: str) -> ProviderCapacity:
        """Replace one provider's limits (the body validated field by field)."""
        capacity = parse_model(ProviderCapacity, body, "capacity", {})
        self._store.put_capacity(provider, capacity, by, self._clock())
        return capacity

    def live_figures(self, now: dt.datetime) -> dict[str, dict[str, float | None]]:
        """The rule metrics measured now, per scope: queued jobs, the oldest queued job's age,
        the p95 wait of jobs started in the last hour (None beyond MAX_WAIT_SAMPLES), and per
        provider utilisation and the month's forecast spend against the budget."""
        stored = self._store.capacities()
        providers = self._queue.providers
        capacity_providers = self._providers(stored)
        # Independent reads, each mostly waiting on Firestore: side by side.
        with ThreadPoolExecutor(max_workers=3) as pool:
            current_at = pool.submit(self._queue.now)
            starts_at = pool.submit(self._queue_starts, now)
            spent_at = pool.submit(self.month_to_date, now, capacity_providers)
            current, starts, spent = current_at.result(), starts_at.result(), spent_at.result()
        waits = waits_by_scope(starts or [], providers) if starts is not None else {}
        queued = with_other(current.queued, providers)
        processing = with_other(current.processing, providers)
        figures: dict[str, dict[str, float | None]] = {}
        for scope in (OVERALL, *providers, OTHER, *capacity_providers):
            key = scope if scope == OVERALL else f"provider:{scope}"
            limits = stored.get(scope, ProviderCapacity())
            wait = waits.get(scope, [])
            figures[key] = {
                "queuedJobs": float(queued.get(scope, 0)),
                "oldestQueuedSeconds": age_seconds(now, current.oldest_queued.get(scope)),
                "queueWaitP95Seconds": nearest_rank(wait, 0.95),
                "queueWaitSamples": float(len(wait)),
            }
            if scope != OVERALL:
                figures[key]["providerUtilization"] = ratio(
                    processing.get(scope, 0), limits.max_concurrent
                )
                forecast = month_forecast(spent.get(scope, 0.0), now)
                figures[key]["budgetForecastShare"] = ratio(forecast, limits.monthly_budget_usd)
        return figures

    def _queue_starts(self, now: dt.datetime) -> list[Start] | None:
        try:
            return self._queue.starts(now - LIVE_WAIT_SPAN, now)
        except InvalidArgument:
            return None  # more than MAX_WAIT_SAMPLES: no wait figure rather than a partial one
