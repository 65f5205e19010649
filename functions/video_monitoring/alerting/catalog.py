"""Custom alert rules: created beside the defaults up to a bounded number, with an id the caller
gives or one chosen from the metric, and deleted with the alerts they left open resolved
("rule deleted"). Defaults are never deleted: they are disabled (`enabled: false`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from video_monitoring.alerting import state_machine
from video_monitoring.alerting.alert_store import AlertStore, Compute
from video_monitoring.alerting.records import AlertState, Instance, Transition, state_key
from video_monitoring.alerting.rules import DEFAULT_RULES, AlertRule
from video_monitoring.core.errors import Conflict, InvalidArgument, NotFound

# Untrusted input never grows the rule set (read whole by every tick) without bound.
MAX_CUSTOM_RULES = 200
DEFAULT_IDS = frozenset(rule.rule_id for rule in DEFAULT_RULES)
# Literal path segments under /alert-rules/ that a rule id would shadow.
RESERVED_IDS = frozenset({"backtest"})
RULE_DELETED = "rule deleted"  # the note and resolution of alerts a deleted rule left open


def is_default(rule_id: str) -> bool:
    """Whether the id is one of the seeded defaults (which come back when deleted)."""
    return rule_id in DEFAULT_IDS


def chosen_id(metric: str, taken: set[str]) -> str:
    """An id for a rule created without one: `custom_<metric in snake case>_<n>`, the smallest
    n not taken."""
    stem = "custom_" + re.sub(r"(?<!^)(?=[A-Z])", "_", metric).lower()
    n = 1
    while f"{stem}_{n}" in taken:
        n += 1
    return f"{stem}_{n}"


def check_new_id(rule_id: str) -> None:
    """A 400 naming `ruleId` for an id a custom rule cannot take (a default's is a 409)."""
    if rule_id in RESERVED_IDS:
        raise InvalidArgument(f"ruleId: {rule_id!r} is reserved (a path of /alert-rules)")
    if is_default(rule_id):
        raise Conflict(f"ruleId: {rule_id!r} is a default rule; replace it with PUT instead")


def create(store: AlertStore, rule: AlertRule, by: str, now: dt.datetime) -> AlertRule:
    """Store a new custom rule, or a 409 naming the cap or the id taken. The cap is read before
    the write: two creates racing at the cap can both land, so the set stays within the cap plus
    the concurrent requests."""
    check_new_id(rule.rule_id)
    rules, problems = store.load_rules()
    stored = {r.rule_id for r in rules} | {p.partition(":")[0] for p in problems}
    custom = stored - DEFAULT_IDS
    if rule.rule_id not in stored and len(custom) >= MAX_CUSTOM_RULES:
        raise Conflict(
            f"rules: at most {MAX_CUSTOM_RULES} custom rules; delete or reuse one "
            f"({len(custom)} stored)"
        )
    if not store.create_rule(rule, by, now):
        raise Conflict(f"ruleId: a rule {rule.rule_id!r} exists; replace it with PUT")
    return rule


def _resolve_deleted(rule: AlertRule, by: str, now: dt.datetime) -> Compute:
    def compute(state: AlertState | None, current: Instance | None) -> Transition | None:
        if current is None or not current.is_open:
            return None
        done = state_machine.resolve(
            rule, state or AlertState(rule.rule_id, current.scope), current, by, now, RULE_DELETED
        )
        assert done.instance is not None
        closed = dataclasses.replace(done.instance, resolution="rule_deleted")
        return dataclasses.replace(done, instance=closed)

    return compute


def delete(store: AlertStore, rule_id: str, by: str, now: dt.datetime) -> list[str]:
    """Delete a custom rule and its evaluation states; first each alert it left open is
    resolved (resolution `rule_deleted`, the note "rule deleted", those notified of it told).
    The ids of the alerts resolved."""
    if is_default(rule_id):
        raise Conflict(
            f"ruleId: {rule_id!r} is a default rule: it can be disabled (PUT with "
            '"enabled": false), not deleted'
        )
    rule = store.get_rule(rule_id)
    if rule is None:
        raise NotFound(f"ruleId: no alert rule {rule_id!r}")
    resolved = []
    for instance in store.load_instances(open_only=True).values():
        if instance.rule_id != rule_id:
            continue
        key = state_key(rule_id, instance.scope)
        result = store.transact(key, instance.instance_id, rule, _resolve_deleted(rule, by, now))
        if result is not None and result.instance is not None:
            resolved.append(result.instance.instance_id)
    store.delete_rule(rule_id)
    return resolved
