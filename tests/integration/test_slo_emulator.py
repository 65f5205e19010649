"""On the real stack: generations through real trigger delivery; GET /slos answers every
objective's budget and burn rates as counted here from what was written; an admin turns on the
fast-burn rule over HTTP and the scheduled tick fires it for the provider that burns and overall,
not for the healthy one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.receivers import Receivers
from tests.integration.support import Stack, api, wait_until
from tests.integration.test_alerting_emulator import generation

pytestmark = pytest.mark.integration


def write(db: firestore.Client, now: dt.datetime) -> list[dict[str, Any]]:
    """Healthy runway, pika failing 1 in 4 and slow, a few pika failures in the last minutes,
    and older generations three days ago; returns what was written."""
    written: list[dict[str, Any]] = []

    def add(name: str, provider: str, status: str, seconds: float, created: dt.datetime) -> None:
        batch.set(db.collection("video_generations").document(name),
                  generation(provider, status, seconds, created))  # fmt: skip
        written.append({"provider": provider, "status": status, "seconds": seconds,
                        "created": created})  # fmt: skip

    batch = db.batch()
    for i in range(40):
        created = now - dt.timedelta(minutes=50 - i)
        add(f"slo-runway-{i}", "runway", "completed", 40, created)
        add(f"slo-pika-{i}", "pika", "completed" if i % 4 else "failed", 150, created)
    for i in range(4):
        add(f"slo-late-{i}", "pika", "failed" if i % 2 else "completed", 60,
            now - dt.timedelta(minutes=4 - i))  # fmt: skip
    for i in range(20):
        add(f"slo-old-{i}", "runway", "failed" if i == 0 else "completed", 95,
            now - dt.timedelta(days=3, minutes=i))  # fmt: skip
    batch.commit()
    return written


def counted(
    written: list[dict[str, Any]], sli: str, scope: str, start: dt.datetime, end: dt.datetime
) -> tuple[int, int]:
    """(valid, bad) of an indicator, from the documents written."""
    rows = [
        g for g in written
        if start <= g["created"] < end and scope in ("overall", f"provider:{g['provider']}")
    ]  # fmt: skip
    if sli == "success":
        done = [g for g in rows if g["status"] in ("completed", "failed")]
        return len(done), sum(1 for g in done if g["status"] == "failed")
    completed = [g for g in rows if g["status"] == "completed"]
    return len(completed), sum(1 for g in completed if g["seconds"] > 90)


def test_budgets_match_the_documents_and_the_fast_burn_rule_fires_where_it_burns(
    stack: Stack, db: firestore.Client, receivers: Receivers
) -> None:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    written = write(db, now)
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: sum(1 for _ in metrics.select([]).stream()) == len(written), timeout=60)
    stack.settle()

    status, body = api(stack, "GET", "/slos", role="analytics")
    assert status == 200
    end = dt.datetime.fromisoformat(body["at"].replace("Z", "+00:00"))
    assert now <= end <= now + dt.timedelta(minutes=2)
    objectives = {o["sloId"]: o for o in body["objectives"]}
    assert sorted(objectives) == ["generation_latency", "generation_success"]
    windows = {"5m": 5, "30m": 30, "1h": 60, "6h": 360}
    for objective in objectives.values():
        target = objective["target"]
        scopes = [b["scope"] for b in objective["budgets"]]
        assert scopes == ["overall", "provider:pika", "provider:runway"]
        for budget in objective["budgets"]:
            start = end - dt.timedelta(days=objective["windowDays"])
            valid, bad = counted(written, objective["sli"], budget["scope"], start, end)
            assert (budget["valid"], budget["bad"]) == (valid, bad), budget
            assert budget["budgetRemaining"] == pytest.approx(1 - bad / ((1 - target) * valid))
            for name, minutes in windows.items():
                start = end - dt.timedelta(minutes=minutes)
                valid, bad = counted(written, objective["sli"], budget["scope"], start, end)
                burn = None if valid == 0 else bad / valid / (1 - target)
                assert budget["burnRates"][name] == pytest.approx(burn), (budget["scope"], name)

    # The fast-burn rule is seeded off; an admin turns it on.
    status, body = api(stack, "GET", "/alert-rules/slo_success_fast_burn")
    assert status == 200 and body["rule"]["enabled"] is False
    rule = {k: v for k, v in body["rule"].items() if k != "ruleId"}
    status, body = api(stack, "PUT", "/alert-rules/slo_success_fast_burn", {**rule, "slo": "x"})
    assert status == 400 and body["error"]["message"].startswith("slo: no objective 'x'")
    status, _ = api(stack, "PUT", "/alert-rules/slo_success_fast_burn", {**rule, "enabled": True})
    assert status == 200

    assert stack.run_schedule("aggregate_and_alert", now) == 200
    query = db.collection("alert_instances").where(
        filter=FieldFilter("ruleId", "==", "slo_success_fast_burn")
    )
    firing = {d["scope"]: d for d in (s.to_dict() or {} for s in query.stream())}
    # pika: 12 of 44 failed in the hour (burn 54.5), 2 of 4 in the last 5 minutes (100);
    # overall 12 of 84 (28.6) and 2 of 4; runway has no failure in the hour.
    assert sorted(firing) == ["overall", "provider:pika"]
    assert all(d["status"] == "firing" and d["severity"] == "critical" for d in firing.values())
    assert firing["provider:pika"]["value"] == pytest.approx(12 / 44 / 0.005)
    wait_until(
        lambda: any("slo_success_fast_burn (provider:pika)" in str(m["Subject"])
                    for m in receivers.inbox.messages),
        timeout=20,
    )  # fmt: skip
