"""Background exports: a window a format cannot encode within a request becomes a job that a
worker writes to Cloud Storage, and the console downloads through a short-lived link.

The job is one document, `export_jobs/{jobId}` (docs/exports.md). The worker runs on the
document's creation event, which may be delivered more than once: it first claims the job in a
transaction (`queued` -> `running`), so a second delivery of a claimed, done or failed job does
nothing; a claim older than the worker's timeout is taken over (its instance died). The object
name is fixed by the job, so even a taken-over run replaces the file rather than adding one.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, Protocol

from video_monitoring.core.clock import Clock
from video_monitoring.core.models import Window
from video_monitoring.dashboard.files import (
    DATASETS,
    FORMATS,
    ExportSource,
    counting,
    export_chunks,
    file_name,
)
from video_monitoring.dashboard.report import ReportFigures

log = logging.getLogger(__name__)
# 128 random bits as hex: unguessable, and the only id shape a path may name.
JOB_ID = re.compile(r"[0-9a-f]{32}")
JobStatus = Literal["queued", "running", "done", "failed"]
PENDING: tuple[JobStatus, ...] = ("queued", "running")
MAX_ERROR = 300  # characters of a failure's reason kept on the job
# The worker's timeout (runtime/deploy.py): the longest an event-triggered function may run.
WORKER_TIMEOUT_SECONDS = 540
# Runs that may claim one job: a delivery arriving after a run's timeout takes its claim over
# (that run died); a job whose runs keep dying gives up as failed.
MAX_ATTEMPTS = 3
# A pending job older than every attempt could take no longer counts against its caller's
# pending jobs (its deliveries were lost); its TTL removes it.
PENDING_LIFETIME = dt.timedelta(seconds=WORKER_TIMEOUT_SECONDS * MAX_ATTEMPTS + 600)


def new_job_id() -> str:
    """A fresh job id (JOB_ID)."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class ExportJob:
    """One background export: who asked for what, and how far it got."""

    job_id: str
    uid: str
    role: str | None
    dataset: str
    format: str
    start: dt.datetime
    end: dt.datetime
    provider: str | None
    created_at: dt.datetime
    expire_at: dt.datetime
    rows: int  # counted when asked; once done, the rows the file holds
    status: JobStatus = "queued"
    bytes: int | None = None
    error: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    attempts: int = 0

    @property
    def window(self) -> Window:
        """The exported window."""
        return Window(start=self.start, end=self.end, provider=self.provider)

    @property
    def file_name(self) -> str:
        """The name the downloaded file gets (as a synchronous export names it)."""
        return file_name(DATASETS[self.dataset], self.format, self.window)

    @property
    def object_name(self) -> str:
        """Where the file lives in the bucket: one object per job, whatever runs wrote it."""
        return f"exports/{self.job_id}/{self.file_name}"

    def to_doc(self) -> dict[str, Any]:
        """The Firestore document (`expireAt` is its TTL field)."""
        doc = asdict(self)
        doc.pop("job_id")
        return {
            "uid": doc.pop("uid"), "role": doc.pop("role"), "dataset": doc.pop("dataset"),
            "format": doc.pop("format"), "from": doc.pop("start"), "to": doc.pop("end"),
            "provider": doc.pop("provider"), "createdAt": doc.pop("created_at"),
            "expireAt": doc.pop("expire_at"), "startedAt": doc.pop("started_at"),
            "finishedAt": doc.pop("finished_at"), "objectName": self.object_name, **doc,
        }  # fmt: skip

    @classmethod
    def from_doc(cls, job_id: str, doc: Mapping[str, Any]) -> ExportJob:
        """The job a document holds."""
        return cls(
            job_id, doc["uid"], doc.get("role"), doc["dataset"], doc["format"], doc["from"],
            doc["to"], doc.get("provider"), doc["createdAt"], doc["expireAt"], int(doc["rows"]),
            doc["status"], doc.get("bytes"), doc.get("error"), doc.get("startedAt"),
            doc.get("finishedAt"), int(doc.get("attempts") or 0),
        )  # fmt: skip

    def to_json(self, status_url: str, download_url: str | None) -> dict[str, Any]:
        """The API form (openapi.yaml ExportJob)."""
        body: dict[str, Any] = {
            "jobId": self.job_id, "status": self.status, "statusUrl": status_url,
            "dataset": self.dataset, "format": self.format,
            "window": self.window.to_json(), "provider": self.provider, "rows": self.rows,
            "bytes": self.bytes, "error": self.error, "fileName": self.file_name,
            "createdAt": self.created_at, "startedAt": self.started_at,
            "finishedAt": self.finished_at, "expiresAt": self.expire_at,
        }  # fmt: skip
        if download_url is not None:
            body["downloadUrl"] = download_url
        return body


def claimed(job: ExportJob, now: dt.datetime, stale_before: dt.datetime) -> ExportJob | None:
    """A delivery's claim on the job: running with one more attempt when it is queued, or
    running since before `stale_before` (its run died); failed when the attempts are spent;
    None (nothing to do) for a job another delivery runs, or one that is finished."""
    stale = job.status == "running" and (job.started_at or now) < stale_before
    if job.status != "queued" and not stale:
        return None
    if job.attempts >= MAX_ATTEMPTS:
        reason = f"gave up after {job.attempts} attempts that did not finish; narrow the window"
        return replace(job, status="failed", error=reason, finished_at=now)
    return replace(job, status="running", started_at=now, attempts=job.attempts + 1)


def as_seen(job: ExportJob, now: dt.datetime) -> ExportJob:
    """The job as the API shows it: one still running past the worker's timeout has died
    (the platform stopped it, or its instance crashed) and is shown failed with that reason."""
    if job.status == "running" and (job.started_at or now) < now - dt.timedelta(
        seconds=WORKER_TIMEOUT_SECONDS
    ):
        reason = (
            f"the export stopped without finishing (its run exceeded "
            f"{WORKER_TIMEOUT_SECONDS} s or crashed); narrow the window or try again"
        )
        return replace(job, status="failed", error=reason)
    return job


def pending_count(jobs: Iterable[ExportJob], now: dt.datetime) -> int:
    """The caller's jobs that count against EXPORT_JOBS_PENDING_MAX: queued or running, and
    young enough to still be worked on."""
    return sum(1 for j in jobs if j.status in PENDING and j.created_at > now - PENDING_LIFETIME)


class JobStore(Protocol):
    """Where jobs live (Firestore in production, a dict in unit tests)."""

    def create(self, job: ExportJob, pending_max: int) -> None:
        """Store a new job, unless its caller already holds `pending_max` queued or running
        jobs (then RateLimited, storing nothing); one transaction."""
        ...

    def get(self, job_id: str) -> ExportJob | None:
        """The job, or None."""
        ...

    def claim(self, job_id: str, now: dt.datetime, stale_before: dt.datetime) -> ExportJob | None:
        """In one transaction, the job's `claimed` state written and returned (None: absent
        or nothing to claim, and nothing written)."""
        ...

    def settle(self, job: ExportJob) -> bool:
        """Write a claimed job's outcome, only while it is still this attempt's (a run that
        was taken over keeps quiet); whether it was written."""
        ...


class FileStore(Protocol):
    """Where files go (a Cloud Storage bucket; a dict in unit tests)."""

    def write(self, name: str, content_type: str, chunks: Iterable[bytes]) -> int:
        """Write the object from the chunks, replacing any; the bytes written. The object
        appears only once complete."""
        ...

    def link(self, name: str, download_as: str, now: dt.datetime) -> str:
        """A URL that downloads the object as `download_as`, valid for a short while."""
        ...


@dataclass(frozen=True)
class ExportJobs:
    """What background exports need: the jobs, the bucket, and their limits."""

    store: JobStore
    files: FileStore
    pending_max: int = 3
    keep: dt.timedelta = dt.timedelta(days=7)


@dataclass(frozen=True)
class JobRequest:
    """What a caller asked to export: who (uid, role), the dataset, format and window, and the
    rows the window held when asked."""

    uid: str
    role: str | None
    dataset: str
    fmt: str
    window: Window
    rows: int


def queue_job(jobs: ExportJobs, asked: JobRequest, now: dt.datetime) -> ExportJob:
    """A new queued job for the caller (RateLimited when they hold too many pending)."""
    window = asked.window
    job = ExportJob(
        new_job_id(), asked.uid, asked.role, asked.dataset, asked.fmt, window.start, window.end,
        window.provider, now, now + jobs.keep, asked.rows,
    )  # fmt: skip
    jobs.store.create(job, jobs.pending_max)
    return job


def counted(chunks: Iterator[bytes], sink: list[int]) -> Iterator[bytes]:
    """The chunks, adding each one's length to sink[0]."""
    for chunk in chunks:
        sink[0] += len(chunk)
        yield chunk


def run_job(
    jobs: ExportJobs,
    job_id: str,
    source: ExportSource,
    clock: Clock,
    figures: Callable[[Window], ReportFigures] | None = None,
) -> ExportJob | None:
    """Claim the job and write its file; the settled job (failed without a run when its
    attempts are spent), or None when there was nothing to claim (another delivery runs it,
    or it is finished). A failure settles the job `failed` with
    its reason instead of raising: a retry would fail the same way, and the console shows it."""
    now = clock()
    job = jobs.store.claim(job_id, now, now - dt.timedelta(seconds=WORKER_TIMEOUT_SECONDS))
    if job is None or job.status != "running":
        log.info("export job %s: %s", job_id, "nothing to claim" if job is None else job.error)
        return job
    rows = [0]
    try:
        if job.dataset not in DATASETS or job.format not in FORMATS:
            raise ValueError(f"unknown dataset {job.dataset!r} or format {job.format!r}")
        dataset = DATASETS[job.dataset]
        report = figures(job.window) if figures is not None and job.format == "pdf" else None
        count = functools.partial(counting, counter=rows)
        chunks = export_chunks(source, dataset, job.format, job.window, report, guard=count)
        size = jobs.files.write(job.object_name, FORMATS[job.format], chunks)
        settled = replace(job, status="done", rows=rows[0], bytes=size, finished_at=clock())
    except Exception as error:
        log.exception("export job %s failed after %d rows", job_id, rows[0])
        reason = f"{type(error).__name__}: {error}"[:MAX_ERROR]
        settled = replace(job, status="failed", error=reason, finished_at=clock())
    if not jobs.store.settle(settled):
        log.warning("export job %s was taken over by a later attempt", job_id)
    return settled
