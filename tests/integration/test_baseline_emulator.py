"""On the real emulator: the values baseline rules compare with (previous days' runs, read by
document id with a projection), and default rules nobody edited following a new definition
while edited ones stay as they are."""

from __future__ import annotations

import datetime as dt

import pytest
from google.cloud import firestore

from video_monitoring.adapters.firestore_alerts import FirestoreAlertStore
from video_monitoring.alerting.metrics import system_metrics_id
from video_monitoring.alerting.rules import DEFAULT_RULES, AlertRule

pytestmark = pytest.mark.integration
CONVERSION = next(r for r in DEFAULT_RULES if r.rule_id == "conversion_drop")


def test_previous_days_values_by_tick(db: firestore.Client) -> None:
    store = FirestoreAlertStore(db)
    now = dt.datetime(2026, 11, 30, 12, 5, tzinfo=dt.UTC)
    days = [now - dt.timedelta(days=d) for d in (1, 2, 3)]
    for tick, value in ((days[0], 0.04), (days[2], None)):
        db.collection("system_performance_metrics").document(
            system_metrics_id(tick, "24h", "overall")
        ).set({"tick": tick, "ruleMetrics": {"conversionRate": value, "total": 9.0}})
    assert store.rule_values("conversionRate", "overall", "24h", days) == [0.04, None, None]


def test_unedited_defaults_are_updated_and_edited_ones_kept(db: firestore.Client) -> None:
    store = FirestoreAlertStore(db)
    old = {**CONVERSION.to_doc(), "kind": "threshold", "threshold": 0.5, "minSamples": 20}
    rules = db.collection("alert_rules")
    rules.document("conversion_drop").set({**old, "seeded": True})
    edited = next(r for r in DEFAULT_RULES if r.rule_id == "slow_generation")
    store.put_rule(
        AlertRule.model_validate({**edited.to_doc(), "threshold": 120.0}),
        "ops", dt.datetime.now(dt.UTC),
    )  # fmt: skip
    changed = store.seed_rules(DEFAULT_RULES)
    assert "conversion_drop" in changed and "slow_generation" not in changed
    assert store.get_rule("conversion_drop") == CONVERSION
    kept = store.get_rule("slow_generation")
    assert kept is not None and kept.threshold == 120.0
    assert store.seed_rules(DEFAULT_RULES) == []  # nothing left to change
