"""The runtime: transient failures in a trigger handler are ridden out (the SDK does not
redeliver), the export says why it does nothing, an unreachable archive is a 503."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest
from google.api_core.exceptions import NotFound, ServiceUnavailable

from video_monitoring.adapters.bigquery import BigQueryWarehouse
from video_monitoring.config.settings import BigQuerySettings, Settings
from video_monitoring.core.errors import Unavailable
from video_monitoring.core.models import Window
from video_monitoring.dashboard.files import DATASETS
from video_monitoring.ingest.bounds import DEFAULT_BOUNDS
from video_monitoring.runtime import jobs
from video_monitoring.runtime.bootstrap import build
from video_monitoring.runtime.lazy_archive import ArchiveOnDemand
from video_monitoring.runtime.transient import with_transient_retries


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("down")  # type: ignore[no-untyped-call]


def test_transient_failures_are_retried_with_backoff() -> None:
    failures = [unavailable(), unavailable()]
    slept: list[float] = []

    def action() -> str:
        if failures:
            raise failures.pop()
        return "done"

    assert with_transient_retries(action, sleep=slept.append) == "done"
    assert slept == [0.2, 0.4]


def test_gives_up_after_the_budget_and_never_retries_other_errors() -> None:
    calls = [0]

    def down() -> None:
        calls[0] += 1
        raise unavailable()

    with pytest.raises(ServiceUnavailable):
        with_transient_retries(down, budget_seconds=0.0, sleep=lambda _: None)
    assert calls[0] == 1

    def missing() -> None:
        calls[0] += 1
        raise NotFound("gone")  # type: ignore[no-untyped-call]

    with pytest.raises(NotFound):
        with_transient_retries(missing, sleep=lambda _: None)
    assert calls[0] == 2


def test_the_export_does_nothing_but_say_so_where_bigquery_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = build(Settings(bigquery=BigQuerySettings(bigquery_enabled=False)))
    when = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
    with caplog.at_level("WARNING"):
        assert jobs.export_to_bigquery(services, when) == []
    assert "export_to_bigquery 2026-11-20: BIGQUERY_ENABLED is off" in caplog.text


class DownWarehouse:
    """A warehouse whose every query fails the way an unreachable BigQuery does."""

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> Any:
            raise unavailable()

        return call


def test_an_unreachable_archive_is_a_503_naming_bigquery() -> None:
    archive = ArchiveOnDemand(lambda: cast(BigQueryWarehouse, DownWarehouse()), lambda: None)
    window = Window(
        start=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), end=dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    )
    dataset = DATASETS["generations"]
    for ask in (
        lambda: archive.cells(window, DEFAULT_BOUNDS),
        lambda: archive.event_cells(window, DEFAULT_BOUNDS),
        lambda: archive.trend_points(window, "day"),
        lambda: archive.count_rows(dataset, window),
        lambda: next(archive.archived_rows(dataset, window)),
        lambda: archive.user_days(window.start, window.end, frozenset()),
    ):
        with pytest.raises(Unavailable, match=r"^bigquery: the archive did not answer"):
            ask()
