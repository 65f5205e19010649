"""Firestore adapter of the alerting service: rules, states, instances and the notification outbox.

Every change to one (rule, scope) runs in one Firestore transaction that re-reads its state and
open instance, recomputes the transition and writes state, instance and the notifications it
owes together (the outbox). Delivery happens afterwards from the outbox: each message is claimed
with a precondition on its document's update time, so two overlapping runs never send it twice,
and a message whose channel failed stays due until it is delivered or its attempts run out.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from pydantic import ValidationError

from video_monitoring.adapters._firestore import FirestoreAdapter, configured_retention, counted
from video_monitoring.alerting.alert_store import (
    Compute,
    Delivery,
    FigurePoint,
    OutboxEntry,
    outbox_docs,
)
from video_monitoring.alerting.backtest import StoredRun, stored_run
from video_monitoring.alerting.controls import Change, ProviderControl
from video_monitoring.alerting.metrics import system_metrics_id
from video_monitoring.alerting.records import AlertState, Instance, Transition
from video_monitoring.alerting.rules import SCOPE_KINDS, AlertRule
from video_monitoring.config import constants
from video_monitoring.privacy.retention import EXPIRE_FIELD

log = logging.getLogger(__name__)


class FirestoreAlertStore(FirestoreAdapter):
    """AlertStore on Firestore."""

    def __init__(self, client: firestore.Client | None = None) -> None:
        super().__init__(client)
        # The outbox messages this store claimed and has not finished: the claim's update time.
        self._claims: dict[str, dt.datetime] = {}

    def seed_rules(self, rules: Iterable[AlertRule]) -> list[str]:
        """create() fails on an existing document, so edited rules are never overwritten; a
        default nobody edited (still marked `seeded`) is brought up to the current default, with
        a precondition on the version read so an edit in between wins."""
        changed = []
        for rule in rules:
            ref = self.client.collection(constants.ALERT_RULES).document(rule.rule_id)
            doc = {**rule.to_doc(), "seeded": True}
            try:
                ref.create(doc)
                changed.append(rule.rule_id)
                continue
            except AlreadyExists:
                pass
            if self._refresh_default(ref, doc):
                changed.append(rule.rule_id)
        return changed

    def _refresh_default(self, ref: firestore.DocumentReference, doc: dict[str, Any]) -> bool:
        """In one transaction: replace a still-seeded rule that differs from `doc`."""

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> bool:
            stored = ref.get(transaction=transaction).to_dict() or {}
            if stored.get("seeded") is not True or stored == doc:
                return False
            transaction.set(ref, doc)
            return True

        return bool(run(self.client.transaction()))

    def load_rules(self) -> tuple[list[AlertRule], list[str]]:
        """Every rule; a stored rule that no longer validates is reported, not fatal."""
        rules, problems = [], []
        for snap in counted("alert_reads", self.client.collection(constants.ALERT_RULES).stream()):
            try:
                rules.append(_rule_from(snap.to_dict() or {}, snap.id))
            except ValidationError as error:
                problems.append(f"{snap.id}: {error.errors()[0]['msg']}")
        return rules, problems

    def get_rule(self, rule_id: str) -> AlertRule | None:
        """One rule, None when missing."""
        snap = self.client.collection(constants.ALERT_RULES).document(rule_id).get()
        return _rule_from(snap.to_dict() or {}, snap.id) if snap.exists else None

    def put_rule(self, rule: AlertRule, by: str, now: dt.datetime) -> None:
        """Replace a rule, stamped with who changed it."""
        self.client.collection(constants.ALERT_RULES).document(rule.rule_id).set(
            {**rule.to_doc(), "updatedBy": by, "updatedAt": now}
        )

    def create_rule(self, rule: AlertRule, by: str, now: dt.datetime) -> bool:
        """create() fails on an existing document: an id taken is never overwritten."""
        try:
            self.client.collection(constants.ALERT_RULES).document(rule.rule_id).create(
                {**rule.to_doc(), "createdBy": by, "createdAt": now}
            )
        except AlreadyExists:
            return False
        return True

    def delete_rule(self, rule_id: str) -> None:
        """The rule's document, then its states (single-field index on ruleId)."""
        self.client.collection(constants.ALERT_RULES).document(rule_id).delete()
        states = self.client.collection(constants.ALERT_STATES)
        query = states.where(filter=FieldFilter("ruleId", "==", rule_id))
        for snap in counted("alert_reads", query.stream()):
            snap.reference.delete()

    def load_states(self) -> dict[str, AlertState]:
        """All states (one per rule and scope ever evaluated with a change)."""
        return {
            snap.id: AlertState.from_doc(snap.to_dict() or {})
            for snap in counted(
                "alert_reads", self.client.collection(constants.ALERT_STATES).stream()
            )
        }

    def load_instances(self, open_only: bool) -> dict[str, Instance]:
        """Instances, optionally only the open ones (indexed `open` flag)."""
        query: Any = self.client.collection(constants.ALERT_INSTANCES)
        if open_only:
            query = query.where(filter=FieldFilter("open", "==", True))
        return {
            snap.id: Instance.from_doc(snap.to_dict() or {})
            for snap in counted("alert_reads", query.stream())
        }

    def get_instance(self, instance_id: str) -> Instance | None:
        """One instance."""
        snap = self.client.collection(constants.ALERT_INSTANCES).document(instance_id).get()
        return Instance.from_doc(snap.to_dict() or {}) if snap.exists else None

    def instances_opened(self, start: dt.datetime, end: dt.datetime) -> list[Instance]:
        """Instances opened in the window (single-field index on openedAt), newest first."""
        query = (
            self.client.collection(constants.ALERT_INSTANCES)
            .where(filter=FieldFilter("openedAt", ">=", start))
            .where(filter=FieldFilter("openedAt", "<", end))
            .order_by("openedAt", direction=firestore.Query.DESCENDING)
        )
        return [Instance.from_doc(snap.to_dict() or {}) for snap in query.stream()]

    def transact(
        self, key: str, instance_id: str | None, rule: AlertRule | None, compute: Compute
    ) -> Transition | None:
        """One serialisable transaction per (rule, scope) change."""
        db = self.client
        state_ref = db.collection(constants.ALERT_STATES).document(key)
        outcome: list[Transition | None] = [None]

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            state_snap = state_ref.get(transaction=transaction)
            state = AlertState.from_doc(state_snap.to_dict() or {}) if state_snap.exists else None
            wanted = instance_id or (state.open_instance_id if state else None)
            instance = None
            if wanted:
                snap = (
                    db.collection(constants.ALERT_INSTANCES)
                    .document(wanted)
                    .get(transaction=transaction)
                )
                instance = Instance.from_doc(snap.to_dict() or {}) if snap.exists else None
            result = compute(state, instance)
            outcome[0] = result
            if result is None or not result.changed:
                return
            transaction.set(state_ref, result.state.to_doc())
            if result.delete_instance_id:
                transaction.delete(db.collection(constants.ALERT_INSTANCES).document(
                    result.delete_instance_id
                ))  # fmt: skip
            if result.instance is not None:
                transaction.set(
                    db.collection(constants.ALERT_INSTANCES).document(result.instance.instance_id),
                    result.instance.to_doc(),
                )
            for entry_id, doc in outbox_docs(result, rule):
                transaction.set(
                    db.collection(constants.ALERT_NOTIFICATIONS).document(entry_id), doc
                )

        run(db.transaction())
        return outcome[0]

    def due_notifications(self, now: dt.datetime, limit: int) -> list[OutboxEntry]:
        """Pending or failed-and-retrying entries due now (index: status, nextAttemptAt)."""
        query = (
            self.client.collection(constants.ALERT_NOTIFICATIONS)
            .where(filter=FieldFilter("status", "in", ["pending", "retrying", "sending"]))
            .where(filter=FieldFilter("nextAttemptAt", "<=", now))
            .order_by("nextAttemptAt")
            .limit(limit)
        )
        return [
            OutboxEntry.from_doc(snap.id, snap.to_dict() or {})
            for snap in counted("alert_reads", query.stream())
        ]

    def claim_notification(self, entry_id: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Optimistic claim: move nextAttemptAt past the lease, only if nobody changed it since."""
        ref = self.client.collection(constants.ALERT_NOTIFICATIONS).document(entry_id)
        snap = ref.get()
        data = snap.to_dict() or {}
        if not snap.exists or data.get("status") == "sent" or data["nextAttemptAt"] > now:
            return False
        try:
            claimed = ref.update(
                {"status": "sending", "nextAttemptAt": now + lease},
                option=self.client.write_option(last_update_time=snap.update_time),
            )
        except (FailedPrecondition, NotFound):
            return False
        self._claims[entry_id] = claimed.update_time
        return True

    def finish_notification(self, entry: OutboxEntry, update: Mapping[str, Any]) -> None:
        """Entry and the instance's per-channel delivery record in one batch, only while this
        store's claim still holds: a send that outlived its lease (a later run claimed or sent
        the message meanwhile) never overwrites what that run recorded."""
        ref = self.client.collection(constants.ALERT_NOTIFICATIONS).document(entry.entry_id)
        instance_ref = self.client.collection(constants.ALERT_INSTANCES).document(entry.alert_id)
        summary = {k: update[k] for k in ("status", "attempts", "lastError") if k in update}
        claimed = self._claims.pop(entry.entry_id, None)
        option = None if claimed is None else self.client.write_option(last_update_time=claimed)
        batch = self.client.batch()
        batch.update(ref, dict(update), option=option)
        batch.update(instance_ref, {f"deliveries.{entry.delivery_key}": summary})
        try:
            try:
                batch.commit()
            except NotFound:  # the instance is gone (erased); keep the outbox record anyway
                ref.update(dict(update), option=option)
        except FailedPrecondition:
            log.warning("alert %s: %s outcome dropped; a later run holds the message",
                        entry.alert_id, entry.channel)  # fmt: skip

    def write_system_metrics(self, docs: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Batched overwrites (deterministic ids make a rerun of a tick replace its documents)."""
        written = 0
        batch = self.client.batch()
        retention = configured_retention()
        for doc_id, doc in docs:
            body = {**doc, EXPIRE_FIELD: retention.raw_until(doc["tick"])}
            batch.set(self.client.collection(constants.SYSTEM_METRICS).document(doc_id), body)
            written += 1
            if written % 400 == 0:
                batch.commit()
                batch = self.client.batch()
        if written % 400:
            batch.commit()
        return written

    def deliveries(self, alert_id: str) -> list[Delivery]:
        """The alert's outbox records (single-field index on alertId)."""
        query = self.client.collection(constants.ALERT_NOTIFICATIONS).where(
            filter=FieldFilter("alertId", "==", alert_id)
        )
        records = [
            Delivery.from_doc(s.to_dict() or {}) for s in counted("alert_reads", query.stream())
        ]
        return sorted(records, key=lambda d: (d.seq, d.channel))

    def rule_values(
        self, metric: str, scope: str, window: str, ticks: list[dt.datetime]
    ) -> list[float | None]:
        """One batched read of the runs' documents (their ids are deterministic), projected to
        the one metric."""
        refs = [
            self.client.collection(constants.SYSTEM_METRICS).document(
                system_metrics_id(t, window, scope)
            )
            for t in ticks
        ]
        found: dict[str, float | None] = {}
        for snap in counted(
            "alert_reads", self.client.get_all(refs, field_paths=[f"ruleMetrics.{metric}"])
        ):
            if snap.exists:
                value = (snap.to_dict() or {}).get("ruleMetrics", {}).get(metric)
                found[snap.id] = None if value is None else float(value)
        return [found.get(ref.id) for ref in refs]

    def figure(
        self, metric: str, scope: str, window: str, start: dt.datetime, end: dt.datetime
    ) -> list[FigurePoint]:
        """Read with a projection of the run time and the one metric (composite index: scope,
        windowName, tick)."""
        field = f"ruleMetrics.{metric}"
        query = (
            self.client.collection(constants.SYSTEM_METRICS)
            .where(filter=FieldFilter("scope", "==", scope))
            .where(filter=FieldFilter("windowName", "==", window))
            .where(filter=FieldFilter("tick", ">=", start))
            .where(filter=FieldFilter("tick", "<", end))
            .order_by("tick")
            .select(["tick", field])
        )
        points = []
        for snap in counted("alert_reads", query.stream()):
            value = (snap.to_dict() or {}).get("ruleMetrics", {}).get(metric)
            points.append(FigurePoint(snap.get("tick"), None if value is None else float(value)))
        return points

    def rule_runs(
        self,
        metric: str,
        window: str,
        start: dt.datetime,
        end: dt.datetime,
        kinds: Sequence[str] = SCOPE_KINDS,
    ) -> list[StoredRun]:
        """One query over the window's runs in the scope kinds the rule has, projected to the
        run, the scope and the one metric (composite index: windowName, scopeKind, tick)."""
        query = (
            self.client.collection(constants.SYSTEM_METRICS)
            .where(filter=FieldFilter("windowName", "==", window))
            .where(filter=FieldFilter("scopeKind", "in", list(kinds)))
            .where(filter=FieldFilter("tick", ">=", start))
            .where(filter=FieldFilter("tick", "<", end))
            .order_by("tick")
            .select(["tick", "scope", f"ruleMetrics.{metric}", f"ruleMeasurements.{metric}"])
        )
        snaps = counted("alert_reads", query.stream())
        return [stored_run(snap.to_dict() or {}, metric) for snap in snaps]

    # -- provider controls -------------------------------------------------------------------

    def load_controls(self) -> dict[str, ProviderControl]:
        """Every `provider_controls` document."""
        snaps = counted("alert_reads", self.client.collection(constants.PROVIDER_CONTROLS).stream())
        return {s.id: ProviderControl.from_doc(s.id, s.to_dict() or {}) for s in snaps}

    def transact_controls(
        self, compute: Callable[[dict[str, ProviderControl]], list[Change]]
    ) -> list[Change]:
        """Read every control in the transaction (a handful of documents), compute, write the
        changed ones; Firestore reruns it when an admin's action or another run interleaves."""
        collection = self.client.collection(constants.PROVIDER_CONTROLS)
        outcome: list[list[Change]] = [[]]

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> None:
            snaps = transaction.get(collection.order_by("__name__"))
            controls = {s.id: ProviderControl.from_doc(s.id, s.to_dict() or {}) for s in snaps}
            changes = compute(controls)
            for change in changes:
                transaction.set(collection.document(change.after.provider), change.after.to_doc())
            outcome[0] = changes

        run(self.client.transaction())
        return outcome[0]


def _rule_from(doc: Mapping[str, Any], rule_id: str) -> AlertRule:
    fields = {k: v for k, v in doc.items() if k in AlertRule.model_fields or k in _ALIASES}
    fields["ruleId"] = rule_id
    return AlertRule.model_validate(fields)


_ALIASES = frozenset(str(f.alias) for f in AlertRule.model_fields.values() if f.alias is not None)
