"""`GET /export` over its format's synchronous cap (a 202 naming the job) and
`GET /export-jobs/{jobId}` (the job, with a download link once done)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.core.models import Window
from video_monitoring.dashboard.auth import ADMIN_ROLES, READ_ROLES, Caller, require
from video_monitoring.dashboard.export_jobs import JOB_ID, ExportJobs, as_seen, queue_job
from video_monitoring.dashboard.http import Response
from video_monitoring.dashboard.routes import Admit

JOB_PATH = "/export-jobs/{jobId}"


def status_url(job_id: str) -> str:
    """The job's URL relative to the export's own (`/api/export` -> `/api/export-jobs/{id}`,
    the function's `/export` -> its `/export-jobs/{id}`), so it holds behind any prefix."""
    return f"export-jobs/{job_id}"


def queued_response(
    jobs: ExportJobs, caller: Caller, dataset: str, fmt: str, window: Window, rows: int,
    now: dt.datetime,
) -> Response:  # fmt: skip
    """Queue the export as a job: 202 with `Location` and the job's id and status."""
    job = queue_job(jobs, caller.uid, caller.role, dataset, fmt, window, rows, now)
    url = status_url(job.job_id)
    return Response(
        202, {"jobId": job.job_id, "status": job.status, "statusUrl": url}, {"Location": url}
    )


def job_response(
    jobs: ExportJobs, caller: Caller, rest: Sequence[str], params: Mapping[str, str],
    admit: Admit, now: dt.datetime,
) -> Response:  # fmt: skip
    """The job, to its owner or an admin (anyone else is told there is no such job, so ids
    cannot be probed); a done job carries a download link minted now."""
    require(caller, READ_ROLES)
    job_id = rest[0]
    if not JOB_ID.fullmatch(job_id):
        raise NotFound(f"jobId: no export job {job_id[:40]!r} (ids are 32 hex digits)")
    if params:
        name = sorted(params)[0][:40]
        raise InvalidArgument(f"{name}: unknown parameter; {JOB_PATH} takes none")
    admit()
    job = jobs.store.get(job_id)
    if (
        job is None
        or job.expire_at <= now
        or (job.uid != caller.uid and caller.role not in ADMIN_ROLES)
    ):
        raise NotFound(f"jobId: no export job {job_id!r} of yours (jobs expire after a while)")
    job = as_seen(job, now)
    link = jobs.files.link(job.object_name, job.file_name, now) if job.status == "done" else None
    return Response(200, job.to_json(status_url(job.job_id), link))
