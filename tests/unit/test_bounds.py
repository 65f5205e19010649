"""Bounded keys: free-form providers, event types, error codes and features keep a cell or
counter of their own only when tracked; the rest count under `other`, exactly, with
`other/<field>` saying how many values went there, on /quality and /health."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_alert_manager import NOW, World
from video_monitoring.alerting.controls import GuardRails
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.alerting.rules import parse_rule
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.health import HealthCheck
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.config.constants import CLIENT_EVENT_TYPES, DEFAULT_TRACKED_EVENT_TYPES
from video_monitoring.config.settings import Settings
from video_monitoring.core.audit_log import AuditEntry
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import AppEvent, Window, parse_generation
from video_monitoring.ingest import counters
from video_monitoring.ingest.bounds import DEFAULT_BOUNDS, Bounds
from video_monitoring.ingest.events import event_contribution
from video_monitoring.ingest.pipeline import (
    Counting,
    SourceState,
    StoredState,
    generation_user_day,
    plan_change,
)
from video_monitoring.ingest.rollup import contribution, deltas, nest
from video_monitoring.ingest.service import IngestService
from video_monitoring.runtime.bootstrap import bounds_of
from video_monitoring.warehouse.archive import (
    cells_from_rows,
    event_cells_from_rows,
    user_days_from_rows,
)

DAY = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
DISTINCT = 10_000
LIMIT = 64 * 1024


def odd_generation(i: int) -> dict[str, Any]:
    """A failed generation whose every free-form field is a value never seen before."""
    created = DAY + dt.timedelta(seconds=i)
    return {
        "userId": f"user-{i}", "provider": f"acme-{i}", "status": "failed",
        "createdAt": created, "startedAt": created,
        "completedAt": created + dt.timedelta(seconds=30),
        "userTier": ("free", "premium")[i % 2], "model": f"model-{i}",
        "resolution": f"{i}p", "fallbackFrom": f"fallback-{i}",
        "error": {"code": f"weird_code_{i}", "message": "?", "retryable": False},
        "features": [f"feature-{i}", "hd_export"],
    }  # fmt: skip


def odd_event(i: int) -> AppEvent:
    """An app event of a type never seen before, naming a feature never seen before."""
    return AppEvent(
        type=f"invented_{i}", userId=f"user-{i}", timestamp=DAY + dt.timedelta(seconds=i),
        properties={"feature": f"feature-{i}"},
    )  # fmt: skip


def summed(contributions: Iterable[tuple[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    """The day bucket's cells: every contribution added to its cell."""
    cells: dict[str, dict[str, int]] = {}
    for cell, values in contributions:
        acc = cells.setdefault(cell, {})
        for key, value in values.items():
            acc[key] = acc.get(key, 0) + value
    return cells


def encoded_size(cells: Mapping[str, Mapping[str, int]]) -> int:
    """Bytes of the day document's cells as nested JSON (Firestore's size is of that order)."""
    return len(json.dumps({cell: nest(values) for cell, values in cells.items()}))


def test_ten_thousand_new_values_of_every_field_keep_the_days_documents_small() -> None:
    docs = [parse_generation(odd_generation(i)) for i in range(DISTINCT)]
    made = [contribution(f"g{i}", doc, 16) for i, doc in enumerate(docs)]
    cells = summed((c.cell, c.values) for c in made)
    assert set(cells) == {"other|free", "other|premium"}
    both = {key: a + cells["other|premium"].get(key, 0) for key, a in cells["other|free"].items()}
    assert both[counters.OTHER.key("provider")] == DISTINCT
    assert both[counters.OTHER.key("errorCode")] == DISTINCT
    assert both[counters.OTHER.key("feature")] == DISTINCT  # hd_export is tracked: not counted
    assert both[counters.ERRORS.key("other")] == DISTINCT
    assert (
        both[counters.FEATURES.key("other")] == both[counters.FEATURES.key("hd_export")] == DISTINCT
    )
    assert encoded_size(cells) < 4096

    events = [odd_event(i) for i in range(DISTINCT)]
    event_cells = summed(
        (c.cell, c.values)
        for c in (event_contribution(f"e{i}", e, 16) for i, e in enumerate(events))
    )
    assert event_cells == {
        "other": {
            "n": DISTINCT,
            counters.OTHER.key("eventType"): DISTINCT,
        }
    }  # feature_used alone counts features: an invented type's "feature" property is not one
    assert encoded_size(event_cells) < LIMIT
    user_keys = {key for doc in docs for key in generation_user_day(doc).values}
    assert len(user_keys) <= 8


def test_untracked_features_of_feature_used_events_count_under_other() -> None:
    at = DAY
    events = [
        AppEvent(type="feature_used", userId="u", timestamp=at, properties={"feature": name})
        for name in ("hd_export", "laser_eyes", "laser_eyes", "glitter")
    ]
    cells = summed((c.cell, c.values) for c in (event_contribution("e", e, 4) for e in events))
    assert cells == {
        "feature_used": {
            "n": 4, "feat/hd_export": 1, "feat/other": 3, counters.OTHER.key("feature"): 3,
        }
    }  # fmt: skip


def test_a_generation_whose_provider_leaves_the_list_moves_exactly() -> None:
    """Counted under its own provider, then (the list changed) under `other`: the old cell gets
    back exactly what it had, the generation is counted once."""
    doc = parse_generation(odd_generation(7))
    tracked = Bounds(providers=frozenset({"acme-7"}), error_codes=frozenset({"weird_code_7"}))
    before = contribution("g7", doc, 4, tracked)
    after = contribution("g7", doc, 4, DEFAULT_BOUNDS)
    assert before.cell == "acme-7|premium" and after.cell == "other|premium"
    cells = summed((d.cell, d.values) for d in deltas(None, before))
    cells = summed(
        [*((c, v) for c, v in cells.items()), *((d.cell, d.values) for d in deltas(before, after))]
    )
    assert all(v == 0 for v in cells["acme-7|premium"].values())
    assert cells["other|premium"] == dict(after.values)
    assert after.values[counters.OTHER.key("errorCode")] == 1 and "err/other" in after.values


def test_the_archive_maps_untracked_values_as_the_pipeline_does() -> None:
    """An untracked provider, error code, feature and event type rebuilt from BigQuery rows land
    in the cells and counters the pipeline's contributions give."""
    created = DAY
    failed = parse_generation(
        {
            "userId": "u", "provider": "acme", "status": "failed", "createdAt": created,
            "completedAt": created, "userTier": "free", "features": ["glitter", "sparkle"],
            "error": {"code": "weird", "message": "m", "retryable": False},
            "fallbackFrom": "zeta",
        }
    )  # fmt: skip
    want = summed([(contribution("g", failed, 4).cell, contribution("g", failed, 4).values)])
    plain = {
        "provider": "acme", "tier": "free", "status": "failed", "n": 1, "att_sum": 1,
        "retried": 0, "fallback": 1, "feat_any": 1, "costw": None, "rcv": 1,
        **{f"{m}_{s}": None for m in ("gt", "out", "qt", "rt", "cost", "q", "r") for s in "n"},
        **{f"qr_{n}": None for n in ("n", "q", "r", "qq", "rr", "qr")},
    }  # fmt: skip
    keyed = [
        {"kind": "err", "provider": "acme", "tier": "free", "key": "weird", "n": 1, "total": 0},
        {"kind": "errc", "provider": "acme", "tier": "free", "key": "pweird", "n": 1, "total": 0},
        {"kind": "fbk", "provider": "acme", "tier": "free", "key": "fzeta", "n": 1, "total": 0},
        {"kind": "feat", "provider": "acme", "tier": "free",
         "key": json.dumps(["glitter", "sparkle"]), "n": 1, "total": 0},
    ]  # fmt: skip
    assert dict(cells_from_rows([plain], keyed, DEFAULT_BOUNDS)) == want

    events = [odd_event(1), odd_event(2)]
    want_events = summed((event_contribution("e", e, 4).cell, event_contribution("e", e, 4).values)
                         for e in events)  # fmt: skip
    rows = [{"type": e.type, "feature": None, "n": 1, "rev_n": 0, "rev_sum": None} for e in events]
    assert dict(event_cells_from_rows(rows, DEFAULT_BOUNDS)) == want_events
    days = user_days_from_rows(
        [{"kind": "ev", "day": DAY, "user": "u", "key": e.type, "n": 1, "total": None}
         for e in events]
    )  # fmt: skip
    assert [dict(a.counters) for a in days] == [{counters.USER_EVENTS.key("other"): 2}]


def test_quality_and_health_say_how_many_values_went_to_other() -> None:
    store, clock = FakeStore(), FixedClock(DAY + dt.timedelta(hours=2))
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, shards=4, clock=clock)
    engine = AnalyticsEngine(store, monitor, Counting(4), clock)
    for i in range(30):
        doc = odd_generation(i)
        if i % 3 == 0:
            doc["provider"], doc["error"]["code"] = "runway", "provider_timeout"
        store.source[f"g{i}"] = doc
        ingest.record_generation_metrics(f"g{i}")
    for i in range(12):
        kind = ("session_start", "invented_a", "invented_b")[i % 3]
        store.events[f"e{i}"] = {"type": kind, "userId": "u", "timestamp": DAY}
        ingest.record_app_event(f"e{i}")
    window = Window(start=DAY, end=DAY + dt.timedelta(hours=2))
    expected = {"provider": 20, "errorCode": 20, "feature": 30, "eventType": 8}
    assert engine.quality(window)["countedAsOther"] == expected

    class Inputs:
        def health_inputs(self, now: dt.datetime, queued: int, stuck: int) -> Any:
            from tests.unit.test_health import inputs

            return inputs(now=now)

        def record_tick(self, at: dt.datetime) -> None:
            raise AssertionError("not a tick")

    check = HealthCheck(Inputs(), lambda now: (0, 0), clock, 0, others=lambda now: expected)
    assert check().to_json(with_detail=True)["countedAsOther24h"] == expected
    assert "countedAsOther24h" not in check().to_json(with_detail=False)


def test_other_is_alerted_on_but_never_paused() -> None:
    """Untracked providers failing together fire their rules in scope provider:other, but a
    pause action never pauses `other` and no admin can (no one provider to route away from)."""
    world = World()
    for i in range(40):
        world.add(f"acme-{i}", "completed" if i % 4 else "failed", 40, ago_minutes=50 - i)
        world.add("runway", "completed", 40, ago_minutes=50 - i)
    world.manager.rule_book.seed_default_rules()
    stored = world.alerts.get_rule("low_success_rate")
    assert stored is not None
    body = {**stored.to_doc(), "actions": [{"type": "pause_provider"}]}
    world.alerts.put_rule(parse_rule(body), "ops", NOW)
    responder = ProviderResponder(world.alerts, Recorded(), GuardRails(), world.clock)
    for _ in range(2):
        world.tick()
        responder.apply(world.clock.now, world.manager.rule_book.rules()[0], ["other", "runway"])
    fired = {(i.rule_id, i.scope) for i in world.alerts.instances.values()}
    assert ("low_success_rate", "provider:other") in fired
    assert responder.controls() == []
    with pytest.raises(InvalidArgument, match=r"^provider: 'other' sums the providers"):
        responder.pause("other", "ops", "", None)


class Recorded:
    """An audit log that keeps nothing."""

    def record(self, entry: AuditEntry) -> None:
        """Drop the entry."""


def test_the_defaults_cover_the_contract_and_settings_configure_them() -> None:
    bounds = bounds_of(Settings())
    assert bounds == DEFAULT_BOUNDS
    assert set(CLIENT_EVENT_TYPES) <= set(DEFAULT_TRACKED_EVENT_TYPES)
    assert {"runway", "pika", "heygen", "synthesia", "d-id"} <= (bounds.providers or set())
    rules = (Path(__file__).parents[2] / "firestore.rules").read_text()
    start = rules.index("data.type in [")
    listed = rules[start : rules.index("]", start)]
    assert re.findall(r"'([a-z_]+)'", listed) == list(CLIENT_EVENT_TYPES)


def test_tracked_lists_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKED_PROVIDERS", '["acme"]')
    monkeypatch.setenv("TRACKED_ERROR_CODES", '["weird"]')
    bounds = bounds_of(Settings())
    assert bounds.provider("acme") == "acme" and bounds.provider("runway") == "other"
    assert bounds.error_code("weird") == "weird" and bounds.error_code("timeout") == "other"
    monkeypatch.setenv("TRACKED_PROVIDERS", json.dumps([f"p{i}" for i in range(201)]))
    with pytest.raises(ValueError, match="tracked_providers"):
        Settings()


def test_free_text_field_names_and_features_cannot_grow_a_record() -> None:
    """A rejected document keeps at most 100 field names of at most 64 characters; a feature
    name over 128 characters is a rejection naming `features`, not a huge metrics record."""
    doc = odd_generation(1) | {f"{i:04d}" + "x" * 1400: i for i in range(300)}
    doc["status"] = "exploded"
    plan = plan_change("g1", SourceState(doc), StoredState(None, None), DAY, Counting(4))
    assert plan.rejected is not None and len(plan.rejected["fields"]) == 100
    assert max(len(name) for name in plan.rejected["fields"]) == 64
    assert len(json.dumps(plan.rejected, default=str)) < 16 * 1024
    long_feature = odd_generation(2) | {"features": ["f" * 129]}
    plan = plan_change("g2", SourceState(long_feature), StoredState(None, None), DAY, Counting(4))
    assert plan.outcome == "rejected" and (plan.reason or "").startswith("features.0:")
