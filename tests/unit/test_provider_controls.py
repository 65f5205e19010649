"""Provider controls: the plan (open, half-open, closed), guard rails, manual holds, and the
responder recording each change in the audit log, the alert's history and its channels."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.test_alert_manager import NOW, World, degraded_world
from video_monitoring.alerting.controls import (
    Change,
    Demand,
    GuardRails,
    ManualAction,
    ProviderControl,
    manual,
    plan,
)
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.alerting.rules import parse_rule
from video_monitoring.core.audit_log import AuditEntry
from video_monitoring.core.errors import Conflict, InvalidArgument

MIN = dt.timedelta(minutes=1)
PROVIDERS = ("heygen", "pika", "runway")
RAILS = GuardRails()


def demand(provider: str, alert: str, fired: dt.datetime = NOW) -> Demand:
    return Demand(provider, alert, "low_success_rate", fired, 15 * MIN, 0.25)


class Controls:
    """The stored controls, stepped through `plan` like the scheduled run does."""

    def __init__(self, rails: GuardRails = RAILS, providers: tuple[str, ...] = PROVIDERS) -> None:
        self.docs: dict[str, ProviderControl] = {}
        self.rails = rails
        self.providers = providers

    def step(
        self, at: dt.datetime, *demands: Demand, open_ids: tuple[str, ...] = ()
    ) -> list[Change]:
        alerts = frozenset(open_ids) | {d.alert_id for d in demands}
        changes = plan(self.docs, demands, self.providers, alerts, at, self.rails)
        for change in changes:
            assert self.docs.get(change.after.provider, ProviderControl(change.after.provider)) == (
                change.before
            )
            self.docs[change.after.provider] = change.after
        return changes

    def state(self, provider: str) -> tuple[str, float]:
        control = self.docs.get(provider, ProviderControl(provider))
        return control.state, control.weight


def test_a_firing_rule_opens_then_probes_then_restores_its_provider() -> None:
    c = Controls()
    a = demand("pika", "a1")
    (change,) = c.step(NOW, a)
    assert c.state("pika") == ("open", 0.0) and change.event == "provider_paused"
    opened = c.docs["pika"]
    assert opened.until == NOW + 15 * MIN and opened.alert_id == "a1" and opened.by == "rule"
    assert c.step(NOW, a) == [] and c.step(NOW + 14 * MIN, a) == []  # reruns change nothing
    (change,) = c.step(NOW + 15 * MIN, a)
    assert c.state("pika") == ("half_open", 0.25) and change.event == "provider_probing"
    assert c.docs["pika"].since == NOW + 15 * MIN and c.docs["pika"].until is None
    assert c.step(NOW + 40 * MIN, a) == []
    (change,) = c.step(NOW + 45 * MIN)  # the alert resolved
    assert c.state("pika") == ("closed", 1.0) and change.event == "provider_restored"
    assert c.docs["pika"].alert_id is None
    assert c.step(NOW + 50 * MIN) == []


def test_at_most_one_provider_paused_and_never_the_last_healthy_one() -> None:
    c = Controls()
    c.step(NOW, demand("pika", "a1"))
    (blocked,) = c.step(NOW + MIN, demand("pika", "a1"), demand("heygen", "a2", NOW + MIN))
    assert blocked.event == "provider_pause_blocked"
    assert c.state("heygen") == ("closed", 1.0)
    assert c.docs["heygen"].blocked == "at most 1 provider(s) paused at once (pika)"
    assert c.step(NOW + 2 * MIN, demand("pika", "a1"), demand("heygen", "a2", NOW + MIN)) == []
    # pika recovers: heygen's alert, still firing, may now pause it.
    changes = c.step(NOW + 3 * MIN, demand("heygen", "a2", NOW + MIN))
    assert {(ch.after.provider, ch.event) for ch in changes} == {
        ("pika", "provider_restored"), ("heygen", "provider_paused"),
    }  # fmt: skip
    assert c.docs["heygen"].blocked is None and c.state("heygen") == ("open", 0.0)

    two = Controls(GuardRails(max_open=5), providers=("pika", "runway"))
    two.step(NOW, demand("pika", "a1"))
    two.step(NOW, demand("pika", "a1"), demand("runway", "a3"))
    assert two.state("runway") == ("closed", 1.0)
    assert two.docs["runway"].blocked == "it is the last healthy provider"
    loose = Controls(GuardRails(max_open=5, keep_one_healthy=False), providers=("pika",))
    loose.step(NOW, demand("pika", "a1"))
    assert loose.state("pika") == ("open", 0.0)


def test_manual_pause_holds_until_released_and_release_holds_against_open_alerts() -> None:
    c = Controls()
    c.docs["runway"] = manual(
        ProviderControl("runway"), ManualAction("pause", "ops", NOW), frozenset()
    )
    assert c.step(NOW + MIN) == []  # no alert, still paused: the admin's hold
    c.docs["runway"] = manual(
        c.docs["runway"], ManualAction("release", "ops", NOW + 2 * MIN), frozenset()
    )
    (ended,) = c.step(NOW + 3 * MIN)
    assert c.state("runway") == ("closed", 1.0) and not c.docs["runway"].manual
    assert ended.event == "provider_restored"

    a = demand("pika", "a1")
    c.step(NOW, a)
    release = ManualAction("release", "ops", NOW + MIN, "false alarm")
    held = manual(c.docs["pika"], release, frozenset({"a1"}))
    c.docs["pika"] = held
    assert c.step(NOW + 5 * MIN, a) == [] and c.state("pika") == ("closed", 1.0)
    # a1 resolves; a new alert a2 pauses pika again.
    changes = c.step(NOW + 30 * MIN, demand("pika", "a2", NOW + 30 * MIN))
    assert [ch.event for ch in changes] == ["provider_paused"]
    assert c.docs["pika"].alert_id == "a2" and not c.docs["pika"].manual

    lapsing = manual(
        ProviderControl("heygen"),
        ManualAction("pause", "ops", NOW, "", NOW + 31 * MIN),
        frozenset(),
    )
    c.docs["heygen"] = lapsing
    assert c.step(NOW + 30 * MIN, demand("pika", "a2", NOW + 30 * MIN)) == []
    (lapsed,) = c.step(NOW + 31 * MIN, demand("pika", "a2", NOW + 30 * MIN))
    assert lapsed.after.provider == "heygen" and c.state("heygen") == ("closed", 1.0)


def paused_world(
    action: dict[str, float] | None = None,
) -> tuple[World, ProviderResponder, list[AuditEntry]]:
    """The degraded world with low_success_rate pausing providers; its first two ticks fired."""
    world = degraded_world()
    world.manager.rule_book.seed_default_rules()
    stored = world.alerts.get_rule("low_success_rate")
    assert stored is not None
    body = {**stored.to_doc(), "actions": [{"type": "pause_provider", **(action or {})}]}
    world.alerts.put_rule(parse_rule(body), "ops", NOW)
    audit: list[AuditEntry] = []

    class Log:
        def record(self, entry: AuditEntry) -> None:
            audit.append(entry)

    responder = ProviderResponder(world.alerts, Log(), GuardRails(), world.clock)
    for _ in range(2):
        world.tick()
        responder.apply(world.clock.now, world.manager.rule_book.rules()[0], ["pika", "runway"])
    return world, responder, audit


def test_the_responder_pauses_the_degraded_provider_and_tells_everyone() -> None:
    world, responder, audit = paused_world({"cooldownMinutes": 20, "probeShare": 0.5})
    (control,) = responder.controls()
    assert (control.provider, control.state, control.weight) == ("pika", "open", 0.0)
    alert = world.alerts.get_instance(control.alert_id or "")
    assert alert is not None and alert.scope == "provider:pika"
    assert alert.history[-1].action == "provider_paused"
    assert [(e.action, e.uid, e.target) for e in audit] == [
        ("provider.provider_paused", "rule", "pika")
    ]
    world.manager.dispatcher.dispatch(world.clock.now)
    told = [n for n in world.channels["slack"].sent if n.event == "provider_paused"]
    assert len(told) == 1 and "pika paused (weight 0)" in told[0].subject()
    assert told[0].detail.startswith("pika paused") and told[0].alert_id == alert.instance_id
    # Twenty minutes after firing it probes with half the traffic.
    assert alert.fired_at is not None
    responder.apply(
        alert.fired_at + dt.timedelta(minutes=20), world.manager.rule_book.rules()[0], []
    )
    assert responder.controls()[0].weight == 0.5


def test_manual_pause_and_release_by_an_admin_with_named_errors() -> None:
    world, responder, audit = paused_world()
    released = responder.release("pika", "ops-uid", "the provider confirmed a fix")
    assert (released.state, released.weight, released.by, released.manual) == (
        "closed", 1.0, "ops-uid", True,
    )  # fmt: skip
    responder.apply(
        world.clock.now + dt.timedelta(minutes=5), world.manager.rule_book.rules()[0], []
    )
    assert responder.controls()[0].state == "closed"  # the open alert cannot pause it again
    with pytest.raises(Conflict, match=r"^provider: pika is not paused"):
        responder.release("pika", "ops-uid", "")
    paused = responder.pause("runway", "ops-uid", "maintenance", 60)
    assert paused.until == world.clock.now + dt.timedelta(minutes=60) and paused.weight == 0.0
    assert audit[-1].uid == "ops-uid" and audit[-1].action == "provider.provider_paused"
    bad: tuple[tuple[str, str, int | None, str], ...] = (
        ("Pika!", "", None, "provider"),
        ("pika", "", 0, "minutes"),
        ("pika", "x" * 501, None, "reason"),
    )
    for provider, reason, minutes, named in bad:
        with pytest.raises(InvalidArgument, match=f"^{named}:"):
            responder.pause(provider, "u", reason, minutes)


def test_rule_actions_are_validated_naming_the_field() -> None:
    base = {"ruleId": "r", "metric": "successRate", "comparator": "lt", "threshold": 0.9,
            "scopes": ["overall", "provider"]}  # fmt: skip
    ok = parse_rule({**base, "actions": [{"type": "pause_provider", "probeShare": 0.2}]})
    assert ok.pause_action is not None and ok.pause_action.cooldown_minutes == 15
    for actions, named in (
        ([{"type": "reroute"}], "actions.0.type"),
        ([{"type": "pause_provider", "probeShare": 1.5}], "actions.0.probeShare"),
        ([{"type": "pause_provider", "probeShare": -0.1}], "actions.0.probeShare"),
        ([{"type": "pause_provider", "cooldownMinutes": 0}], "actions.0.cooldownMinutes"),
        ([{"type": "pause_provider", "colour": 1}], "actions.0.colour"),
    ):
        with pytest.raises(InvalidArgument, match=f"^{named}:"):
            parse_rule({**base, "actions": actions})
    with pytest.raises(InvalidArgument, match="provider scope"):
        parse_rule({**base, "scopes": ["overall"], "actions": [{"type": "pause_provider"}]})
