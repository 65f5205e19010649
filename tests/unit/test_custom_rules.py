"""Custom rules over HTTP: created (201, Location, audited), evaluated by the next run like the
defaults, deleted with their open alerts resolved; defaults refused; the count bounded; a rule
not saved yet backtested exactly like a stored one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.test_access import ListAudit
from tests.unit.test_alert_manager import degraded_world
from tests.unit.test_dashboard import json_response
from tests.unit.test_dashboard_alerts import Api
from video_monitoring.alerting.catalog import MAX_CUSTOM_RULES, chosen_id
from video_monitoring.alerting.rules import AlertRule
from video_monitoring.dashboard.http import Request

# pika fails 10 of its 40 generations (a rate of 0.25, Wilson 95% lower bound about 0.14);
# runway none of its 40: above 0.1, pika only.
PIKA_FAILURES: dict[str, Any] = {
    "ruleId": "pika_failures", "metric": "failureRate", "comparator": "gt", "threshold": 0.1,
    "window": "1h", "scopes": ["provider"], "minSamples": 10, "pendingEvaluations": 1,
    "resolveEvaluations": 1, "severity": "critical", "channels": ["email"],
    "description": "A provider fails more than 10% of its generations",
}  # fmt: skip


@pytest.fixture
def api() -> Api:
    return Api(degraded_world(), audit=ListAudit())


def audit_of(api: Api) -> list[tuple[str, str, str]]:
    entries = api.dashboard.api.audit.entries  # type: ignore[union-attr]
    return [(e.action, e.target, e.outcome) for e in entries]


def test_a_created_rule_fires_in_the_next_run_and_its_deletion_resolves_it(api: Api) -> None:
    response = json_response(
        api.dashboard.handle(
            Request("POST", "/api/alert-rules", {}, "Bearer tok-admin",
                    json.dumps(PIKA_FAILURES).encode())
        )
    )  # fmt: skip
    assert response.status == 201
    assert response.headers == {"Location": "/api/alert-rules/pika_failures"}
    assert response.body["rule"] == AlertRule.model_validate(PIKA_FAILURES).to_doc()
    assert (
        api.call("GET", "/alert-rules/pika_failures", "tok-analytics")[1]["rule"]["threshold"]
        == 0.1
    )

    report = api.world.tick()
    fired = {(i.rule_id, i.scope) for i in api.world.alerts.instances.values() if i.is_open}
    assert ("pika_failures", "provider:pika") in fired
    assert ("pika_failures", "provider:runway") not in fired
    assert ("firing", "pika_failures", "provider:pika") in api.world.received("email")
    alert_id = api.instance("pika_failures", "provider:pika")
    assert alert_id in report.fired

    status, body = api.call("DELETE", "/alert-rules/pika_failures")
    assert status == 204 and not body
    alert = api.world.alerts.instances[alert_id]
    assert alert.status == "resolved" and alert.resolution == "rule_deleted"
    assert ("resolved", "pika_failures", "provider:pika") in api.world.received("email")
    assert "pika_failures" not in api.world.alerts.rules
    assert not [s for s in api.world.alerts.states.values() if s.rule_id == "pika_failures"]
    assert api.call("GET", "/alert-rules/pika_failures")[0] == 404
    assert api.call("DELETE", "/alert-rules/pika_failures")[0] == 404
    api.world.tick()
    assert not [i for i in api.world.alerts.instances.values() if i.rule_id == "pika_failures"
                and i.instance_id != alert_id]  # fmt: skip

    entries = api.dashboard.api.audit.entries  # type: ignore[union-attr]
    assert audit_of(api)[:2] == [
        ("rule.create", "pika_failures", "ok"),
        ("rule.delete", "pika_failures", "ok"),
    ]
    assert entries[0].details["after"]["threshold"] == 0.1
    assert entries[1].details["before"]["ruleId"] == "pika_failures"
    assert entries[1].details["resolvedAlerts"] == [alert_id]


def test_an_id_left_out_is_chosen_from_the_metric(api: Api) -> None:
    body = {k: v for k, v in PIKA_FAILURES.items() if k != "ruleId"}
    first = api.call("POST", "/alert-rules", body=body)
    second = api.call("POST", "/alert-rules", body=body)
    assert [first[0], second[0]] == [201, 201]
    assert [first[1]["rule"]["ruleId"], second[1]["rule"]["ruleId"]] == [
        "custom_failure_rate_1",
        "custom_failure_rate_2",
    ]
    assert chosen_id("p95GenerationSeconds", set()) == "custom_p95_generation_seconds_1"
    assert audit_of(api) == [
        ("rule.create", "custom_failure_rate_1", "ok"),
        ("rule.create", "custom_failure_rate_2", "ok"),
    ]


@pytest.mark.parametrize(
    ("change", "status", "named"),
    [
        ({"ruleId": "slow_generation"}, 409, "ruleId: 'slow_generation' is a default rule"),
        ({"ruleId": "backtest"}, 400, "ruleId: 'backtest' is reserved"),
        ({"ruleId": "Bad Id"}, 400, "ruleId:"),
        ({"metric": "happiness"}, 400, "metric:"),
        ({"threshold": "high"}, 400, "threshold:"),
        ({"channels": ["pigeon"]}, 400, "channels.0:"),
        ({"colour": "red"}, 400, "colour:"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(
    api: Api, change: dict[str, Any], status: int, named: str
) -> None:
    code, body = api.call("POST", "/alert-rules", body={**PIKA_FAILURES, **change})
    assert code == status and body["error"]["message"].startswith(named), body
    assert "pika_failures" not in api.world.alerts.rules
    assert audit_of(api)[-1][2] == "failed"


def test_an_id_taken_and_the_cap_are_conflicts(api: Api) -> None:
    assert api.call("POST", "/alert-rules", body=PIKA_FAILURES)[0] == 201
    status, body = api.call("POST", "/alert-rules", body=PIKA_FAILURES)
    assert status == 409 and body["error"]["message"].startswith("ruleId: a rule 'pika_failures'")
    rule = AlertRule.model_validate(PIKA_FAILURES)
    for n in range(MAX_CUSTOM_RULES - 1):  # 200 custom rules stored in all
        api.world.alerts.rules[f"filler_{n}"] = rule.model_copy(update={"rule_id": f"filler_{n}"})
    status, body = api.call("POST", "/alert-rules", body={**PIKA_FAILURES, "ruleId": "one_more"})
    assert status == 409
    assert body["error"]["message"] == (
        "rules: at most 200 custom rules; delete or reuse one (200 stored)"
    )
    assert "one_more" not in api.world.alerts.rules
    assert api.call("DELETE", "/alert-rules/filler_0")[0] == 204
    assert api.call("POST", "/alert-rules", body={**PIKA_FAILURES, "ruleId": "one_more"})[0] == 201


def test_defaults_are_disabled_not_deleted_and_writes_need_an_admin(api: Api) -> None:
    status, body = api.call("DELETE", "/alert-rules/slow_generation")
    assert status == 409
    assert body["error"]["message"] == (
        "ruleId: 'slow_generation' is a default rule: it can be disabled (PUT with "
        '"enabled": false), not deleted'
    )
    assert "slow_generation" in api.world.alerts.rules
    assert audit_of(api) == [("rule.delete", "slow_generation", "failed")]
    assert api.call("POST", "/alert-rules", "tok-analytics", body=PIKA_FAILURES)[0] == 403
    assert api.call("DELETE", "/alert-rules/slow_generation", "tok-analytics")[0] == 403
    assert api.call("POST", "/alert-rules", None, body=PIKA_FAILURES)[0] == 401
    assert api.call("DELETE", "/alert-rules/Bad%20Id")[0] == 404
    assert len(audit_of(api)) == 1  # refusals write nothing


def test_a_rule_not_saved_is_backtested_as_if_stored() -> None:
    world = degraded_world()
    world.tick()
    world.tick()
    api = Api(world)
    rules_before = dict(world.alerts.rules)
    stored = world.alerts.rules["low_success_rate"].to_doc()
    _, expected = api.call("GET", "/alert-rules/low_success_rate/backtest", "tok-analytics")
    status, draft = api.call("POST", "/alert-rules/backtest", "tok-analytics", body=stored)
    assert status == 200 and draft == expected and draft["firings"] == 2
    unnamed = {k: v for k, v in stored.items() if k != "ruleId"}
    status, body = api.call("POST", "/alert-rules/backtest", "tok-analytics", body=unnamed)
    assert status == 200 and body["ruleId"] == "draft" and body["firings"] == 2
    # A stricter draft: a success rate below 0.5 never happened.
    status, body = api.call(
        "POST", "/alert-rules/backtest", body={**unnamed, "threshold": 0.5}, pagesPerWeek="0"
    )
    assert status == 200 and body["firings"] == 0 and body["suggestion"]["missed"] == []
    assert api.call("POST", "/alert-rules/backtest", body={**unnamed, "metric": "x"})[0] == 400
    status, body = api.call("POST", "/alert-rules/backtest", body=unnamed, window="90d")
    assert status == 400 and body["error"]["message"].startswith("window:")
    assert world.alerts.rules == rules_before  # nothing stored
