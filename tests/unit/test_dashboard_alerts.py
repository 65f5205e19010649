"""GET /alerts with filters, the admin actions on alerts, and reading and replacing rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from tests.unit.test_alert_manager import World, degraded_world
from tests.unit.test_backtest import Ticking
from tests.unit.test_dashboard import json_response, verifier
from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.notifications import Delivery, RetryPolicy
from video_monitoring.alerting.rules import METRIC_GROUPS
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.core.budget import Budget
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.http import Request


class Api:
    """A dashboard over a degraded world whose pika alerts have fired."""

    def __init__(self, world: World, **services: Any) -> None:
        """`services`: more of the Dashboard's optional services (audit, slos, ...)."""
        self.world = world
        self.dashboard = Dashboard(
            ApiServices(
                AnalyticsEngine(world.store, world.monitor),
                world.clock,
                400,
                verifier=verifier,
                alerts=world.manager,
                **services,
            )
        )

    def call(
        self,
        method: str,
        path: str,
        token: str | None = "tok-admin",
        body: Any = None,
        **params: str,
    ) -> tuple[int, dict[str, Any]]:
        raw = (
            b""
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        header = None if token is None else f"Bearer {token}"
        response = json_response(self.dashboard.handle(Request(method, path, params, header, raw)))
        return response.status, response.body

    def instance(self, rule: str, scope: str) -> str:
        return next(
            i.instance_id
            for i in self.world.alerts.instances.values()
            if (i.rule_id, i.scope) == (rule, scope)
        )


@pytest.fixture
def api() -> Api:
    world = degraded_world()
    world.tick()
    world.tick()
    return Api(world)


def test_alerts_lists_active_and_history_with_filters(api: Api) -> None:
    status, body = api.call("GET", "/alerts", "tok-analytics", window="1h")
    assert status == 200
    assert {(a["ruleId"], a["scope"]) for a in body["active"]} == {
        ("low_success_rate", "provider:pika"),
        ("slow_generation", "provider:pika"),
        ("low_success_rate", "overall"),
    }
    assert body["counts"]["byStatus"] == {"firing": 3}
    assert body["historyTotal"] == 3 and not body["historyTruncated"]
    _, pika = api.call("GET", "/alerts", "tok-analytics", provider="pika", rule="slow_generation")
    assert [(a["ruleId"], a["scope"]) for a in pika["active"]] == [
        ("slow_generation", "provider:pika")
    ]
    _, limited = api.call("GET", "/alerts", "tok-analytics", limit="1")
    assert len(limited["history"]) == 1 and limited["historyTruncated"]
    _, none = api.call("GET", "/alerts", "tok-analytics", status="resolved")
    assert none["active"] == [] and none["history"] == []
    _, early = api.call(
        "GET",
        "/alerts",
        "tok-analytics",
        **{"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"},
    )
    assert early["history"] == [] and len(early["active"]) == 3  # open alerts whatever the window


def test_about_keeps_the_alerts_on_a_pages_metrics(api: Api) -> None:
    """`about=system` or `limits` keeps only alerts on that group's metrics: none of the degraded
    world's (success rate, generation time) until one of its alerts is on the queue."""
    for about in ("system", "limits"):
        _, body = api.call("GET", "/alerts", "tok-analytics", about=about)
        assert body["active"] == [] and body["history"] == []
    instances = api.world.alerts.instances
    alert_id = api.instance("slow_generation", "provider:pika")
    queued = instances[alert_id] = dataclasses.replace(instances[alert_id], metric="queuedJobs")
    _, system = api.call("GET", "/alerts", "tok-analytics", about="system")
    assert [a["alertId"] for a in system["active"]] == [queued.instance_id]
    assert [a["alertId"] for a in system["history"]] == [queued.instance_id]
    _, limits = api.call("GET", "/alerts", "tok-analytics", about="limits")
    assert limits["active"] == []
    assert METRIC_GROUPS["limits"] == {"providerUtilization", "budgetForecastShare"}
    assert "queuedJobs" in METRIC_GROUPS["system"] and "stuckJobs" in METRIC_GROUPS["system"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"status": "burning"}, "status:"),
        ({"severity": "high"}, "severity:"),
        ({"limit": "0"}, "limit:"),
        ({"limit": "ten"}, "limit:"),
        ({"rule": "Bad Rule"}, "rule:"),
        ({"about": "everything"}, "about:"),
        ({"colour": "red"}, "colour:"),
    ],
)
def test_alert_filters_are_validated(api: Api, params: dict[str, str], named: str) -> None:
    status, body = api.call("GET", "/alerts", "tok-analytics", **params)
    assert status == 400
    assert body["error"]["message"].startswith(named)


def test_acknowledge_suppress_resolve_by_admin_only(api: Api) -> None:
    alert_id = api.instance("slow_generation", "provider:pika")
    path = f"/alerts/{alert_id}"
    assert api.call("POST", f"{path}/acknowledge", None)[0] == 401
    assert api.call("POST", f"{path}/acknowledge", "tok-analytics")[0] == 403
    status, body = api.call("POST", f"{path}/acknowledge", body={"note": "on it"})
    assert status == 200
    assert body["alert"]["status"] == "acknowledged"
    assert body["alert"]["acknowledgedBy"] == "tok-admin"
    assert body["alert"]["history"][-1]["by"] == "tok-admin"
    assert "on it" in body["alert"]["history"][-1]["detail"]

    status, body = api.call("POST", f"{path}/suppress", body={"note": "x"})
    assert (status, body["error"]["message"][:8]) == (400, "minutes:")
    status, body = api.call("POST", f"{path}/suppress", body={"minutes": 99999})
    assert (status, body["error"]["message"][:8]) == (400, "minutes:")
    status, body = api.call("POST", f"{path}/suppress", body=b"{not json")
    assert (status, body["error"]["message"][:5]) == (400, "body:")
    status, body = api.call("POST", f"{path}/suppress", body={"minutes": 60, "colour": 1})
    assert (status, body["error"]["message"][:7]) == (400, "colour:")
    status, body = api.call("POST", f"{path}/suppress", body={"minutes": 60})
    assert (status, body["alert"]["status"]) == (200, "suppressed")
    assert body["alert"]["suppressedUntil"] == api.world.clock.now + dt.timedelta(minutes=60)

    status, body = api.call("POST", f"{path}/resolve", body={"note": "provider fixed"})
    assert (status, body["alert"]["status"]) == (200, "resolved")
    assert body["alert"]["resolvedBy"] == "tok-admin"
    status, body = api.call("POST", f"{path}/acknowledge")
    assert (status, body["error"]["code"]) == (409, "failed-precondition")
    _, listed = api.call("GET", "/alerts", "tok-analytics", status="resolved")
    assert [a["alertId"] for a in listed["history"]] == [alert_id]
    assert alert_id not in [a["alertId"] for a in listed["active"]]

    assert api.call("POST", "/alerts/nope/acknowledge")[0] == 404
    assert api.call("POST", f"{path}/explode")[0] == 404
    assert api.call("GET", f"{path}/acknowledge")[0] == 405


def test_rules_read_and_replace_validated(api: Api) -> None:
    status, body = api.call("GET", "/alert-rules", "tok-analytics")
    assert status == 200
    rules = {r["ruleId"]: r for r in body["rules"]}
    assert set(rules) >= {
        "slow_generation", "low_success_rate", "quality_degradation", "low_satisfaction",
        "conversion_drop",
    }  # fmt: skip
    rule = rules["slow_generation"]
    changed = {k: v for k, v in rule.items() if k != "ruleId"} | {"threshold": 120.0}
    assert api.call("PUT", "/alert-rules/slow_generation", "tok-analytics", body=changed)[0] == 403
    status, body = api.call("PUT", "/alert-rules/slow_generation", body={**rule, "threshold": "x"})
    assert (status, body["error"]["message"][:10]) == (400, "threshold:")
    status, body = api.call("PUT", "/alert-rules/slow_generation", body={**rule, "window": "2d"})
    assert (status, body["error"]["message"][:7]) == (400, "window:")
    status, body = api.call("PUT", "/alert-rules/slow_generation", body={**rule, "ruleId": "other"})
    assert (status, body["error"]["message"][:7]) == (400, "ruleId:")
    assert api.call("PUT", "/alert-rules/no_such_rule", body=changed)[0] == 404
    status, body = api.call("PUT", "/alert-rules/slow_generation", body=changed)
    assert (status, body["rule"]["threshold"]) == (200, 120.0)
    status, body = api.call("GET", "/alert-rules/slow_generation", "tok-analytics")
    assert (status, body["rule"]["threshold"]) == (200, 120.0)
    assert api.world.alerts.rules["slow_generation"].threshold == 120.0


def test_summary_counts_open_alerts_per_provider_scope(api: Api) -> None:
    # The summary reads alert_instances through the monitoring store; mirror them there.
    api.world.store.alerts = [i.to_doc() for i in api.world.alerts.instances.values()]
    _, everything = api.call("GET", "/summary", "tok-analytics", window="1h")
    assert everything["alerts"]["active"] == 3
    _, pika = api.call("GET", "/summary", "tok-analytics", window="1h", provider="pika")
    assert pika["alerts"]["active"] == 2
    _, runway = api.call("GET", "/summary", "tok-analytics", window="1h", provider="runway")
    assert runway["alerts"]["active"] == 0


def test_odd_numbers_and_ids_are_client_errors(api: Api) -> None:
    status, body = api.call("GET", "/alerts", "tok-analytics", limit="²")
    assert (status, body["error"]["message"][:6]) == (400, "limit:")
    status, body = api.call("GET", "/trends", "tok-analytics", horizon="9" * 5000)
    assert (status, body["error"]["message"][:8]) == (400, "horizon:")
    assert api.call("POST", "/alerts/__x__/acknowledge")[0] == 404
    assert api.call("GET", "/alert-rules/__x__", "tok-analytics")[0] == 404
    assert api.call("PUT", "/alert-rules/Bad Id", body={"metric": "successRate"})[0] == 404


def test_alert_page_data_has_history_deliveries_and_the_rule_figure(api: Api) -> None:
    """GET /alerts/{alertId} (also under the console's /api prefix): the instance, its
    deliveries and the rule's figure each run measured; pika fails 10 of its 40 finished
    generations in the hour, so each run saw a success rate of exactly 30/40."""
    alert_id = api.instance("low_success_rate", "provider:pika")
    status, body = api.call("GET", f"/api/alerts/{alert_id}", "tok-analytics")
    assert status == 200
    assert body["alert"]["alertId"] == alert_id
    assert body["alert"]["status"] == "firing"
    assert body["rule"]["ruleId"] == "low_success_rate"
    figure = body["figure"]
    assert (figure["metric"], figure["scope"], figure["window"]) == (
        "successRate", "provider:pika", "1h",
    )  # fmt: skip
    assert figure["threshold"] == 0.95 and figure["comparator"] == "lt"
    assert [p["value"] for p in figure["points"]] == [pytest.approx(30 / 40)] * 2
    ticks = [p["at"] for p in figure["points"]]
    assert ticks == sorted(ticks) and len(set(ticks)) == 2
    sent = {(d["channel"], d["event"], d["status"]) for d in body["deliveries"]}
    assert ("email", "firing", "sent") in sent and ("slack", "firing", "sent") in sent
    assert all(d["attempts"] >= 1 for d in body["deliveries"])
    # The same answer without the prefix; the world's notifications link to the page.
    assert api.call("GET", f"/alerts/{alert_id}", "tok-analytics")[1] == body
    links = [n.dashboard_url for n in api.world.channels["email"].sent]
    assert (
        f"http://127.0.0.1:5001/p/us-central1/video_analytics_dashboard/alerts/{alert_id}" in links
    )


def test_alert_page_errors(api: Api) -> None:
    alert_id = api.instance("low_success_rate", "provider:pika")
    assert api.call("GET", f"/alerts/{alert_id}", None)[0] == 401
    assert api.call("GET", f"/alerts/{alert_id}", "tok-user")[0] == 403
    status, body = api.call("GET", "/alerts/no-such-alert", "tok-analytics")
    assert (status, body["error"]["message"]) == (404, "alertId: no alert 'no-such-alert'")
    status, body = api.call("GET", f"/alerts/{alert_id}", "tok-analytics", window="1h")
    assert (status, body["error"]["message"].split(":")[0]) == (400, "window")
    assert api.call("POST", f"/alerts/{alert_id}", "tok-admin")[0] == 405


def test_backtest_over_http_for_readers_with_named_errors(api: Api) -> None:
    status, body = api.call("GET", "/api/alert-rules/low_success_rate/backtest", "tok-analytics")
    assert status == 200
    assert body["ruleId"] == "low_success_rate" and body["runs"] == 2
    assert body["firings"] == 2  # overall and provider:pika, still firing
    assert {e["scope"] for e in body["episodes"]} == {"overall", "provider:pika"}
    assert all(e["to"] is None for e in body["episodes"])
    status, body = api.call(
        "GET", "/alert-rules/low_success_rate/backtest", threshold="0.5", pagesPerWeek="0"
    )
    assert status == 200 and body["threshold"] == 0.5 and body["firings"] == 0
    assert body["suggestion"]["threshold"] == 0.5 and body["suggestion"]["missed"] == []
    now = api.world.clock.now
    old = (now - dt.timedelta(days=120)).isoformat()
    for params, named in (
        ({"threshold": "lots"}, "threshold"),
        ({"threshold": "nan"}, "threshold"),
        ({"threshold": "1.5"}, "threshold"),  # a success rate threshold above 1
        ({"pagesPerWeek": "-1"}, "pagesPerWeek"),
        ({"colour": "red"}, "colour"),
        ({"window": "90d"}, "window"),
        ({"from": old, "to": now.isoformat()}, "from"),  # beyond the 31-day span
        ({"from": old, "to": (now - dt.timedelta(days=100)).isoformat()}, "from"),  # expired
    ):
        status, body = api.call("GET", "/alert-rules/low_success_rate/backtest", **params)
        assert status == 400 and body["error"]["message"].startswith(f"{named}:"), (params, body)
    assert api.call("GET", "/alert-rules/nope/backtest")[0] == 404
    assert api.call("POST", "/alert-rules/low_success_rate/backtest")[0] == 405
    assert api.call("GET", "/alert-rules/low_success_rate/backtest", None)[0] == 401


def test_a_backtest_past_the_request_deadline_is_a_503_naming_from() -> None:
    world = degraded_world()
    world.tick()
    late = Ticking(30.0)  # every look at the clock finds 30 s more gone
    world.manager = AlertManager(
        world.alerts, Delivery(world.channels, RetryPolicy(attempts=1)), "", world.clock,
        backtest_budget=lambda: Budget(50, late),
    )  # fmt: skip
    status, body = Api(world).call("GET", "/alert-rules/low_success_rate/backtest", window="1h")
    assert status == 503 and body["error"]["code"] == "deadline-exceeded"
    assert body["error"]["message"].startswith("from: the backtest of 1 hour stopped at the ")
