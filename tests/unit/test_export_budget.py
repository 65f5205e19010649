"""/export within the request's time: a per-format row cap, and a deadline that ends a file
built whole with an error response, never a 200 with a cut file."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from tests.unit.fakes import FakeStore
from tests.unit.test_dashboard import json_response, verifier
from tests.unit.test_export import NOW, ListSource, generation
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports
from video_monitoring.dashboard.http import Request, StreamResponse


class SteppingClock:
    """A clock that moves `step` forward each time it is read (work that takes time)."""

    def __init__(self, now: dt.datetime, step: dt.timedelta) -> None:
        self.now = now
        self.step = step
        self.reads = 0

    def __call__(self) -> dt.datetime:
        self.reads += 1
        self.now += self.step
        return self.now


def board(rows: int, clock: SteppingClock, sync_rows: dict[str, int]) -> Dashboard:
    source = ListSource({"video_generation_metrics": [generation(i) for i in range(rows)]})
    store = FakeStore()
    monitor = PerformanceMonitor(store)
    exports = FileExports(
        source, max_rows=10_000, sync_rows=sync_rows, deadline=dt.timedelta(seconds=50)
    )
    return Dashboard(
        ApiServices(AnalyticsEngine(store, monitor), clock, 400, verifier=verifier, exports=exports)
    )


def get(dashboard: Dashboard, fmt: str) -> StreamResponse | tuple[int, dict[str, object]]:
    params = {"dataset": "generations", "format": fmt, "window": "7d"}
    response = dashboard.handle(Request("GET", "/export", params, "Bearer tok-analytics"))
    if isinstance(response, StreamResponse):
        return response
    answer = json_response(response)
    return answer.status, answer.body


def test_each_format_answers_at_most_its_own_synchronous_cap() -> None:
    clock = SteppingClock(NOW, dt.timedelta(0))
    dashboard = board(120, clock, {"xlsx": 100, "pdf": 50})
    refused = get(dashboard, "xlsx")
    assert isinstance(refused, tuple)
    status, body = refused
    assert status == 400
    assert body["error"]["message"].startswith(  # type: ignore[index]
        "from: the window holds 120 generations rows, more than a xlsx export encodes within "
        "the request's deadline (100 rows)"
    )
    csv = get(dashboard, "csv")  # no cap of its own: the export cap (10,000) holds
    assert isinstance(csv, StreamResponse)
    assert b"".join(csv.chunks).decode().count("\r\n") == 121
    cap = get(board(100, clock, {"xlsx": 100}), "xlsx")  # exactly the cap is served whole
    assert isinstance(cap, StreamResponse)
    sheet = load_workbook(io.BytesIO(b"".join(cap.chunks)), read_only=True).worksheets[0]
    assert sum(1 for _ in sheet.iter_rows()) == 101


def test_a_file_built_whole_that_misses_the_deadline_is_an_error_not_a_cut_200() -> None:
    # Each clock read is a second of work: a 50 s deadline ends the xlsx part way through.
    clock = SteppingClock(NOW, dt.timedelta(seconds=1))
    answer = get(board(200, clock, {}), "xlsx")
    assert isinstance(answer, tuple), "an xlsx past its deadline must not start a 200"
    status, body = answer
    assert status == 503
    error = body["error"]
    assert error["code"] == "deadline-exceeded"  # type: ignore[index]
    assert error["message"].startswith("from: the xlsx export stopped after ")  # type: ignore[index]


def test_a_file_within_the_deadline_is_whole() -> None:
    clock = SteppingClock(NOW, dt.timedelta(milliseconds=10))
    answer = get(board(200, clock, {}), "xlsx")
    assert isinstance(answer, StreamResponse)
    sheet = load_workbook(io.BytesIO(b"".join(answer.chunks)), read_only=True).worksheets[0]
    assert sum(1 for _ in sheet.iter_rows()) == 201


def test_the_configured_caps_follow_the_measured_rates_and_the_export_cap() -> None:
    caps = DashboardSettings().sync_export_caps()
    assert set(caps) == {"csv", "ndjson", "json", "xlsx", "pdf"}
    # Read and encoded, xlsx goes at about a third of the text formats' rate
    # (bench/export_bench.py --from-firestore), and no format's cap passes the export cap.
    assert caps["xlsx"] * 2 <= min(caps["csv"], caps["ndjson"], caps["json"], caps["pdf"])
    assert max(caps.values()) <= DashboardSettings().export_max_rows
    assert DashboardSettings(export_max_rows=500).sync_export_caps()["csv"] == 500
