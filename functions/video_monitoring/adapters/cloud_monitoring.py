"""The functions' runtime series from Cloud Monitoring (`google-cloud-monitoring`).

The functions are 2nd gen: each runs as a Cloud Run service, and its executions, latencies and
instances are reported under `run.googleapis.com` (the `cloudfunctions.googleapis.com/function/*`
types are 1st gen's). One window costs five `list_time_series` calls, one per metric type,
each aligned over the whole window and reduced server-side to one series per service (or one in
all), so the answer is a handful of series whatever the traffic (docs/runtime.md).
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from google.api_core import exceptions as google_errors
from google.cloud import monitoring_v3

from video_monitoring.analytics.runtime import FunctionRuntime, RuntimeFigures, RuntimeUnavailable

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer
SERVICE = "resource.label.service_name"
CODE_CLASS = "metric.label.response_code_class"
REQUESTS = "run.googleapis.com/request_count"
LATENCIES = "run.googleapis.com/request_latencies"  # a distribution, in milliseconds
INSTANCES = "run.googleapis.com/container/instance_count"
READS = "firestore.googleapis.com/document/read_count"
WRITES = "firestore.googleapis.com/document/write_count"
ERROR_CLASS = "5xx"  # a handler that raised (4xx are the callers' mistakes, not the function's)
CALL_TIMEOUT_SECONDS = 20.0


class TimeSeriesClient(Protocol):
    """The one method of `monitoring_v3.MetricServiceClient` this adapter calls."""

    def list_time_series(
        self, *, request: monitoring_v3.ListTimeSeriesRequest, timeout: float
    ) -> Iterable[monitoring_v3.TimeSeries]:
        """Every series of the request (the client pages through them)."""
        ...


def metric_client() -> TimeSeriesClient:
    """The Monitoring API's client, with the function's own service account."""
    client: TimeSeriesClient = monitoring_v3.MetricServiceClient()
    return client


def _which(message: Any, oneof: str) -> str | None:
    # proto-plus wraps monitoring's own messages; google.api's Distribution is plain protobuf.
    found: str | None = getattr(message, "_pb", message).WhichOneof(oneof)
    return found


def bucket_bounds(options: Any, buckets: int) -> list[tuple[float, float]]:
    """(lower, upper) of each bucket of a distribution's BucketOptions: the underflow bucket
    starts at 0 (execution times are not negative) and the overflow bucket ends at its lower
    bound (nothing says how far it reaches)."""
    kind = _which(options, "options")
    if kind == "linear_buckets":
        n, width, offset = (
            options.linear_buckets.num_finite_buckets,
            options.linear_buckets.width,
            options.linear_buckets.offset,
        )
        edges = [offset + width * i for i in range(n + 1)]
    elif kind == "exponential_buckets":
        exp = options.exponential_buckets
        edges = [exp.scale * exp.growth_factor**i for i in range(exp.num_finite_buckets + 1)]
    elif kind == "explicit_buckets":
        edges = list(options.explicit_buckets.bounds)
    else:
        raise RuntimeUnavailable(f"Cloud Monitoring: a distribution without buckets ({kind})")
    lowers = [min(0.0, edges[0]), *edges]
    uppers = [*edges, edges[-1]]
    return list(zip(lowers, uppers, strict=True))[:buckets]


def distribution_percentile(distribution: Any, q: float) -> float | None:
    """The q-th percentile of a Distribution, interpolated linearly inside the bucket that holds
    rank q x count (None when it counts nothing)."""
    counts = [int(c) for c in distribution.bucket_counts]
    total = sum(counts)
    if total <= 0:
        return None
    bounds = bucket_bounds(distribution.bucket_options, len(counts))
    rank = q * total
    cumulative = [0, *itertools.accumulate(counts)]
    # The first bucket whose running count reaches the rank (it holds at least one value).
    index = min(max(bisect.bisect_left(cumulative, rank) - 1, 0), len(counts) - 1)
    lower, upper = bounds[index]
    return lower + (upper - lower) * (rank - cumulative[index]) / counts[index]


def _timestamp(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


class CloudMonitoringSeries:
    """`RuntimeSeries` over the Cloud Monitoring API of the functions' project."""

    source = "cloud_monitoring"

    def __init__(self, project: str, client: Callable[[], TimeSeriesClient]) -> None:
        self._project = project
        self._new_client = client
        self._client: TimeSeriesClient | None = None

    def _series(self) -> TimeSeriesClient:
        # Created on first read: a cold start that serves no runtime figure opens no channel.
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def request(
        self,
        metric: str,
        start: dt.datetime,
        end: dt.datetime,
        aligner: Any,
        group_by: Sequence[str],
        extra_filter: str = "",
    ) -> monitoring_v3.ListTimeSeriesRequest:
        """One metric type over the window: one point per series (aligned over the whole window),
        summed server-side across the series of each group."""
        seconds = max(int((end - start).total_seconds()), 60)
        return monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{self._project}",
            filter=f'metric.type = "{metric}"{extra_filter}',
            interval=monitoring_v3.TimeInterval(
                start_time=_timestamp(start), end_time=_timestamp(end)
            ),
            aggregation=monitoring_v3.Aggregation(
                alignment_period=dt.timedelta(seconds=seconds),
                per_series_aligner=aligner,
                cross_series_reducer=Reducer.REDUCE_SUM,
                group_by_fields=list(group_by),
            ),
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
        )

    def requests(
        self, start: dt.datetime, end: dt.datetime
    ) -> dict[str, monitoring_v3.ListTimeSeriesRequest]:
        """The five calls one window costs, by what they read."""
        delta = Aligner.ALIGN_DELTA
        return {
            "requests": self.request(REQUESTS, start, end, delta, (SERVICE, CODE_CLASS)),
            "latencies": self.request(LATENCIES, start, end, delta, (SERVICE,)),
            "instances": self.request(
                INSTANCES, start, end, Aligner.ALIGN_MAX, (SERVICE,),
                ' AND metric.labels.state = "active"',
            ),
            "reads": self.request(READS, start, end, delta, ()),
            "writes": self.request(WRITES, start, end, delta, ()),
        }  # fmt: skip

    def _list(self, request: monitoring_v3.ListTimeSeriesRequest) -> list[Any]:
        try:
            answer = self._series().list_time_series(request=request, timeout=CALL_TIMEOUT_SECONDS)
            return list(answer)
        except google_errors.GoogleAPIError as error:
            raise RuntimeUnavailable(
                f"Cloud Monitoring {request.filter}: {type(error).__name__}: {error}"
            ) from error

    def read(self, start: dt.datetime, end: dt.datetime) -> RuntimeFigures:
        """Five calls: executions by status class, latencies, active instances per service, and
        the project's Firestore reads and writes."""
        answers = {name: self._list(req) for name, req in self.requests(start, end).items()}
        return parse_figures(start, end, answers)


def _number(point: Any) -> float:
    value = point.value
    kind = _which(value, "value")
    return float(value.int64_value if kind == "int64_value" else value.double_value)


def _total(series: Iterable[Any]) -> int | None:
    found = list(series)
    if not found:
        return None
    return int(sum(_number(p) for s in found for p in s.points))


def parse_figures(
    start: dt.datetime, end: dt.datetime, answers: dict[str, list[Any]]
) -> RuntimeFigures:
    """RuntimeFigures from the five answers (TimeSeries messages) of one window."""
    executions: dict[str, int] = {}
    errors: dict[str, int] = {}
    for series in answers["requests"]:
        service = series.resource.labels.get("service_name", "")
        count = int(sum(_number(p) for p in series.points))
        executions[service] = executions.get(service, 0) + count
        if series.metric.labels.get("response_code_class") == ERROR_CLASS:
            errors[service] = errors.get(service, 0) + count
    p95: dict[str, float | None] = {}
    for series in answers["latencies"]:
        service = series.resource.labels.get("service_name", "")
        if series.points:
            p95[service] = distribution_percentile(series.points[0].value.distribution_value, 0.95)
    instances: dict[str, float] = {}
    for series in answers["instances"]:
        service = series.resource.labels.get("service_name", "")
        peak = max((_number(p) for p in series.points), default=0.0)
        instances[service] = max(instances.get(service, 0.0), peak)
    names = sorted(set(executions) | set(p95) | set(instances))
    functions = [
        FunctionRuntime(
            name, executions.get(name, 0), errors.get(name, 0), p95.get(name), instances.get(name)
        )
        for name in names
    ]
    return RuntimeFigures(
        start, end, functions, _total(answers["reads"]), _total(answers["writes"])
    )
