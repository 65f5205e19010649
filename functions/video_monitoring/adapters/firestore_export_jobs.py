"""Background export jobs on Firestore (`export_jobs/{jobId}`), each change in a transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.api_core.exceptions import Aborted
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.adapters._firestore import FirestoreAdapter
from video_monitoring.config import constants
from video_monitoring.core.errors import RateLimited
from video_monitoring.dashboard.export_jobs import PENDING, ExportJob, claimed, pending_count

# A refused job is asked to come back after this: a job takes about a minute to write.
PENDING_RETRY_SECONDS = 60


class FirestoreJobStore(FirestoreAdapter):
    """JobStore on Firestore. Creating a job reads the caller's pending jobs (equality
    filters, served by single-field indexes; as many as EXPORT_JOBS_PENDING_MAX, plus any whose
    deliveries were lost, until their TTL) and writes one document; a claim and a settle read
    and write the job's document once each."""

    def _ref(self, job_id: str) -> Any:
        return self.client.collection(constants.EXPORT_JOBS).document(job_id)

    def create(self, job: ExportJob, pending_max: int) -> None:
        """Store the job unless the caller holds pending_max pending jobs (RateLimited)."""
        client = self.client
        pending = (
            client.collection(constants.EXPORT_JOBS)
            .where(filter=FieldFilter("uid", "==", job.uid))
            .where(filter=FieldFilter("status", "in", list(PENDING)))
        )
        held: list[int] = [0]

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            held[0] = pending_count(
                (ExportJob.from_doc(s.id, s.to_dict() or {}) for s in transaction.get(pending)),
                job.created_at,
            )
            if held[0] < pending_max:
                transaction.create(self._ref(job.job_id), job.to_doc())

        run(client.transaction(max_attempts=10))
        if held[0] >= pending_max:
            raise RateLimited(
                f"export: you have {held[0]} exports being prepared, the most one user may "
                f"hold; retry when one is done (GET /export-jobs/{{jobId}})",
                PENDING_RETRY_SECONDS,
            )

    def get(self, job_id: str) -> ExportJob | None:
        """The job, or None."""
        snap = self._ref(job_id).get()
        return ExportJob.from_doc(job_id, snap.to_dict()) if snap.exists else None

    def claim(self, job_id: str, now: dt.datetime, stale_before: dt.datetime) -> ExportJob | None:
        """Queued (or stale running) -> running, one more attempt; None when not claimable."""
        client = self.client
        ref = self._ref(job_id)
        outcome: list[ExportJob | None] = [None]

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            outcome[0] = None
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                return
            claim = claimed(ExportJob.from_doc(job_id, snap.to_dict()), now, stale_before)
            if claim is not None:
                doc = claim.to_doc()
                transaction.update(ref, {k: doc[k] for k in CLAIM_FIELDS})
            outcome[0] = claim

        try:
            run(client.transaction(max_attempts=10))
        except Aborted:
            return None  # another delivery kept the document busy: it holds the claim
        return outcome[0]

    def settle(self, job: ExportJob) -> bool:
        """The outcome, written only while the job is still this attempt's."""
        client = self.client
        ref = self._ref(job.job_id)
        written = [False]

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            snap = ref.get(transaction=transaction)
            data = snap.to_dict() if snap.exists else None
            written[0] = bool(
                data and data.get("status") == "running" and data.get("attempts") == job.attempts
            )
            if written[0]:
                doc = job.to_doc()
                transaction.update(ref, {k: doc[k] for k in FINAL_FIELDS})

        run(client.transaction(max_attempts=10))
        return written[0]


FINAL_FIELDS = ("status", "rows", "bytes", "error", "finishedAt")
CLAIM_FIELDS = ("status", "startedAt", "attempts", "error", "finishedAt")
