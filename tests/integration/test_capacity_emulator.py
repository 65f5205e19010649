"""The queue and provider capacity on the real stack: generations seeded through the real trigger
path with known timestamps; `GET /system` and `GET /capacity` compared with figures computed here
from the seed; a redelivery changes nothing; admins set limits (validated, bounded, audited); the
tick fires `provider_saturation` after 15 minutes at maxConcurrent and `budget_overrun`."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, api, summary, wait_until

pytestmark = pytest.mark.integration
TRACKED = ("d-id", "heygen", "pika", "runway", "synthesia")  # the stack's TRACKED_PROVIDERS
QUOTA_CODES = {"quota_exceeded", "rate_limited"}
FORECASTS = ("forecastMonthUsd", "budgetForecastShare")  # depend on the answer's own clock
PLANNING = "forecast"  # the peak-hour forecast: tests/integration/test_planning_emulator.py


@dataclass(frozen=True)
class Seed:
    """One generation: times in seconds before the test's reference time (None: not set)."""

    doc_id: str
    provider: str
    status: str
    created: float
    started: float | None = None
    completed: float | None = None
    cost: float | None = None
    error: str | None = None

    def doc(self, t0: dt.datetime) -> dict[str, Any]:
        at = functools.partial(ago, t0)
        body: dict[str, Any] = {
            "userId": f"user-{self.doc_id}", "provider": self.provider, "status": self.status,
            "createdAt": at(self.created), "userTier": "free",
        }  # fmt: skip
        if self.started is not None:
            body["startedAt"] = at(self.started)
        if self.completed is not None:
            body["completedAt"] = at(self.completed)
        if self.cost is not None:
            body["costUsd"] = self.cost
        if self.error is not None:
            body["error"] = {"code": self.error, "message": "x", "retryable": True}
        return body


M = 60.0


def ago(t0: dt.datetime, seconds: float) -> dt.datetime:
    """The time `seconds` before `t0`."""
    return t0 - dt.timedelta(seconds=seconds)


SEEDS = (
    Seed("r-q1", "runway", "queued", 10 * M),
    Seed("r-q2", "runway", "queued", 20 * M),
    Seed("r-q3", "runway", "queued", 3 * 86_400),  # queued for three days: still queued now
    Seed("r-p1", "runway", "processing", 30 * M, 25 * M),
    Seed("r-p2", "runway", "processing", 15 * M, 12 * M),
    Seed("r-c1", "runway", "completed", 40 * M, 39 * M, 30 * M, 1.5),
    Seed("r-c2", "runway", "completed", 35 * M, 33 * M, 20 * M, 2.0),
    Seed("r-c3", "runway", "completed", 50 * M, 45 * M, 40 * M, 0.5),
    Seed("r-c4", "runway", "completed", 150 * M, 140 * M, 130 * M, 1.0),  # before the window
    Seed("p-q1", "pika", "queued", 3 * M),
    Seed("p-p1", "pika", "processing", 9 * M, 8.5 * M),
    Seed("p-c1", "pika", "completed", 20 * M, 19 * M, 10 * M, 0.8),
    Seed("p-f1", "pika", "failed", 12 * M, 11 * M, 10 * M, None, "quota_exceeded"),
    Seed("p-f2", "pika", "failed", 14 * M, 13.8 * M, 13 * M, None, "provider_5xx"),
    Seed("p-x1", "pika", "cancelled", 6 * M, None, 2 * M),  # left the queue without starting
    Seed("a-q1", "acme", "queued", 5 * M),  # an untracked provider: counted under `other`
    Seed("a-c1", "acme", "completed", 25 * M, 24 * M, 20 * M, 0.3),
)


def seed(stack: Stack, db: firestore.Client, seeds: tuple[Seed, ...], t0: dt.datetime) -> None:
    """Write each source document and wait until the trigger recorded every one."""
    for s in seeds:
        db.collection("video_generations").document(s.doc_id).set(s.doc(t0))
    ledger = db.collection("video_generation_metrics")
    wait_until(lambda: len(list(ledger.select([]).stream())) == len(seeds), timeout=60)
    stack.settle()


def nearest_rank(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1] if ordered else None


def scope_of(provider: str) -> str:
    return provider if provider in TRACKED else "other"


def expected_queue(
    seeds: tuple[Seed, ...], t0: dt.datetime, start: dt.datetime, end: dt.datetime, scope: str
) -> dict[str, Any]:
    """The `queue` object of one scope, computed from the seed (age fields left out)."""
    mine = [s for s in seeds if scope == "overall" or scope_of(s.provider) == scope]
    at = functools.partial(ago, t0)
    started = [s for s in mine if s.started is not None and start <= at(s.started) < end]
    waits = [float(s.created - s.started) for s in started if s.started is not None]
    unstarted = [
        s for s in mine
        if s.started is None and s.completed is not None and start <= at(s.completed) < end
    ]  # fmt: skip
    arrivals = sum(start <= at(s.created) < end for s in mine)
    departures = len(started) + len(unstarted)
    return {
        "queued": sum(s.status == "queued" for s in mine),
        "processing": sum(s.status == "processing" for s in mine),
        "waitP50Seconds": nearest_rank(waits, 0.5),
        "waitP95Seconds": nearest_rank(waits, 0.95),
        "waitSamples": len(waits),
        "arrivals": arrivals,
        "departures": departures,
        "netGrowthPerMinute": (arrivals - departures) / ((end - start).total_seconds() / 60),
    }


def oldest_bounds(
    seeds: tuple[Seed, ...], t0: dt.datetime, before: dt.datetime, after: dt.datetime
) -> tuple[float, float]:
    created = t0 - dt.timedelta(seconds=max(s.created for s in seeds if s.status == "queued"))
    return (before - created).total_seconds() - 1, (after - created).total_seconds() + 1


def check_system(
    body: dict[str, Any],
    t0: dt.datetime,
    window: tuple[dt.datetime, dt.datetime],
    before: dt.datetime,
    after: dt.datetime,
) -> None:
    start, end = window
    queue = dict(body["queue"])
    low, high = oldest_bounds(SEEDS, t0, before, after)
    assert low <= queue.pop("oldestQueuedSeconds") <= high
    assert queue == pytest.approx(expected_queue(SEEDS, t0, start, end, "overall"))
    rows = {row["provider"]: row for row in body["providers"]}
    assert sorted(rows) == sorted([*TRACKED, "other"])
    for provider, row in rows.items():
        row = dict(row)
        oldest = row.pop("oldestQueuedSeconds")
        assert row.pop("provider") == provider
        assert row == pytest.approx(expected_queue(SEEDS, t0, start, end, provider)), provider
        mine = tuple(s for s in SEEDS if s.provider == provider and s.status == "queued")
        if provider != "other" and mine:
            low, high = oldest_bounds(mine, t0, before, after)
            assert low <= oldest <= high, provider
        elif provider != "other":
            assert oldest is None
    # The functions' runtime comes from the local host (test_runtime_emulator.py counts it):
    # seeding and redelivering failed no function.
    assert body["runtime"]["source"] == "local" and body["runtime"]["error"] is None
    assert [f["function"] for f in body["functions"] if f["errors"]] == []


def test_system_and_capacity_match_the_seed_and_ignore_redelivery(
    stack: Stack, db: firestore.Client
) -> None:
    stack.wipe()
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    seed(stack, db, SEEDS, t0)
    minute = t0.replace(second=0)
    start, end = minute - dt.timedelta(minutes=60), minute + dt.timedelta(minutes=1)
    params = {"from": start.isoformat(), "to": end.isoformat()}

    before = dt.datetime.now(dt.UTC)
    body = summary(stack, params, "/system")
    after = dt.datetime.now(dt.UTC)
    check_system(body, t0, (start, end), before, after)
    # `queued` counts what is queued now, whatever the window: the three-day-old job too.
    assert body["queue"]["queued"] == 5
    performance = summary(stack, params, "/performance")["queue"]
    assert performance["queued"] == 5 and performance["inProgress"] == 8
    one = summary(stack, {**params, "provider": "pika"}, "/system")
    assert [r["provider"] for r in one["providers"]] == ["pika"]
    assert one["queue"]["queued"] == 1 and one["queue"]["waitSamples"] == 4

    # Limits: set by an admin, audited, then served against what runs now.
    limits = {"maxConcurrent": 2, "maxPerMinute": 5, "monthlyBudgetUsd": 1.0}
    assert api(stack, "PUT", "/capacity/runway", limits) == (200, {"provider": "runway", **limits})
    audit = db.collection("audit_log").where(filter=FieldFilter("action", "==", "capacity.update"))
    (entry,) = [s.to_dict() or {} for s in audit.stream()]
    assert entry["target"] == "runway" and entry["outcome"] == "ok"
    assert entry["details"]["after"] == limits

    before = dt.datetime.now(dt.UTC)
    capacity = summary(stack, params, "/capacity")
    after = dt.datetime.now(dt.UTC)
    rows = {row["provider"]: row for row in capacity["providers"]}
    assert sorted(rows) == list(TRACKED)
    month = t0.replace(day=1, hour=0, minute=0, second=0)
    month_seconds = calendar.monthrange(month.year, month.month)[1] * 86_400
    at = functools.partial(ago, t0)
    for provider, row in rows.items():
        mine = [s for s in SEEDS if s.provider == provider]
        started = [at(s.started) for s in mine if s.started is not None]
        started = [t for t in started if start <= t < end]
        per_minute: dict[dt.datetime, int] = {}
        for t in started:
            per_minute[t.replace(second=0)] = per_minute.get(t.replace(second=0), 0) + 1
        in_window = [s for s in mine if start <= at(s.created) < end]
        failed = [s for s in in_window if s.status == "failed"]
        quota = [s for s in failed if s.error in QUOTA_CODES]
        spent = sum(s.cost or 0.0 for s in mine if at(s.created) >= month)
        given = limits if provider == "runway" else {}
        in_flight = sum(s.status == "processing" for s in mine)
        peak = max(per_minute.values(), default=0)
        budget = given.get("monthlyBudgetUsd")
        exact = {k: v for k, v in row.items() if k not in (*FORECASTS, PLANNING)}
        assert exact == pytest.approx({
            "provider": provider, "inFlight": in_flight,
            "queued": sum(s.status == "queued" for s in mine),
            "maxConcurrent": given.get("maxConcurrent"),
            "utilization": in_flight / 2 if provider == "runway" else None,
            "starts": len(started), "startsPerMinute": len(started) / 61,
            "peakStartsPerMinute": peak, "maxPerMinute": given.get("maxPerMinute"),
            "rateUtilization": peak / 5 if provider == "runway" else None,
            "failed": len(failed), "quotaErrors": len(quota),
            "quotaErrorShare": len(quota) / len(failed) if failed else None,
            "monthToDateUsd": spent, "monthlyBudgetUsd": budget,
        }), provider  # fmt: skip
        high = spent * month_seconds / (before - month).total_seconds()
        low = spent * month_seconds / (after - month).total_seconds()
        assert low - 1e-9 <= row["forecastMonthUsd"] <= high + 1e-9, provider
        if budget is None:
            assert row["budgetForecastShare"] is None
        else:
            assert row["budgetForecastShare"] == pytest.approx(row["forecastMonthUsd"] / budget)
    assert rows["pika"]["quotaErrorShare"] == 0.5  # one quota_exceeded of two failures
    assert rows["runway"]["utilization"] == 1.0

    # A redelivered trigger event (the same change again) changes no figure.
    for doc_id in ("r-q1", "p-p1", "p-x1"):
        for event in stack.recorded(doc_id):
            assert stack.replay(event) < 300
    stack.settle()
    before = dt.datetime.now(dt.UTC)
    again = summary(stack, params, "/system")
    after = dt.datetime.now(dt.UTC)
    check_system(again, t0, (start, end), before, after)


def test_capacity_writes_are_validated_and_bounded(stack: Stack, db: firestore.Client) -> None:
    stack.wipe()
    assert api(stack, "PUT", "/capacity/runway", {"maxConcurrent": 3}, role="analytics")[0] == 403
    status, body = api(stack, "PUT", "/capacity/not-tracked", {"maxConcurrent": 3})
    assert status == 404 and body["error"]["message"].startswith("provider: 'not-tracked'")
    status, body = api(stack, "PUT", "/capacity/other", {"maxConcurrent": 3})
    assert status == 400 and body["error"]["message"].startswith("provider:")
    status, body = api(stack, "PUT", "/capacity/Bad Id", {"maxConcurrent": 3})
    assert status == 400 and body["error"]["message"].startswith("provider:")
    for bad, field in (
        ({"maxConcurrent": 0}, "maxConcurrent"),
        ({"maxPerMinute": "fast"}, "maxPerMinute"),
        ({"monthlyBudgetUsd": -1}, "monthlyBudgetUsd"),
        ({"maxConcurrent": 2, "colour": "red"}, "colour"),
    ):
        status, body = api(stack, "PUT", "/capacity/pika", bad)
        assert status == 400 and body["error"]["message"].startswith(f"{field}:"), body
    assert not list(db.collection("provider_capacity").stream())
    assert api(stack, "GET", "/capacity/pika")[0] == 405
    status, body = api(stack, "PUT", "/capacity/pika", {})  # every limit unknown
    assert (status, body) == (
        200, {"provider": "pika", "maxConcurrent": None, "maxPerMinute": None,
              "monthlyBudgetUsd": None},
    )  # fmt: skip
    assert [s.id for s in db.collection("provider_capacity").stream()] == ["pika"]


def firing(db: firestore.Client, rule: str) -> list[str]:
    """Scopes in which the rule's alert is firing."""
    query = db.collection("alert_instances").where(filter=FieldFilter("ruleId", "==", rule))
    docs = (s.to_dict() or {} for s in query.stream())
    return sorted(str(d.get("scope")) for d in docs if d.get("status") == "firing")


def test_saturation_fires_after_fifteen_minutes_at_max_concurrent_and_budget_overrun(
    stack: Stack, db: firestore.Client
) -> None:
    stack.wipe()
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    busy = (
        Seed("s-p1", "runway", "processing", 20 * M, 19 * M, cost=None),
        Seed("s-p2", "runway", "processing", 18 * M, 17 * M),
        Seed("s-c1", "runway", "completed", 16 * M, 15 * M, 10 * M, 3.0),
        Seed("s-p3", "pika", "processing", 18 * M, 17 * M),  # no limits: never saturated
    )
    seed(stack, db, busy, t0)
    limits = {"maxConcurrent": 2, "monthlyBudgetUsd": 1.0}  # spent 3.0 already this month
    assert api(stack, "PUT", "/capacity/runway", limits)[0] == 200
    tick = t0.replace(second=0)
    seen = []
    for n in range(4):
        assert stack.run_schedule("aggregate_and_alert", tick + dt.timedelta(minutes=5 * n)) == 200
        seen.append((firing(db, "provider_saturation"), firing(db, "budget_overrun")))
    saturated = ["provider:runway"]
    assert [s for s, _ in seen] == [[], [], [], saturated]  # 4 ticks: 15 minutes above 0.8
    assert [b for _, b in seen] == [[], saturated, saturated, saturated]
