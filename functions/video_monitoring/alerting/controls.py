"""Provider controls, pure: what each provider's traffic weight should be, from the rules'
`pause_provider` actions, the operators' manual pauses and releases, and the guard rails.

`provider_controls/{provider}` tells the generation service how much of a provider's usual
traffic to send (`weight`, 0..1):

    closed --its rule fires for the provider--> open (weight 0, until firedAt + cooldown)
    open --cooldown passed, alert still open--> half_open (weight probeShare: probe traffic)
    open/half_open --the alert resolves--> closed (weight 1)

An admin's pause holds the provider open (weight 0) until an admin releases it or its optional
end passes; an admin's release holds it closed against the alerts open at that moment (a later
alert may pause it again). Guard rails, checked before the rules open a provider: at most
`max_open` providers open or half-open at once, and never the last healthy provider (one that
is closed and has no alert wanting it paused). A blocked pause leaves the provider closed and
says why in `blocked`. `plan` is deterministic: the same inputs give the same documents, so a
rerun of a tick changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

ControlState = Literal["closed", "open", "half_open"]
BY_RULE = "rule"


@dataclass(frozen=True)
class Demand:
    """An open alert whose rule pauses its provider."""

    provider: str
    alert_id: str
    rule_id: str
    fired_at: dt.datetime
    cooldown: dt.timedelta
    probe_share: float


@dataclass(frozen=True)
class ProviderControl:
    """One `provider_controls/{provider}` document."""

    provider: str
    state: ControlState = "closed"
    weight: float = 1.0
    reason: str = ""
    alert_id: str | None = None
    rule_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # open by a rule: half-open then; a manual pause: its end
    by: str = BY_RULE
    manual: bool = False
    held_alerts: tuple[str, ...] = ()  # a manual release: the alerts it overrides
    blocked: str | None = None  # a guard rail kept the rule from pausing it: why

    def to_doc(self) -> dict[str, Any]:
        """The stored and served form."""
        return {
            "provider": self.provider,
            "state": self.state,
            "weight": self.weight,
            "reason": self.reason,
            "alertId": self.alert_id,
            "ruleId": self.rule_id,
            "since": self.since,
            "until": self.until,
            "by": self.by,
            "manual": self.manual,
            "heldAlerts": list(self.held_alerts),
            "blocked": self.blocked,
        }

    @classmethod
    def from_doc(cls, provider: str, doc: Mapping[str, Any]) -> ProviderControl:
        """Inverse of to_doc."""
        return cls(
            provider=provider,
            state=doc.get("state", "closed"),
            weight=float(doc.get("weight", 1.0)),
            reason=str(doc.get("reason") or ""),
            alert_id=doc.get("alertId"),
            rule_id=doc.get("ruleId"),
            since=doc.get("since"),
            until=doc.get("until"),
            by=str(doc.get("by") or BY_RULE),
            manual=bool(doc.get("manual")),
            held_alerts=tuple(doc.get("heldAlerts") or ()),
            blocked=doc.get("blocked"),
        )

    @property
    def paused(self) -> bool:
        """Open or half-open: less than the provider's usual traffic."""
        return self.state != "closed"


@dataclass(frozen=True)
class Change:
    """One control changed: before and after (for the audit, the notification, the alert)."""

    before: ProviderControl
    after: ProviderControl

    def describe(self) -> str:
        """One sentence for people."""
        a = self.after
        if a.blocked and not self.before.blocked:
            return f"{a.provider} not paused: {a.blocked}"
        if a.state == "open":
            end = "until released" if a.until is None else f"until {_hm(a.until)}"
            return f"{a.provider} paused (weight 0) {end}: {a.reason}"
        if a.state == "half_open":
            return f"{a.provider} half-open: probing with {a.weight:.0%} of its traffic"
        return f"{a.provider} restored (weight 1): {a.reason}"

    @property
    def event(self) -> str:
        """The notification event."""
        if self.after.blocked and not self.before.blocked:
            return "provider_pause_blocked"
        return {"open": "provider_paused", "half_open": "provider_probing"}.get(
            self.after.state, "provider_restored"
        )


def _hm(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%H:%M UTC")


@dataclass(frozen=True)
class GuardRails:
    """Limits on what rules may do (settings `PROVIDER_CONTROL_MAX_OPEN`,
    `PROVIDER_CONTROL_KEEP_ONE_HEALTHY`)."""

    max_open: int = 1
    keep_one_healthy: bool = True


def _automatic(
    current: ProviderControl, demands: list[Demand], now: dt.datetime
) -> ProviderControl:
    """What the rules alone want for one provider (the earliest firing alert leads)."""
    if not demands:
        if not current.paused and current.blocked is None and not current.manual:
            return current
        return ProviderControl(
            current.provider, "closed", 1.0, "the alert resolved", since=now, by=BY_RULE
        )
    lead = min(demands, key=lambda d: (d.fired_at, d.alert_id))
    half_open_at = lead.fired_at + lead.cooldown
    if now < half_open_at:
        state: ControlState = "open"
        weight, until = 0.0, half_open_at
    else:
        state, weight, until = "half_open", min(d.probe_share for d in demands), None
    reason = f"{lead.rule_id} fired for provider:{current.provider}"
    same = current.state == state and current.alert_id == lead.alert_id and not current.manual
    since = current.since if same and current.since is not None else now
    return ProviderControl(
        current.provider, state, weight, reason, lead.alert_id, lead.rule_id, since, until
    )


def plan(
    controls: Mapping[str, ProviderControl],
    demands: Iterable[Demand],
    providers: Iterable[str],
    open_alert_ids: frozenset[str],
    now: dt.datetime,
    rails: GuardRails,
) -> list[Change]:
    """The controls that change at `now`: manual holds first, then the rules, providers already
    paused keeping their place, new pauses in the order their alerts fired."""
    by_provider: dict[str, list[Demand]] = {}
    for demand in demands:
        by_provider.setdefault(demand.provider, []).append(demand)
    names = sorted(set(providers) | set(controls) | set(by_provider))
    current = {p: controls.get(p) or ProviderControl(p) for p in names}
    wanted: dict[str, ProviderControl] = {}
    for p in names:
        control = current[p]
        pause_holds = control.until is None or now < control.until
        if control.manual and control.state == "open" and pause_holds:
            wanted[p] = control
            continue
        held = set(control.held_alerts) & open_alert_ids if control.manual else set()
        if control.manual and control.state == "closed" and held:
            wanted[p] = control
            continue
        mine = [d for d in by_provider.get(p, []) if d.alert_id not in held]
        if control.manual:  # the hold ended: the rules take over from a plain closed control
            control = ProviderControl(p, "closed", 1.0, "manual hold ended", since=now)
        wanted[p] = _automatic(control, mine, now)
    _guard(wanted, current, by_provider, rails, now)
    return [Change(current[p], wanted[p]) for p in names if wanted[p] != current[p]]


def _guard(
    wanted: dict[str, ProviderControl],
    current: Mapping[str, ProviderControl],
    demands: Mapping[str, list[Demand]],
    rails: GuardRails,
    now: dt.datetime,
) -> None:
    """Undo new automatic pauses the guard rails forbid (in place)."""
    new = [p for p in wanted if wanted[p].paused and not current[p].paused and not wanted[p].manual]
    new.sort(key=lambda p: (min(d.fired_at for d in demands[p]), p))
    for p in new:
        paused = [q for q in wanted if wanted[q].paused and q != p]
        healthy = [q for q in wanted if not wanted[q].paused and q != p and not demands.get(q)]
        why = None
        if len(paused) >= rails.max_open:
            why = f"at most {rails.max_open} provider(s) paused at once ({', '.join(paused)})"
        elif rails.keep_one_healthy and not healthy:
            why = "it is the last healthy provider"
        if why is not None:
            before = current[p]
            keep = before.blocked == why
            wanted[p] = replace(
                ProviderControl(p, "closed", 1.0, f"pause blocked: {why}", since=now),
                since=before.since if keep else now,
                blocked=why,
                alert_id=wanted[p].alert_id,
                rule_id=wanted[p].rule_id,
            )


@dataclass(frozen=True)
class ManualAction:
    """An admin's pause or release of a provider: who, when, why, and until when a pause lasts
    (None: until released)."""

    action: Literal["pause", "release"]
    by: str
    now: dt.datetime
    reason: str = ""
    until: dt.datetime | None = None


def manual(
    current: ProviderControl, request: ManualAction, open_alert_ids: frozenset[str]
) -> ProviderControl:
    """An admin's pause (held open until released or `until`) or release (held closed against
    the alerts open now)."""
    by, now, reason = request.by, request.now, request.reason
    if request.action == "pause":
        return ProviderControl(
            current.provider, "open", 0.0, reason or f"paused by {by}", current.alert_id,
            current.rule_id, now, request.until, by, manual=True,
        )  # fmt: skip
    return ProviderControl(
        current.provider, "closed", 1.0, reason or f"released by {by}", None, None, now, None,
        by, manual=True, held_alerts=tuple(sorted(open_alert_ids)),
    )  # fmt: skip
