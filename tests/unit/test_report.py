"""The PDF report's figures (headline against targets, providers) and its layout: compared with
figures computed here from the generations the test wrote."""

from __future__ import annotations

import datetime as dt

from tests.unit.test_alert_manager import degraded_world
from tests.unit.test_export import pdf_text
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.core.models import Window
from video_monitoring.dashboard.files import DATASETS, encode, row_of
from video_monitoring.dashboard.report import headline_rows, provider_rows, report_figures


def figures() -> tuple[Window, object]:
    world = degraded_world()  # runway 40 completed in 40 s; pika 30 completed, 10 failed, 150 s
    window = Window(start=world.clock.now - dt.timedelta(hours=1), end=world.clock.now)
    engine = AnalyticsEngine(world.store, world.monitor)
    return window, report_figures(engine, window, DashboardSettings().targets())


def test_headline_figures_are_judged_against_their_targets() -> None:
    _, report = figures()
    rows = {row[0]: row[1:] for row in headline_rows(report)}  # type: ignore[arg-type]
    assert rows["Generations"] == ["80", "", ""]
    assert rows["Completed / failed / cancelled"][0] == "70 / 10 / 0"
    assert rows["Success rate"] == [f"{70 / 80 * 100:.2f}%", ">= 99.50%", "MISSED"]
    average = (40 * 40 + 30 * 150) / 70  # completed generations' times
    assert rows["Average generation time"] == [f"{average:.1f} s", "<= 60.0 s", "MISSED"]
    assert rows["Quality score"] == ["–", ">= 9.0", "no data"]


def test_providers_worst_first() -> None:
    _, report = figures()
    rows = provider_rows(report.providers)  # type: ignore[attr-defined]
    assert rows[0][:3] == ["Provider", "Generations", "Success"]
    assert [r[:3] for r in rows[1:]] == [["pika", "40", "75.00%"], ["runway", "40", "100.00%"]]
    assert rows[1][-1] == "provider_5xx 10"


def test_the_pdf_opens_with_the_report_then_the_rows() -> None:
    window, report = figures()
    rows = [row_of(DATASETS["generations"], f"g{i}", {"provider": "pika"}) for i in range(3)]
    data = b"".join(encode(DATASETS["generations"], "pdf", rows, window, report))  # type: ignore[arg-type]
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    order = [text.index(s) for s in (
        "Generation report", "Headline figures", "MISSED", "Trends", "Generations per minute",
        "Success rate per minute", "Generation time per minute", "Providers", "pika",
        "Rows: generations", "3 rows",
    )]  # fmt: skip
    assert order == sorted(order)
