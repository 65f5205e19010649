"""Background export rate per format: the worker's whole run (trigger delivery, claim, Firestore
pages, encoding, resumable upload, settle) on the local stack's functions host over the Firestore
and Cloud Storage emulators, and the row cap it implies for one run within the worker's timeout.

The job is created as the API creates it; the host's `run_export_job` trigger does the work. The
CPU time is the host process's own (read from /proc before and after; the host does nothing else,
its schedules are off), the wall time from the job's creation to its `finishedAt`. The cap one
run can hold is

    rows per CPU second x WORKER_TIMEOUT_SECONDS x VCPU / MARGIN,

with VCPU = 0.583 (a 1 GiB gen2 instance's share of a core) and MARGIN = 2 (half the timeout
left for slower pages and a cold start). Every format's cap above EXPORT_MAX_ROWS means the hard
cap, not the timeout, bounds background exports.

    .venv/bin/python bench/export_job_bench.py --rows 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from google.cloud import firestore

from benchlib import bench_stack
from local_stack.ports import Port, free_ports
from local_stack.stack import LocalStack
from local_stack.storage_emulator import start_storage_emulator
from video_monitoring.adapters.cloud_storage import CloudStorageFiles
from video_monitoring.adapters.firestore_export_jobs import FirestoreJobStore
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.core.models import Window
from video_monitoring.dashboard.export_jobs import (
    WORKER_TIMEOUT_SECONDS,
    ExportJobs,
    JobRequest,
    queue_job,
)

PROJECT = "demo-export-jobs-bench"
VCPU = 0.583
MARGIN = 2
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def metric(i: int) -> dict[str, object]:
    """A generation's metrics record (the widest exported dataset)."""
    created = START + dt.timedelta(seconds=i)
    return {
        "generationId": f"g{i:07d}", "userId": f"user-{i % 5000}", "provider": "runway",
        "model": "gen-3", "status": "completed", "userTier": "free", "createdAt": created,
        "startedAt": created, "completedAt": created + dt.timedelta(seconds=61),
        "generationSeconds": 61.0, "queueSeconds": 1.5, "renderSeconds": 59.5, "attempts": 1,
        "costUsd": 0.42, "qualityScore": 8.5, "userRating": 4, "outputSeconds": 12.0,
        "features": ["custom_avatar"], "errorCode": None, "resolution": "1080p",
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Load the rows, run one job per format, print rates and caps."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--formats", default="csv,ndjson,json,xlsx,pdf")
    args = parser.parse_args(argv)
    firestore_port, functions_port, storage_port = free_ports(3)
    with tempfile.TemporaryDirectory(prefix="export-job-bench-") as logs:
        storage = start_storage_emulator(Port(storage_port, "storage", "free"), Path(logs))
        os.environ.update(storage.env())
        try:
            env = {"BIGQUERY_ENABLED": "false", **storage.env()}
            with bench_stack(PROJECT, firestore_port, functions_port, Path(logs), env) as (
                stack,
                db,
            ):
                return run(args, stack, db, storage.bucket)
        finally:
            storage.stop()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args: argparse.Namespace, stack: LocalStack, client: firestore.Client, bucket: str) -> int:
    """The measurements, on a loaded emulator."""
    batch = client.batch()
    for i in range(args.rows):
        batch.set(client.collection("video_generation_metrics").document(f"g{i:07d}"), metric(i))
        if i % 400 == 399:
            batch.commit()
            batch = client.batch()
    batch.commit()
    window = Window(start=START, end=START + dt.timedelta(seconds=args.rows))
    store = FirestoreJobStore(client)
    jobs = ExportJobs(store, CloudStorageFiles(bucket, PROJECT, 15), pending_max=100)
    host = stack.host_process.pid
    hard_cap = DashboardSettings().export_max_rows
    print(f"background export of {args.rows:,} generation rows (the host's trigger, emulators)")
    print(f"{'format':8} {'rows/CPU-s':>11} {'rows/s wall':>12} {'bytes/row':>10} {'cap/run':>10}")
    for fmt in args.formats.split(","):
        cpu = cpu_seconds(host)
        now = dt.datetime.now(dt.UTC)
        job = queue_job(
            jobs, JobRequest("bench", "admin", "generations", fmt, window, args.rows), now
        )
        deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
        while (done := store.get(job.job_id)) is None or done.status in ("queued", "running"):
            assert time.monotonic() < deadline, f"{fmt}: not done within the worker's timeout"
            time.sleep(0.2)
        cpu = cpu_seconds(host) - cpu
        assert done.status == "done" and done.rows == args.rows, done
        wall = ((done.finished_at or now) - now).total_seconds()
        per_cpu = args.rows / cpu
        cap = int(per_cpu * WORKER_TIMEOUT_SECONDS * VCPU / MARGIN)
        print(
            f"{fmt:8} {per_cpu:11,.0f} {args.rows / wall:12,.0f} "
            f"{(done.bytes or 0) / args.rows:10.1f} {cap:10,}"
        )
    print(f"EXPORT_MAX_ROWS (the hard cap of both paths): {hard_cap:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
