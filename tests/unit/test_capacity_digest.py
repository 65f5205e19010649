"""The weekly digest's capacity outlook: providers whose peak-hour forecast reaches 80% of
capacity within 14 days and the month's spend forecast against budgets, worked out by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from tests.unit.queue_fakes import FakeQueue
from tests.unit.test_capacity import world_with_spend
from tests.unit.test_digest import MONDAY, TARGETS, WEEK, Figures, MemoryStore
from video_monitoring.analytics import digest_render as render
from video_monitoring.analytics.capacity import CapacityService, ProviderCapacity
from video_monitoring.analytics.digest_content import Period, capacity_summary
from video_monitoring.analytics.digest_service import DigestService, DigestSources
from video_monitoring.analytics.planning import HourCells, Planner
from video_monitoring.analytics.queue import QueueService


def steady_hours(start: dt.datetime, end: dt.datetime) -> HourCells:
    """The last 14 days before `end`: runway 50 an hour each held 72 s, pika 10 an hour."""
    cells: HourCells = {}
    for i in range(14 * 24):
        hour = end - dt.timedelta(hours=i + 1)
        row: list[tuple[str, Mapping[str, Any]]] = [
            ("runway|premium", {"n": 50, "rt/sum": 72_000 * 50, "rt/n": 50}),
            ("pika|free", {"n": 10, "rt/sum": 30_000 * 10, "rt/n": 10}),
        ]
        cells[hour] = row
    return cells


def service() -> DigestService:
    world = world_with_spend()  # this month: runway 6.0 USD, pika 1.0
    queue = FakeQueue(
        [],
        {
            "runway": ProviderCapacity(max_concurrent=1, monthly_budget_usd=5.0),
            "pika": ProviderCapacity(max_per_minute=1, monthly_budget_usd=100.0),
        },
    )
    capacity = CapacityService(
        queue, QueueService(queue, ("pika", "runway")), world.monitor.cells, world.clock,
        Planner(steady_hours),
    )  # fmt: skip
    sources = DigestSources(Figures(), lambda s, e: [], lambda *a: {}, capacity=capacity.outlook)
    return DigestService(sources, MemoryStore(), TARGETS, lambda r, d: None, accounts=None)


def test_the_weekly_digest_lists_providers_nearing_capacity_and_budget_forecasts() -> None:
    outlook = service().digest(WEEK)["capacity"]
    # runway: one slot held 72 s serves 3600 / 72 = 50 an hour; a steady 50 an hour is 100% of
    # it from the first forecast day, the period's end (Monday 2026-11-30). pika: 10 of 60.
    assert outlook["crossing"] == [
        {"provider": "runway", "crosses80At": "2026-11-30", "headroom": pytest.approx(0.0),
         "capacityPerHour": pytest.approx(50.0), "peakPerHour": pytest.approx(50.0),
         "limitedBy": "maxConcurrent"},
    ]  # fmt: skip
    # At the period's end 29 of November's 30 days are gone: runway's 6.0 USD carries to
    # 6.0 x 30 / 29, over its 5.0; pika's 1.0 to 30 / 29 of 100.
    runway, pika = outlook["budgets"]
    assert runway == {
        "provider": "runway", "monthToDateUsd": pytest.approx(6.0),
        "forecastMonthUsd": pytest.approx(6.0 * 30 / 29), "monthlyBudgetUsd": 5.0,
        "budgetForecastShare": pytest.approx(6.0 * 30 / 29 / 5.0), "over": True,
    }  # fmt: skip
    assert pika["provider"] == "pika" and pika["over"] is False
    assert pika["budgetForecastShare"] == pytest.approx(30 / 29 / 100)
    daily = Period("daily", MONDAY - dt.timedelta(days=1), MONDAY)
    assert service().digest(daily)["capacity"] is None


def test_the_capacity_outlook_is_rendered_in_text_html_and_slack() -> None:
    digest = service().digest(WEEK)
    text = render.text(digest, "https://console.example/")
    assert "Capacity outlook" in text
    assert (
        "runway: peak-hour demand reaches 80% of capacity on 2026-11-30 "
        "(forecast peak 50/h of 50/h, limited by maxConcurrent)"
    ) in text
    assert "runway: $6.00 so far this month, forecast $6.21 of $5.00 (over budget)" in text
    assert "Capacity outlook" in render.to_html(digest, "https://console.example/")
    blocks = render.slack(digest, "https://console.example/")["blocks"]
    assert any("Capacity outlook" in b.get("text", {}).get("text", "") for b in blocks)


def test_capacity_summary_orders_crossings_by_date_and_budgets_by_share() -> None:
    def row(name: str, crosses: str | None, share: float | None) -> dict[str, Any]:
        days = [{"peakPerHour": 3.0}, {"peakPerHour": 7.0}]
        return {
            "provider": name, "monthToDateUsd": 1.0, "forecastMonthUsd": 2.0,
            "monthlyBudgetUsd": None if share is None else 2.0 / share,
            "budgetForecastShare": share,
            "forecast": {"crosses80At": crosses, "headroom": 0.1, "capacityPerHour": 8.0,
                         "limitedBy": "maxPerMinute", "days": days},
        }  # fmt: skip

    summary = capacity_summary([
        row("a", "2026-12-09", 0.5), row("b", "2026-12-02", None), row("c", None, 1.5),
    ])  # fmt: skip
    assert summary is not None
    assert [(r["provider"], r["peakPerHour"]) for r in summary["crossing"]] == [
        ("b", 7.0), ("a", 7.0),
    ]  # fmt: skip
    assert [(r["provider"], r["over"]) for r in summary["budgets"]] == [("c", True), ("a", False)]
    assert capacity_summary(None) is None
