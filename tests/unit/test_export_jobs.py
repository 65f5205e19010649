"""Background exports: a window over its format's synchronous cap is queued (202), the worker
writes exactly the file the synchronous export would, once, and the job tells its owner."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_dashboard import json_response, verifier
from tests.unit.test_export import NOW, ListSource, generation
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.errors import RateLimited
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports
from video_monitoring.dashboard.export_jobs import (
    MAX_ATTEMPTS,
    WORKER_TIMEOUT_SECONDS,
    ExportJob,
    ExportJobs,
    claimed,
    pending_count,
    run_job,
)
from video_monitoring.dashboard.http import Request, Response, StreamResponse

WINDOW = {"dataset": "generations", "window": "24h"}


class DictJobs:
    """JobStore in a dict, with the Firestore store's rules (pending bound, claim, settle)."""

    def __init__(self) -> None:
        self.jobs: dict[str, ExportJob] = {}

    def create(self, job: ExportJob, pending_max: int) -> None:
        held = pending_count((j for j in self.jobs.values() if j.uid == job.uid), job.created_at)
        if held >= pending_max:
            raise RateLimited("export: too many exports being prepared", 60)
        self.jobs[job.job_id] = job

    def get(self, job_id: str) -> ExportJob | None:
        return self.jobs.get(job_id)

    def claim(self, job_id: str, now: dt.datetime, stale_before: dt.datetime) -> ExportJob | None:
        job = self.jobs.get(job_id)
        claim = None if job is None else claimed(job, now, stale_before)
        if claim is not None:
            self.jobs[job_id] = claim
        return claim

    def settle(self, job: ExportJob) -> bool:
        held = self.jobs[job.job_id]
        if held.status != "running" or held.attempts != job.attempts:
            return False
        self.jobs[job.job_id] = job
        return True


class DictFiles:
    """FileStore in a dict; `fail_after` chunks, the next write raises as a lost bucket would."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.objects: dict[str, tuple[str, bytes]] = {}
        self.writes = 0
        self.fail_after = fail_after

    def write(self, name: str, content_type: str, chunks: Iterable[bytes]) -> int:
        self.writes += 1
        data = b""
        for i, chunk in enumerate(chunks):
            if self.fail_after is not None and i >= self.fail_after:
                raise OSError("bucket exports-test is gone")
            data += chunk
        self.objects[name] = (content_type, data)
        return len(data)

    def link(self, name: str, download_as: str, now: dt.datetime) -> str:
        return f"https://storage.test/{name}?as={download_as}&at={now:%H%M}"


def board(
    source: ListSource, jobs: ExportJobs | None, clock: FixedClock, sync_rows: int = 3
) -> Dashboard:
    store = FakeStore()
    monitor = PerformanceMonitor(store)
    exports = FileExports(source, max_rows=100, sync_rows={"csv": sync_rows, "xlsx": sync_rows})
    return Dashboard(ApiServices(
        AnalyticsEngine(store, monitor), clock, 400, verifier=verifier, exports=exports,
        jobs=jobs,
    ))  # fmt: skip


def call(dashboard: Dashboard, path: str, token: str = "tok-analytics", **params: str) -> Response:
    return json_response(dashboard.handle(Request("GET", path, params, f"Bearer {token}")))


def setup(
    rows: int = 7, files: DictFiles | None = None
) -> tuple[Dashboard, ExportJobs, FixedClock]:
    source = ListSource({"video_generation_metrics": [generation(i) for i in range(rows)]})
    jobs = ExportJobs(DictJobs(), files or DictFiles(), pending_max=2)
    clock = FixedClock(NOW)
    return board(source, jobs, clock), jobs, clock


def source_of(rows: int) -> ListSource:
    return ListSource({"video_generation_metrics": [generation(i) for i in range(rows)]})


def test_over_the_sync_cap_the_export_is_queued_and_the_worker_writes_the_same_file() -> None:
    dashboard, jobs, clock = setup(rows=7)
    queued = call(dashboard, "/export", format="csv", **WINDOW)
    assert queued.status == 202
    job_id = queued.body["jobId"]
    assert queued.body == {
        "jobId": job_id, "status": "queued", "statusUrl": f"export-jobs/{job_id}"
    }  # fmt: skip
    assert queued.headers["Location"] == f"export-jobs/{job_id}"
    assert call(dashboard, f"/export-jobs/{job_id}").body["status"] == "queued"

    clock.advance(seconds=5)
    job = run_job(jobs, job_id, source_of(7), clock)
    assert job is not None and job.status == "done" and job.rows == 7

    # The same window exported synchronously (cap raised) is the same file, byte for byte.
    sync = board(source_of(7), None, FixedClock(NOW), sync_rows=100).handle(
        Request("GET", "/export", {**WINDOW, "format": "csv"}, "Bearer tok-analytics")
    )
    assert isinstance(sync, StreamResponse)
    expected = b"".join(sync.chunks)
    files = jobs.files
    assert isinstance(files, DictFiles)
    assert files.objects[job.object_name] == ("text/csv", expected)
    assert expected.count(b"\r\n") == 8  # header and 7 rows

    answer = call(dashboard, f"/export-jobs/{job_id}").body
    assert answer["status"] == "done" and answer["rows"] == 7
    assert answer["bytes"] == len(expected)
    assert answer["fileName"] == sync.filename
    assert answer["downloadUrl"] == (
        f"https://storage.test/exports/{job_id}/{sync.filename}?as={sync.filename}&at=1200"
    )


def test_a_redelivered_event_neither_runs_nor_writes_again() -> None:
    dashboard, jobs, clock = setup()
    job_id = call(dashboard, "/export", format="xlsx", **WINDOW).body["jobId"]
    first = run_job(jobs, job_id, source_of(7), clock)
    again = run_job(jobs, job_id, source_of(7), clock)
    assert first is not None and first.status == "done"
    assert again is None
    assert isinstance(jobs.files, DictFiles) and jobs.files.writes == 1


def test_a_delivery_while_another_runs_leaves_it_and_a_dead_run_is_taken_over() -> None:
    dashboard, jobs, clock = setup()
    job_id = call(dashboard, "/export", format="csv", **WINDOW).body["jobId"]
    store = jobs.store
    assert isinstance(store, DictJobs)
    running = claimed(store.jobs[job_id], NOW, NOW - dt.timedelta(seconds=1))
    assert running is not None
    store.jobs[job_id] = running  # a first delivery holds the claim
    assert run_job(jobs, job_id, source_of(7), clock) is None  # still within its timeout
    assert call(dashboard, f"/export-jobs/{job_id}").body["status"] == "running"
    clock.advance(seconds=WORKER_TIMEOUT_SECONDS + 1)
    # Past the timeout the first run is dead: the API says so, and a delivery takes it over.
    seen = call(dashboard, f"/export-jobs/{job_id}").body
    assert seen["status"] == "failed" and "stopped without finishing" in seen["error"]
    job = run_job(jobs, job_id, source_of(7), clock)
    assert job is not None and (job.status, job.attempts) == ("done", 2)
    # The first run, finishing late, cannot overwrite the outcome.
    assert store.settle(dataclasses.replace(running, status="failed", error="late")) is False
    assert store.jobs[job_id].status == "done"


def test_a_job_whose_runs_keep_dying_gives_up() -> None:
    job = ExportJob(
        "a" * 32, "u", "analytics", "generations", "csv", NOW, NOW, None, NOW, NOW, 5,
        status="running", started_at=NOW, attempts=MAX_ATTEMPTS,
    )  # fmt: skip
    late = NOW + dt.timedelta(seconds=WORKER_TIMEOUT_SECONDS + 1)
    given_up = claimed(job, late, late - dt.timedelta(seconds=WORKER_TIMEOUT_SECONDS))
    assert given_up is not None and given_up.status == "failed"
    assert f"gave up after {MAX_ATTEMPTS} attempts" in (given_up.error or "")


def test_a_failing_worker_marks_the_job_failed_with_its_reason() -> None:
    dashboard, jobs, clock = setup(rows=50, files=DictFiles(fail_after=0))
    job_id = call(dashboard, "/export", format="csv", **WINDOW).body["jobId"]
    job = run_job(jobs, job_id, source_of(50), clock)
    assert job is not None and job.status == "failed"
    answer = call(dashboard, f"/export-jobs/{job_id}").body
    assert answer["status"] == "failed"
    assert answer["error"] == "OSError: bucket exports-test is gone"
    assert "downloadUrl" not in answer


def test_only_the_owner_or_an_admin_sees_a_job() -> None:
    dashboard, jobs, clock = setup()
    job_id = call(dashboard, "/export", format="csv", **WINDOW).body["jobId"]
    assert call(dashboard, f"/export-jobs/{job_id}", token="tok-admin").status == 200
    other = dashboard.handle(Request("GET", f"/export-jobs/{job_id}", {}, "Bearer tok-user"))
    assert json_response(other).status == 403  # no role at all
    store = jobs.store
    assert isinstance(store, DictJobs)
    store.jobs[job_id] = dataclasses.replace(store.jobs[job_id], uid="someone-else")
    assert call(dashboard, f"/export-jobs/{job_id}").status == 404
    assert call(dashboard, f"/export-jobs/{job_id}", token="tok-admin").status == 200
    missing = call(dashboard, "/export-jobs/" + "0" * 32)
    assert missing.status == 404 and "jobId" in missing.body["error"]["message"]
    extra = call(dashboard, f"/export-jobs/{job_id}", colour="red")
    assert extra.status == 400 and extra.body["error"]["message"].startswith("colour:")
    bad = call(dashboard, "/export-jobs/not-a-job%0A")
    assert bad.status == 404 and bad.body["error"]["message"].startswith("jobId:")
    clock.advance(days=8)  # past the job's lifetime
    assert call(dashboard, f"/export-jobs/{job_id}", token="tok-admin").status == 404


def test_a_caller_holds_a_bounded_number_of_pending_jobs() -> None:
    dashboard, jobs, _ = setup()
    for _ in range(2):
        assert call(dashboard, "/export", format="csv", **WINDOW).status == 202
    refused = call(dashboard, "/export", format="csv", **WINDOW)
    assert refused.status == 429 and refused.headers["Retry-After"] == "60"
    assert call(dashboard, "/export", format="csv", token="tok-admin", **WINDOW).status == 202
    store = jobs.store
    assert isinstance(store, DictJobs)
    assert len(store.jobs) == 3
    # Under the sync cap, the file still comes in the response.
    small = dashboard.handle(
        Request("GET", "/export", {**WINDOW, "format": "ndjson"}, "Bearer tok-analytics")
    )
    assert isinstance(small, StreamResponse)


@pytest.mark.parametrize("jobs", [True, False])
def test_over_the_hard_cap_is_still_a_400(jobs: bool) -> None:
    source = source_of(101)
    queue = ExportJobs(DictJobs(), DictFiles()) if jobs else None
    answer = call(board(source, queue, FixedClock(NOW)), "/export", format="csv", **WINDOW)
    assert answer.status == 400 and "export cap of 100" in answer.body["error"]["message"]
