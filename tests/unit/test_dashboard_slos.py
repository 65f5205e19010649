"""GET /slos, GET and PUT /slos/{sloId}: roles, parameters and bodies named when wrong, edits
audited, and a burn-rate rule naming an objective that does not exist refused."""

from __future__ import annotations

import pytest

from tests.unit.test_access import ListAudit
from tests.unit.test_alert_manager import World
from tests.unit.test_dashboard_alerts import Api
from tests.unit.test_slo import FakeObjectiveStore
from video_monitoring.analytics.error_budgets import SloService


@pytest.fixture
def api() -> Api:
    world = World()
    for i in range(30):
        world.add("runway", "failed" if i == 0 else "completed", 40, ago_minutes=10 + i)
    audit = ListAudit()
    api = Api(world, audit=audit, slos=SloService(FakeObjectiveStore(), world.monitor, world.clock))
    api.audit = audit  # type: ignore[attr-defined]
    world.manager.rule_book.seed_default_rules()
    return api


def test_readers_get_every_objectives_budget(api: Api) -> None:
    status, body = api.call("GET", "/slos", "tok-analytics")
    assert status == 200
    success = body["objectives"][0]
    assert success["sloId"] == "generation_success"
    overall = success["budgets"][0]
    assert (overall["scope"], overall["valid"], overall["bad"]) == ("overall", 30, 1)
    # 1 failure against 0.5% of 30 = 0.15 allowed: the budget is overspent 6.7 times.
    assert overall["budgetRemaining"] == pytest.approx(1 - 1 / 0.15)
    assert overall["status"] == "exhausted"
    assert api.call("GET", "/slos", None)[0] == 401
    status, body = api.call("GET", "/slos", "tok-analytics", window="1h")
    assert status == 400 and body["error"]["message"].startswith("window: /slos takes no")
    status, body = api.call("GET", "/slos/generation_latency", "tok-analytics")
    assert status == 200 and body["objective"]["thresholdSeconds"] == 90
    assert api.call("GET", "/slos/nope", "tok-analytics")[0] == 404
    assert api.call("POST", "/slos", "tok-admin")[0] == 405


def test_admins_edit_objectives_and_every_attempt_is_audited(api: Api) -> None:
    edit = {"sli": "success", "target": 0.99, "windowDays": 7, "description": "99% a week"}
    status, body = api.call("PUT", "/slos/generation_success", "tok-analytics", body=edit)
    assert status == 403
    status, body = api.call("PUT", "/slos/generation_success", "tok-admin", body=edit)
    assert status == 200 and body["objective"]["target"] == 0.99
    _, listed = api.call("GET", "/slos", "tok-analytics")
    success = listed["objectives"][0]
    assert success["windowDays"] == 7
    assert success["budgets"][0]["budgetRemaining"] == pytest.approx(1 - 1 / 0.3)
    for bad, field in [
        ({**edit, "target": 2}, "target"),
        ({**edit, "sloId": "other"}, "sloId"),
        ({**edit, "colour": "red"}, "colour"),
        ({"sli": "latency", "target": 0.9}, "thresholdSeconds"),
    ]:
        status, body = api.call("PUT", "/slos/generation_success", "tok-admin", body=bad)
        assert status == 400 and field in body["error"]["message"], body
    audit = api.audit.entries  # type: ignore[attr-defined]
    assert [(e.action, e.outcome) for e in audit] == [
        ("slo.update", "ok"),
        *[("slo.update", "failed")] * 4,
    ]  # fmt: skip: the analyst's denied attempt wrote nothing
    assert audit[0].details["before"]["target"] == 0.995
    assert audit[0].details["after"]["target"] == 0.99


def test_a_burn_rate_rule_must_name_an_existing_objective(api: Api) -> None:
    _, body = api.call("GET", "/alert-rules/slo_success_fast_burn", "tok-admin")
    rule = body["rule"]
    status, body = api.call(
        "PUT", "/alert-rules/slo_success_fast_burn", "tok-admin", body={**rule, "slo": "nope"}
    )
    assert status == 400 and body["error"]["message"].startswith("slo: no objective 'nope'")
    status, body = api.call(
        "PUT", "/alert-rules/slo_success_fast_burn", "tok-admin", body={**rule, "enabled": True}
    )
    assert status == 200 and body["rule"]["enabled"] is True
    status, body = api.call("GET", "/alert-rules/slo_success_fast_burn/backtest", "tok-admin")
    assert status == 400 and body["error"]["message"].startswith("ruleId: burn_rate rules")
