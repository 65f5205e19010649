"""`GET /export` over its format's synchronous cap (a 202 naming the job) and
`GET /export-jobs/{jobId}` (the job, with a download link once done)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from video_monitoring.core.errors import NotFound
from video_monitoring.dashboard.auth import ADMIN_ROLES
from video_monitoring.dashboard.export_jobs import (
    JOB_ID,
    ExportJobs,
    JobRequest,
    as_seen,
    queue_job,
)
from video_monitoring.dashboard.http import Response
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import Call

JOB_PATH = "/export-jobs/{jobId}"


def status_url(job_id: str) -> str:
    """The job's URL relative to the export's own (`/api/export` -> `/api/export-jobs/{id}`,
    the function's `/export` -> its `/export-jobs/{id}`), so it holds behind any prefix."""
    return f"export-jobs/{job_id}"


def queued_response(jobs: ExportJobs, asked: JobRequest, now: dt.datetime) -> Response:
    """Queue the export as a job: 202 with `Location` and the job's id and status."""
    job = queue_job(jobs, asked, now)
    url = status_url(job.job_id)
    return Response(
        202, {"jobId": job.job_id, "status": job.status, "statusUrl": url}, {"Location": url}
    )


def check_job_id(job_id: str) -> None:
    """A job id is 32 hex digits; anything else names no job (404)."""
    if not JOB_ID.fullmatch(job_id):
        raise NotFound(f"jobId: no export job {job_id[:40]!r} (ids are 32 hex digits)")


def job(jobs: ExportJobs, call: Call) -> Prepared:
    """GET /export-jobs/{jobId}: the job, to its owner or an admin (anyone else is told there
    is no such job, so ids cannot be probed); a done job carries a download link minted now."""
    job_id, caller = call.path["jobId"], call.caller

    def run() -> dict[str, Any]:
        now = call.api.clock()
        found = jobs.store.get(job_id)
        if (
            found is None
            or caller is None
            or found.expire_at <= now
            or (found.uid != caller.uid and caller.role not in ADMIN_ROLES)
        ):
            raise NotFound(f"jobId: no export job {job_id!r} of yours (jobs expire after a while)")
        seen = as_seen(found, now)
        done = seen.status == "done"
        link = jobs.files.link(seen.object_name, seen.file_name, now) if done else None
        return seen.to_json(status_url(seen.job_id), link)

    return run
