"""Capacity planning on the real stack: fifteen days of hourly history written through the real
trigger path, then GET /capacity's forecast compared with a least-squares fit computed here
independently (the normal equations of a trend plus 168 hour-of-week indicators, solved by
Gaussian elimination), against the hourly capacity Little's law gives for the limits set."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.cloud import firestore

from tests.integration.support import Stack, api, summary, wait_until

pytestmark = pytest.mark.integration
DAYS = 15
WEEK = 168
RENDER_SECONDS = 1300.0  # one slot serves 3600 / 1300 = 2.77 an hour; 80% of it is 2.22


def seeds(today: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """(id, createdAt): each day 1 + day // 5 generations at 15:20 (a rising trend), and one
    at 09:10 on the days whose index is 0 or 3 in its week (a weekly shape)."""
    out = []
    first = today - dt.timedelta(days=DAYS)
    for day in range(DAYS):
        for i in range(1 + day // 5):
            out.append((f"d{day}-p{i}", first + dt.timedelta(days=day, hours=15, minutes=20 + i)))
        if day % 7 in (0, 3):
            out.append((f"d{day}-m", first + dt.timedelta(days=day, hours=9, minutes=10)))
    return out


def solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gauss-Jordan elimination with partial pivoting."""
    n = len(rhs)
    rows = [[*row, value] for row, value in zip(matrix, rhs, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [v / lead for v in rows[col]]
        for r in range(n):
            factor = rows[r][col]
            if r != col and factor != 0.0:
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [row[n] for row in rows]


def least_squares(demand: list[float]) -> tuple[list[float], float]:
    """(level per hour of the week, slope per hour) minimising the squared error of
    y_t = level[t mod 168] + slope * t, from the normal equations X'X b = X'y."""
    size = WEEK + 1  # 168 indicators, then t
    xtx = [[0.0] * size for _ in range(size)]
    xty = [0.0] * size
    for t, y in enumerate(demand):
        cell = t % WEEK
        xtx[cell][cell] += 1
        xtx[cell][WEEK] += t
        xtx[WEEK][cell] += t
        xtx[WEEK][WEEK] += t * t
        xty[cell] += y
        xty[WEEK] += t * y
    solution = solve(xtx, xty)
    return solution[:WEEK], solution[WEEK]


def expected_forecast(today: dt.datetime, created: list[dt.datetime]) -> dict[str, Any]:
    """The forecast worked out from the seed: hourly demand, the fit, each day's busiest hour."""
    first = today - dt.timedelta(days=DAYS)
    demand = [0.0] * (DAYS * 24)
    for at in created:
        demand[int((at - first).total_seconds() // 3600)] += 1
    levels, slope = least_squares(demand)
    capacity = 3600 / RENDER_SECONDS
    days: list[dict[str, Any]] = []
    for day in range(14):
        hours = [DAYS * 24 + day * 24 + h for h in range(24)]
        values = [max(0.0, levels[t % WEEK] + slope * t) for t in hours]
        peak = max(values)
        at = first + dt.timedelta(hours=hours[values.index(peak)])
        days.append({"date": at.date().isoformat(), "peakPerHour": peak,
                     "peakAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "utilization": peak / capacity})  # fmt: skip
    crossing = next((d["date"] for d in days if d["utilization"] >= 0.8), None)
    observed = [
        {"date": (first + dt.timedelta(days=d)).date().isoformat(),
         "peakPerHour": max(demand[d * 24 : (d + 1) * 24])}
        for d in range(DAYS - 14, DAYS)
    ]  # fmt: skip
    return {
        "model": "trend+hour-of-week", "historyDays": DAYS,
        "historyStart": first.strftime("%Y-%m-%dT%H:%M:%SZ"), "trendPerDay": slope * 24,
        "meanBusySeconds": RENDER_SECONDS, "capacityPerHour": capacity,
        "limitedBy": "maxConcurrent", "days": days, "observed": observed,
        "headroom": 1 - max(d["utilization"] for d in days), "crosses80At": crossing,
    }  # fmt: skip


def assert_close(got: Any, want: Any, path: str = "forecast") -> None:
    """Equal structures, numbers equal to a relative 1e-6."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), path
        for key in want:
            assert_close(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_close(a, b, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9), path
    else:
        assert got == want, path


def test_get_capacity_forecasts_from_the_recorded_hourly_history(
    stack: Stack, db: firestore.Client
) -> None:
    now = dt.datetime.now(dt.UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now - today > dt.timedelta(hours=23, minutes=50):
        pytest.skip("too close to midnight UTC: the history would move under the test")
    seeded = seeds(today)
    for doc_id, created in seeded:
        db.collection("video_generations").document(doc_id).set({
            "userId": f"user-{doc_id}", "provider": "runway", "status": "completed",
            "userTier": "free", "createdAt": created,
            "startedAt": created + dt.timedelta(seconds=10),
            "completedAt": created + dt.timedelta(seconds=10 + RENDER_SECONDS),
        })  # fmt: skip
    ledger = db.collection("video_generation_metrics")
    wait_until(lambda: len(list(ledger.select([]).stream())) == len(seeded), timeout=90)
    stack.settle()
    assert api(stack, "PUT", "/capacity/runway", {"maxConcurrent": 1})[0] == 200

    body = summary(stack, {"window": "1h"}, "/capacity")
    rows = {row["provider"]: row for row in body["providers"]}
    expected = expected_forecast(today, [created for _, created in seeded])
    assert_close(rows["runway"]["forecast"], expected)
    assert expected["crosses80At"] is not None  # the seed is chosen to cross within 14 days
    assert rows["pika"]["forecast"]["model"] == "none" and rows["pika"]["forecast"]["days"] == []
