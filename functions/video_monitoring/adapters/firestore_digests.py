"""Digests on Firestore: subscriptions, one delivery record per period and recipient (claimed
in a transaction with a lease), and the provider control changes the audit log holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from video_monitoring.adapters._firestore import FirestoreAdapter
from video_monitoring.analytics.digest_content import PeriodKind
from video_monitoring.analytics.digest_service import MAX_ATTEMPTS, Recipient
from video_monitoring.config import constants

CONTROL_EVENTS = ("provider.provider_paused", "provider.provider_probing",
                  "provider.provider_restored", "provider.provider_pause_blocked")  # fmt: skip


class FirestoreDigestStore(FirestoreAdapter):
    """DigestStore on Firestore, and the subscriptions the API edits."""

    def subscribers(self, kind: PeriodKind) -> list[Recipient]:
        """Users who opted in to `kind` (single-field index on the flag)."""
        query = self.client.collection(constants.DIGEST_SUBSCRIPTIONS).where(
            filter=FieldFilter(kind, "==", True)
        )
        found = []
        for snap in query.stream():
            email = (snap.to_dict() or {}).get("email")
            if email:
                found.append(Recipient(snap.id, "email", str(email)))
        return sorted(found, key=lambda r: r.key)

    def subscription(self, uid: str) -> dict[str, Any] | None:
        """One user's subscription."""
        snap = self.client.collection(constants.DIGEST_SUBSCRIPTIONS).document(uid).get()
        return snap.to_dict() if snap.exists else None

    def subscribe(
        self, uid: str, email: str, choice: Mapping[PeriodKind, bool], now: dt.datetime
    ) -> None:
        """Set one user's choice."""
        self.client.collection(constants.DIGEST_SUBSCRIPTIONS).document(uid).set(
            {"email": email, **choice, "updatedAt": now}
        )

    def claim(self, period: str, recipient: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Take the delivery unless it was sent, given up, or is leased by another run."""
        ref = self.client.collection(constants.DIGEST_DELIVERIES).document(f"{period}__{recipient}")
        taken = [False]

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            snap = ref.get(transaction=transaction)
            data: dict[str, Any] = (snap.to_dict() or {}) if snap.exists else {}
            status, attempts = data.get("status"), int(data.get("attempts") or 0)
            leased = status == "sending" and data.get("leaseUntil") and data["leaseUntil"] > now
            if status in ("sent", "skipped") or leased or attempts >= MAX_ATTEMPTS:
                taken[0] = False
                return
            transaction.set(ref, {
                "period": period, "recipient": recipient, "status": "sending",
                "attempts": attempts + 1, "leaseUntil": now + lease, "claimedAt": now,
                "sentAt": None, "error": data.get("error"),
            })  # fmt: skip
            taken[0] = True

        run(self.client.transaction())
        return taken[0]

    def finish(self, period: str, recipient: str, now: dt.datetime, error: str | None) -> None:
        """Sent, or failed (a later run retries)."""
        ref = self.client.collection(constants.DIGEST_DELIVERIES).document(f"{period}__{recipient}")
        update: dict[str, Any] = {"status": "sent" if error is None else "failed", "error": error,
                                  "leaseUntil": None}  # fmt: skip
        if error is None:
            update["sentAt"] = now
        ref.update(update)

    def skip(self, period: str, recipient: str, now: dt.datetime, reason: str) -> None:
        """Not sent, for good this period: the reason (the recipient's account no longer
        qualifies)."""
        ref = self.client.collection(constants.DIGEST_DELIVERIES).document(f"{period}__{recipient}")
        ref.update({"status": "skipped", "reason": reason, "leaseUntil": None, "skippedAt": now})

    def unsubscribe(self, uid: str) -> None:
        """Delete the user's digest subscription (none left is fine)."""
        self.client.collection(constants.DIGEST_SUBSCRIPTIONS).document(uid).delete()

    def control_changes(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """The rules' and admins' provider control changes (audit_log, by time)."""
        query = (
            self.client.collection(constants.AUDIT_LOG)
            .where(filter=FieldFilter("action", "in", list(CONTROL_EVENTS)))
            .where(filter=FieldFilter("at", ">=", start))
            .where(filter=FieldFilter("at", "<", end))
            .order_by("at")
        )
        changes = []
        for snap in query.stream():
            doc = snap.to_dict() or {}
            after = (doc.get("details") or {}).get("after") or {}
            text = (f"{doc.get('target')}: {after.get('state')} (weight "
                    f"{float(after.get('weight', 1)):g}): {after.get('reason', '')}")  # fmt: skip
            changes.append({"at": doc.get("at"), "provider": doc.get("target"),
                            "by": doc.get("uid"), "text": text})  # fmt: skip
        return changes
