"""The automated response: applies the rules' `pause_provider` actions and the admins' manual
pauses and releases to `provider_controls`, and records every change three ways: in the audit
log, in the driving alert's history, and as a notification on the alert's channels.

The plan itself is pure (`alerting/controls.py`); this module reads the open alerts, runs the
plan inside one transaction over the control documents (so a scheduled run and an admin's
action never overwrite each other), and records what changed.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from video_monitoring.alerting import state_machine
from video_monitoring.alerting.alert_store import AlertStore
from video_monitoring.alerting.controls import (
    Change,
    Demand,
    GuardRails,
    ManualAction,
    ProviderControl,
    manual,
    plan,
)
from video_monitoring.alerting.records import AlertState, Instance, Transition, state_key
from video_monitoring.alerting.rules import AlertRule
from video_monitoring.config.constants import OTHER
from video_monitoring.core.audit_log import AuditEntry, AuditLog
from video_monitoring.core.errors import Conflict, InvalidArgument
from video_monitoring.core.models import PROVIDER_PATTERN

log = logging.getLogger(__name__)
ACTIVE = frozenset({"firing", "acknowledged", "suppressed"})
MAX_REASON = 500
MAX_PAUSE_MINUTES = 7 * 24 * 60
_PROVIDER = re.compile(PROVIDER_PATTERN)


class ControlStore(Protocol):
    """Where the provider controls live (`provider_controls/{provider}`)."""

    def load_controls(self) -> dict[str, ProviderControl]:
        """Every control document by provider."""
        ...

    def transact_controls(
        self, compute: Callable[[dict[str, ProviderControl]], list[Change]]
    ) -> list[Change]:
        """Atomically: read every control, compute the changes, write their `after` forms;
        the changes written (rerun on contention)."""
        ...


class Store(AlertStore, ControlStore, Protocol):
    """The alert store with the controls."""


class ProviderResponder:
    """Provider controls from the rules' actions and the admins' requests."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog | None,
        rails: GuardRails,
        clock: Callable[[], dt.datetime],
        dispatch: Callable[[dt.datetime], object] | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._rails = rails
        self._clock = clock
        # An admin's change is told at once (the scheduled run delivers in its own step).
        self._dispatch = dispatch

    def controls(self) -> list[ProviderControl]:
        """Every provider control, by provider."""
        return [c for _, c in sorted(self._store.load_controls().items())]

    def apply(
        self, now: dt.datetime, rules: Sequence[AlertRule], providers: Iterable[str]
    ) -> list[Change]:
        """The scheduled step: controls follow the open alerts of rules with a pause action."""
        by_rule = {r.rule_id: r for r in rules if r.enabled and r.pause_action is not None}
        instances = self._store.load_instances(open_only=True)
        demands = _demands(instances.values(), by_rule)
        open_ids = frozenset(i.instance_id for i in instances.values() if i.status in ACTIVE)
        # `other` sums the untracked providers: no one provider the service could route away.
        known = [p for p in providers if p != OTHER]

        def planned(controls: dict[str, ProviderControl]) -> list[Change]:
            return plan(controls, demands, known, open_ids, now, self._rails)

        # Most runs change nothing: plan on a plain read, and open the transaction (which
        # plans again on what it reads) only when something would change.
        if not planned(self._store.load_controls()):
            return []
        changes = self._store.transact_controls(planned)
        for change in changes:
            self._record(change, "rule", now)
        return changes

    def pause(self, provider: str, by: str, reason: str, minutes: int | None) -> ProviderControl:
        """An admin's pause: weight 0 until released (or for `minutes`); rules do not touch it
        meanwhile."""
        _check(provider, reason)
        if minutes is not None and not 1 <= minutes <= MAX_PAUSE_MINUTES:
            raise InvalidArgument(f"minutes: expected an integer from 1 to {MAX_PAUSE_MINUTES}")
        now = self._clock()
        until = None if minutes is None else now + dt.timedelta(minutes=minutes)
        return self._manual(provider, "pause", by, reason, now, until)

    def release(self, provider: str, by: str, reason: str) -> ProviderControl:
        """An admin's release: weight 1 now; the alerts open now cannot pause it again (a new
        alert can). Releasing a provider nobody paused is a 409."""
        _check(provider, reason)
        return self._manual(provider, "release", by, reason, self._clock(), None)

    def _manual(
        self,
        provider: str,
        action: str,
        by: str,
        reason: str,
        now: dt.datetime,
        until: dt.datetime | None,
    ) -> ProviderControl:
        instances = self._store.load_instances(open_only=True)
        scope = f"provider:{provider}"
        held = frozenset(
            i.instance_id for i in instances.values() if i.scope == scope and i.status in ACTIVE
        )

        def compute(controls: dict[str, ProviderControl]) -> list[Change]:
            current = controls.get(provider) or ProviderControl(provider)
            if action == "release" and not current.paused:
                raise Conflict(f"provider: {provider} is not paused; nothing to release")
            verb: Literal["pause", "release"] = "pause" if action == "pause" else "release"
            after = manual(current, ManualAction(verb, by, now, reason, until), held)
            return [Change(current, after)]

        (change,) = self._store.transact_controls(compute)
        self._record(change, by, now, lead=_lead(instances.values(), scope))
        if self._dispatch is not None:
            self._dispatch(now)
        return change.after

    def _record(
        self, change: Change, by: str, now: dt.datetime, lead: Instance | None = None
    ) -> None:
        """Audit the change, and tell the driving alert's history and channels."""
        after = change.after
        detail = change.describe()
        if self._audit is not None:
            self._audit.record(
                AuditEntry(
                    now, by, "system" if by == "rule" else "admin", f"provider.{change.event}",
                    after.provider, "ok", {"before": change.before.to_doc(),
                                           "after": after.to_doc()},
                )
            )  # fmt: skip
        log.warning("provider control: %s (by %s)", detail, by)
        alert_id = after.alert_id or change.before.alert_id or (lead and lead.instance_id)
        if not alert_id or (change.before.state == after.state and not after.blocked):
            return
        instance = self._store.get_instance(alert_id)
        rule = None if instance is None else self._store.get_rule(instance.rule_id)
        if instance is None or rule is None:
            return

        self._store.transact(
            state_key(rule.rule_id, instance.scope),
            alert_id,
            rule,
            functools.partial(_note, rule, _Note(change.event, detail, by, now)),
        )


@dataclass(frozen=True)
class _Note:
    """A control change as the alert's history notes it: event, detail, who and when."""

    event: str
    detail: str
    by: str
    now: dt.datetime


def _note(
    rule: AlertRule, note: _Note, state: AlertState | None, current: Instance | None
) -> Transition | None:
    """The change in the alert's history, and its message (inside the alert's transaction)."""
    if state is None or current is None:
        return None
    noted = state_machine.note_action(rule, current, note.event, note.detail, note.by, note.now)
    return Transition(state, noted.instance, outbound=noted.outbound)


def _demands(instances: Iterable[Instance], rules: dict[str, AlertRule]) -> list[Demand]:
    """Open alerts in provider scope whose rule pauses the provider."""
    demands = []
    for inst in instances:
        rule = rules.get(inst.rule_id)
        action = None if rule is None else rule.pause_action
        kind, _, provider = inst.scope.partition(":")
        if action is None or kind != "provider" or provider == OTHER or inst.status not in ACTIVE:
            continue
        fired = inst.fired_at or inst.opened_at
        demands.append(
            Demand(provider, inst.instance_id, inst.rule_id, fired,
                   dt.timedelta(minutes=action.cooldown_minutes), action.probe_share)
        )  # fmt: skip
    return demands


def _lead(instances: Iterable[Instance], scope: str) -> Instance | None:
    """The earliest firing alert in a scope (a manual change is told on it)."""
    active = [i for i in instances if i.scope == scope and i.status in ACTIVE]
    return min(active, key=lambda i: i.fired_at or i.opened_at, default=None)


def _check(provider: str, reason: str) -> None:
    if not _PROVIDER.fullmatch(provider):
        raise InvalidArgument(f"provider: expected a provider id matching {PROVIDER_PATTERN}")
    if provider == OTHER:
        raise InvalidArgument(
            f"provider: {OTHER!r} sums the providers outside TRACKED_PROVIDERS; pause a tracked "
            "provider (add it to TRACKED_PROVIDERS to control it)"
        )
    if len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason: at most {MAX_REASON} characters")
