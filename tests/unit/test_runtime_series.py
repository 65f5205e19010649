"""The functions' runtime series: the Cloud Monitoring adapter's requests and its parsing of
the API's response messages (p95 from distributions built here, computed by hand), and the
service's cache and rule metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pytest
from google.api_core import exceptions as google_errors
from google.cloud import monitoring_v3

from video_monitoring.adapters.cloud_monitoring import (
    CloudMonitoringSeries,
    distribution_percentile,
)
from video_monitoring.analytics.runtime import (
    LIVE_RUNTIME_SPAN,
    FunctionRuntime,
    RuntimeFigures,
    RuntimeService,
    RuntimeUnavailable,
    runtime_metrics,
)
from video_monitoring.core.models import Window

START = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(minutes=10)
Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer


def run_series(service: str, values: dict[str, Any], points: list[Any]) -> dict[str, Any]:
    """A TimeSeries message body of a Cloud Run revision's metric."""
    return {
        "metric": {"labels": values},
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": service}},
        "points": points,
    }


def count_point(value: int) -> dict[str, Any]:
    """One aligned point of an INT64 delta metric over the window."""
    return {
        "interval": {"start_time": START, "end_time": END},
        "value": {"int64_value": value},
    }


def distribution_point(options: dict[str, Any], counts: list[int]) -> dict[str, Any]:
    """One aligned point of a DISTRIBUTION metric."""
    distribution = {"count": sum(counts), "bucket_options": options, "bucket_counts": counts}
    return {
        "interval": {"start_time": START, "end_time": END},
        "value": {"distribution_value": distribution},
    }


def distribution(options: dict[str, Any], counts: list[int]) -> Any:
    """A Distribution message (google.api.distribution)."""
    point = monitoring_v3.Point(distribution_point(options, counts))
    return point.value.distribution_value


class FakeMetricClient:
    """MetricServiceClient's list_time_series over canned ListTimeSeriesResponse pages, by
    metric type; it keeps every request it is sent."""

    def __init__(self, pages: dict[str, list[monitoring_v3.ListTimeSeriesResponse]]) -> None:
        self.pages = pages
        self.requests: list[monitoring_v3.ListTimeSeriesRequest] = []
        self.fail: Exception | None = None

    def list_time_series(
        self, *, request: monitoring_v3.ListTimeSeriesRequest, timeout: float
    ) -> Iterable[monitoring_v3.TimeSeries]:
        assert isinstance(request, monitoring_v3.ListTimeSeriesRequest) and timeout > 0
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail
        metric = request.filter.split('"')[1]
        # As the client's pager does: every page's series, one after the other.
        return [s for page in self.pages.get(metric, []) for s in page.time_series]


def responses() -> dict[str, list[monitoring_v3.ListTimeSeriesResponse]]:
    """Two services over ten minutes, the request counts split over two pages."""
    r = monitoring_v3.ListTimeSeriesResponse
    dash, tick = "video-analytics-dashboard", "aggregate-and-alert"
    explicit = {"explicit_buckets": {"bounds": [100, 200, 400, 800]}}
    exponential = {
        "exponential_buckets": {"num_finite_buckets": 10, "growth_factor": 2, "scale": 1}
    }
    return {
        "run.googleapis.com/request_count": [
            r(
                time_series=[
                    run_series(dash, {"response_code_class": "2xx"}, [count_point(120)]),
                    run_series(dash, {"response_code_class": "4xx"}, [count_point(7)]),
                ],
                next_page_token="page-2",
            ),
            r(
                time_series=[
                    run_series(dash, {"response_code_class": "5xx"}, [count_point(3)]),
                    run_series(tick, {"response_code_class": "2xx"}, [count_point(2)]),
                ]
            ),
        ],
        "run.googleapis.com/request_latencies": [
            r(
                time_series=[
                    run_series(dash, {}, [distribution_point(explicit, [10, 50, 30, 8, 2])]),
                    run_series(tick, {}, [distribution_point(exponential, [0] * 7 + [40])]),
                ]
            )
        ],
        "run.googleapis.com/container/instance_count": [
            r(
                time_series=[
                    run_series(dash, {}, [count_point(4)]),
                    run_series(tick, {}, [count_point(1)]),
                ]
            )
        ],
        "firestore.googleapis.com/document/read_count": [
            r(time_series=[{"points": [count_point(6000)]}])
        ],
        "firestore.googleapis.com/document/write_count": [
            r(time_series=[{"points": [count_point(450)]}])
        ],
    }


def test_p95_of_explicit_buckets_by_hand() -> None:
    # Buckets [0,100) [100,200) [200,400) [400,800) [800,inf) holding 10, 50, 30, 8, 2 of 100:
    # rank 95 falls in [400,800) after 90 below it: 400 + 400 x (95 - 90) / 8 = 650.
    value = distribution({"explicit_buckets": {"bounds": [100, 200, 400, 800]}}, [10, 50, 30, 8, 2])
    assert distribution_percentile(value, 0.95) == pytest.approx(650.0)


def test_p95_of_exponential_and_linear_buckets_by_hand() -> None:
    # Exponential, scale 1, factor 2: bucket 7 is [64, 128); all 40 there, rank 38:
    # 64 + 64 x 38 / 40 = 124.8.
    exp = {"exponential_buckets": {"num_finite_buckets": 10, "growth_factor": 2, "scale": 1}}
    assert distribution_percentile(distribution(exp, [0] * 7 + [40]), 0.95) == pytest.approx(124.8)
    # Linear, offset 0, width 50: buckets 2 and 3 are [50,100) and [100,150), 10 each; rank 19
    # falls in the second after 10: 100 + 50 x 9 / 10 = 145.
    lin = {"linear_buckets": {"num_finite_buckets": 4, "width": 50, "offset": 0}}
    assert distribution_percentile(distribution(lin, [0, 0, 10, 10]), 0.95) == pytest.approx(145.0)
    # Everything in the overflow bucket: its lower bound, nothing beyond it is known.
    assert distribution_percentile(distribution(lin, [0, 0, 0, 0, 0, 5]), 0.95) == 200.0
    assert distribution_percentile(distribution(lin, []), 0.95) is None


def test_one_aligned_reduced_request_per_metric_type() -> None:
    client = FakeMetricClient(responses())
    CloudMonitoringSeries("proj-1", lambda: client).read(START, END)
    sent = {r.filter.split('"')[1]: r for r in client.requests}
    assert len(client.requests) == 5 and len(sent) == 5
    for request in client.requests:
        assert request.name == "projects/proj-1"
        assert request.interval.start_time == START and request.interval.end_time == END
        assert request.aggregation.alignment_period == dt.timedelta(minutes=10)
        assert request.aggregation.cross_series_reducer == Reducer.REDUCE_SUM
        assert request.view == monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL
    counts = sent["run.googleapis.com/request_count"]
    assert counts.aggregation.per_series_aligner == Aligner.ALIGN_DELTA
    assert list(counts.aggregation.group_by_fields) == [
        "resource.label.service_name",
        "metric.label.response_code_class",
    ]
    latencies = sent["run.googleapis.com/request_latencies"]
    assert latencies.aggregation.per_series_aligner == Aligner.ALIGN_DELTA
    assert list(latencies.aggregation.group_by_fields) == ["resource.label.service_name"]
    instances = sent["run.googleapis.com/container/instance_count"]
    assert instances.aggregation.per_series_aligner == Aligner.ALIGN_MAX
    assert instances.filter.endswith('metric.labels.state = "active"')
    for metric in ("read_count", "write_count"):
        request = sent[f"firestore.googleapis.com/document/{metric}"]
        assert list(request.aggregation.group_by_fields) == []


def test_figures_parsed_from_the_response_messages() -> None:
    client = FakeMetricClient(responses())
    figures = CloudMonitoringSeries("proj-1", lambda: client).read(START, END)
    by_name = {f.function: f for f in figures.functions}
    dash = by_name["video-analytics-dashboard"]
    assert (dash.executions, dash.errors) == (120 + 7 + 3, 3)  # only 5xx are the function's
    assert dash.p95_ms == pytest.approx(650.0) and dash.active_instances == 4.0
    tick = by_name["aggregate-and-alert"]
    assert (tick.executions, tick.errors, tick.active_instances) == (2, 0, 1.0)
    assert tick.p95_ms == pytest.approx(124.8)
    assert (figures.firestore_reads, figures.firestore_writes) == (6000, 450)
    assert figures.per_minute(figures.firestore_reads) == 600.0
    assert figures.per_minute(figures.firestore_writes) == 45.0


def test_an_api_error_is_unavailable_without_failing() -> None:
    client = FakeMetricClient(responses())
    client.fail = google_errors.PermissionDenied("monitoring.timeSeries.list denied")  # type: ignore[no-untyped-call]
    series = CloudMonitoringSeries("proj-1", lambda: client)
    with pytest.raises(RuntimeUnavailable, match="PermissionDenied"):
        series.read(START, END)
    service = RuntimeService(series, lambda: END, dt.timedelta(minutes=5))
    body = service.system(Window(start=START, end=END))
    assert body["functions"] == [] and "PermissionDenied" in body["runtime"]["error"]
    assert body["runtime"]["firestoreReadsPerMinute"] is None
    assert service.live_figures(END) == {}


def test_each_window_is_read_once_per_period() -> None:
    client = FakeMetricClient(responses())
    now = [END]
    service = RuntimeService(
        CloudMonitoringSeries("p", lambda: client), lambda: now[0], dt.timedelta(minutes=5)
    )
    first = service.system(Window(start=START, end=END))
    again = service.system(Window(start=START, end=END))
    assert first == again and len(client.requests) == 5
    now[0] = END + dt.timedelta(minutes=5)
    service.system(Window(start=START, end=END))
    assert len(client.requests) == 10 and service.reads == 2
    rows = {r["function"]: r for r in first["functions"]}
    assert rows["video-analytics-dashboard"]["errorRate"] == pytest.approx(3 / 130)
    assert first["runtime"]["source"] == "cloud_monitoring"


def test_rule_metrics_by_hand() -> None:
    functions = [
        FunctionRuntime("a", executions=40, errors=2, p95_ms=120.0, active_instances=1.0),
        FunctionRuntime("b", executions=10, errors=3, p95_ms=900.0, active_instances=2.0),
        FunctionRuntime("c", executions=0, errors=0, p95_ms=None, active_instances=None),
    ]
    metrics = runtime_metrics(functions)
    assert metrics["functionErrors"] == 5.0
    assert metrics["functionErrorRate"] == pytest.approx(5 / 50)
    assert (metrics["functionP95Ms"], metrics["functionP95Samples"]) == (900.0, 10.0)
    assert runtime_metrics([])["functionErrorRate"] is None


def test_live_figures_read_the_last_ten_minutes() -> None:
    seen: list[tuple[dt.datetime, dt.datetime]] = []

    class Series:
        source = "local"

        def read(self, start: dt.datetime, end: dt.datetime) -> RuntimeFigures:
            seen.append((start, end))
            return RuntimeFigures(start, end, [FunctionRuntime("f", 4, 1, 10.0, 1.0)], None, None)

    service = RuntimeService(Series(), lambda: END, dt.timedelta(minutes=5))
    assert service.live_figures(END)["functionErrors"] == 1.0
    assert seen == [(END - LIVE_RUNTIME_SPAN, END)]
