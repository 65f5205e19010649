"""Delivery of what the outbox owes: due entries claimed one by one as their delivery starts,
sent concurrently (each channel on its own) within a time budget, and retried by later runs
until sent or given up."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import replace
from typing import Any

from video_monitoring.alerting.alert_store import AlertStore, OutboxEntry
from video_monitoring.alerting.channels.base import Notification
from video_monitoring.alerting.notifications import Delivery, DeliveryResult, deliver
from video_monitoring.core.budget import Budget, run_within
from video_monitoring.core.logs import labelled

log = logging.getLogger(__name__)

OUTBOX_BATCH = 200
CLAIM_LEASE = dt.timedelta(minutes=3)
MAX_DELIVERY_RUNS = 12  # scheduled runs (about an hour at 5 minutes) before a message is given up


class Dispatcher:
    """The outbox's deliveries, with each alert's console link."""

    def __init__(self, store: AlertStore, delivery: Delivery, dashboard_url: str) -> None:
        self._store = store
        self._channels = delivery.channels
        self._policy = delivery.policy
        self._sleep = delivery.sleep
        self._dashboard_url = dashboard_url.rstrip("/")

    def dispatch(self, now: dt.datetime, budget: Budget | None = None) -> list[DeliveryResult]:
        """Deliver the due outbox entries (concurrently, each channel independently) within
        the budget: an entry is claimed only when its delivery starts, none starts once the
        budget is spent, and one still sending then keeps its claim's lease, so what is not
        sent stays in the outbox for a later run."""
        budget = budget or Budget.unlimited()
        due = self._store.due_notifications(now, OUTBOX_BATCH)
        tasks = [functools.partial(self._deliver, entry, now, budget) for entry in due]
        return [r for r in run_within(budget, tasks, workers=8) if r is not None]

    def _deliver(
        self, entry: OutboxEntry, now: dt.datetime, budget: Budget
    ) -> DeliveryResult | None:
        if budget.spent() or not self._store.claim_notification(entry.entry_id, now, CLAIM_LEASE):
            return None
        with labelled(alert=entry.alert_id, channel=entry.channel):
            return self._deliver_labelled(entry, now, budget)

    def _deliver_labelled(
        self, entry: OutboxEntry, now: dt.datetime, budget: Budget
    ) -> DeliveryResult:
        name = entry.channel
        channel = self._channels.get(name)
        if channel is None:
            result = DeliveryResult(name, False, 0, f"channel {name} is not configured")
        else:
            notification = self._notification(entry)
            result = deliver(channel, notification, self._policy, self._sleep, budget)
        runs = entry.runs + 1
        update: dict[str, Any] = {
            "attempts": entry.attempts + result.attempts,
            "runs": runs,
            "lastError": result.error,
            "lastAttemptAt": now,
        }
        if result.ok:
            update |= {"status": "sent", "sentAt": now}
        elif channel is None or runs >= MAX_DELIVERY_RUNS:
            update |= {"status": "abandoned"}
            log.error("alert %s: %s message given up: %s", entry.alert_id, name, result.error)
        else:
            delay = min(60 * 2 ** (runs - 1), 3600)
            update |= {"status": "retrying", "nextAttemptAt": now + dt.timedelta(seconds=delay)}
            log.warning("alert %s: %s delivery failed, retrying", entry.alert_id, name)
        self._store.finish_notification(entry, update)
        return result

    def _notification(self, entry: OutboxEntry) -> Notification:
        link = f"{self._dashboard_url}/alerts/{entry.alert_id}"
        return replace(entry.notification, dashboard_url=link)
