"""Error recovery figures from the rollups, against answers computed here from the seed: the
recovery rate, failures per code over time (top 8 plus `other`), retryable against permanent
and the fallback matrix; exact under redelivery and corrections; bounded keys; the rule metric."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.alerting.metrics import ScopeTotals, measure
from video_monitoring.alerting.rules import DEFAULT_RULES
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.analytics.recovery import RecoveryService
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window
from video_monitoring.ingest.rollup import merge_cells
from video_monitoring.ingest.service import IngestService

DAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
NOW = DAY + dt.timedelta(days=1)
TRACKED_PROVIDERS = ("runway", "pika", "heygen", "synthesia", "d-id")
TRACKED_CODES = (
    "provider_timeout", "provider_5xx", "provider_unavailable", "content_policy",
    "quota_exceeded", "rate_limited", "invalid_input", "timeout", "internal_error",
)  # fmt: skip
# The default table, written out again: internal_error is left to each document's flag.
CLASSES = {
    "provider_timeout": "retryable", "provider_5xx": "retryable",
    "provider_unavailable": "retryable", "quota_exceeded": "retryable",
    "rate_limited": "retryable", "timeout": "retryable", "content_policy": "permanent",
    "invalid_input": "permanent",
}  # fmt: skip


def seed_docs(n: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """Final states of `n` generations over three hours of the day."""
    docs = {}
    for i in range(n):
        created = DAY + dt.timedelta(hours=10, seconds=rng.randrange(3 * 3600))
        status = rng.choice(("completed", "completed", "failed", "failed", "cancelled", "queued"))
        doc: dict[str, Any] = {
            "userId": f"u{i % 17}", "provider": rng.choice((*TRACKED_PROVIDERS, "acme")),
            "status": status, "createdAt": created, "userTier": rng.choice(("free", "premium")),
            "attempts": rng.choice((1, 1, 2, 3)),
        }  # fmt: skip
        if rng.random() < 0.4:
            doc["fallbackFrom"] = rng.choice(("runway", "pika", "heygen", "zeta"))
        if status != "queued":
            doc["completedAt"] = created + dt.timedelta(seconds=rng.randrange(5, 300))
        if status == "failed":
            code = rng.choice((*TRACKED_CODES, *TRACKED_CODES[:4], "weird_1", "weird_2"))
            doc["error"] = {"code": code, "message": "m", "retryable": rng.random() < 0.6}
        docs[f"g{i}"] = doc
    return docs


def ingest_all(store: FakeStore, docs: dict[str, dict[str, Any]], rng: random.Random) -> None:
    """Each generation first in a wrong state, then its final one twice, in shuffled order."""
    ingest = IngestService(store, shards=4, clock=FixedClock(NOW))
    order = list(docs)
    rng.shuffle(order)
    for doc_id in order:
        final = docs[doc_id]
        wrong = {**final, "status": "failed", "attempts": 2, "fallbackFrom": "pika",
                 "completedAt": final["createdAt"] + dt.timedelta(seconds=1),
                 "error": {"code": "timeout", "message": "m", "retryable": False}}  # fmt: skip
        for state in (wrong, final, final):
            store.source[doc_id] = state
            ingest.record_generation_metrics(doc_id)


def mapped(provider: str) -> str:
    return provider if provider in TRACKED_PROVIDERS else "other"


def expected(docs: dict[str, dict[str, Any]], provider: str | None = None) -> dict[str, Any]:
    """The figures, computed from the documents as docs/recovery.md defines them."""
    finished = [
        d for d in docs.values()
        if d["status"] in ("completed", "failed") and (provider is None
                                                       or mapped(d["provider"]) == provider)
    ]  # fmt: skip
    tried = [d for d in finished if d["attempts"] > 1 or d.get("fallbackFrom")]
    recovered = sum(d["status"] == "completed" for d in tried)
    failures = [d for d in finished if d["status"] == "failed"]

    def code_of(d: dict[str, Any]) -> str:
        return d["error"]["code"] if d["error"]["code"] in TRACKED_CODES else "other"

    def class_of(d: dict[str, Any]) -> str:
        code = code_of(d)
        if code in CLASSES:
            return CLASSES[code]
        return "retryable" if d["error"]["retryable"] else "permanent"

    per_code = Counter(code_of(d) for d in failures)
    top = sorted((c for c in per_code if c != "other"), key=lambda c: (-per_code[c], c))[:8]
    series: dict[dt.datetime, Counter[str]] = {}
    for d in failures:
        hour = d["createdAt"].replace(minute=0, second=0)
        point = series.setdefault(hour, Counter())
        point[code_of(d) if code_of(d) in top else "other"] += 1
        point[class_of(d)] += 1
    matrix: dict[tuple[str, str], Counter[str]] = {}
    for d in finished:
        if d.get("fallbackFrom"):
            pair = (mapped(d["fallbackFrom"]), mapped(d["provider"]))
            matrix.setdefault(pair, Counter())[d["status"]] += 1
    classes = Counter(class_of(d) for d in failures)
    return {
        "recovery": (len(tried), recovered),
        "failed": len(failures),
        "classes": classes,
        "top": top,
        "per_code": per_code,
        "series": series,
        "matrix": matrix,
    }


@pytest.mark.parametrize("provider", [None, "pika", "other"])
def test_recovery_figures_equal_the_seed_after_corrections_and_redelivery(
    store: FakeStore, provider: str | None
) -> None:
    rng = random.Random(27)
    docs = seed_docs(400, rng)
    ingest_all(store, docs, rng)
    want = expected(docs, provider)
    window = Window(start=DAY + dt.timedelta(hours=9), end=DAY + dt.timedelta(hours=14),
                    provider=provider)  # fmt: skip
    got = RecoveryService(store, clock=FixedClock(NOW)).report(window)

    attempted, recovered = want["recovery"]
    assert attempted > 20 and got["recovery"] == {
        "attempted": attempted, "recovered": recovered, "unrecovered": attempted - recovered,
        "rate": recovered / attempted,
    }  # fmt: skip
    errors = got["errors"]
    assert errors["failed"] == want["failed"] > 0
    assert (errors["retryable"], errors["permanent"], errors["unclassified"]) == (
        want["classes"]["retryable"],
        want["classes"]["permanent"],
        0,
    )
    assert errors["retryableShare"] == want["classes"]["retryable"] / want["failed"]
    assert errors["topCodes"] == want["top"] and len(want["top"]) == 8
    rows = {row["code"]: row["failed"] for row in errors["codes"]}
    assert rows == {
        **{c: want["per_code"][c] for c in want["top"]},
        "other": sum(n for c, n in want["per_code"].items() if c not in want["top"]),
    }
    assert got["granularity"] == "hour" and len(got["errorSeries"]) == 5
    for point in got["errorSeries"]:
        truth = want["series"].get(point["start"], Counter())
        assert point["codes"] == {c: truth[c] for c in [*want["top"], "other"]}, point["start"]
        assert point["retryable"] == truth["retryable"]
        assert point["permanent"] == truth["permanent"]
        assert point["failed"] == truth["retryable"] + truth["permanent"]
    matrix = {(r["from"], r["to"]): r for r in got["fallbacks"]}
    assert set(matrix) == set(want["matrix"])
    for pair, outcome in want["matrix"].items():
        row = matrix[pair]
        assert (row["completed"], row["failed"]) == (outcome["completed"], outcome["failed"])
        assert row["recoveryRate"] == outcome["completed"] / (outcome["completed"] +
                                                               outcome["failed"])  # fmt: skip
    totals = [r["total"] for r in got["fallbacks"]]
    assert totals == sorted(totals, reverse=True)
    if provider is None:  # untracked providers on both sides land in `other`
        assert ("other", "other") in matrix and all(
            p in (*TRACKED_PROVIDERS, "other") for pair in matrix for p in pair
        )


def test_the_window_total_is_the_sum_of_its_minutes(store: FakeStore) -> None:
    """Minute buckets add up to the hour's figures (one read per bucket, same counters)."""
    rng = random.Random(5)
    docs = seed_docs(120, rng)
    ingest_all(store, docs, rng)
    service = RecoveryService(store, clock=FixedClock(NOW))
    window = Window(start=DAY + dt.timedelta(hours=10), end=DAY + dt.timedelta(hours=11))
    by_minute = service.report(window, "minute")
    by_hour = service.report(window, "hour")
    assert len(by_minute["errorSeries"]) == 60 and len(by_hour["errorSeries"]) == 1
    for key in ("failed", "retryable", "permanent"):
        assert sum(p[key] for p in by_minute["errorSeries"]) == by_hour["errorSeries"][0][key]
    assert by_minute["recovery"] == by_hour["recovery"]


def test_a_code_the_table_does_not_list_follows_each_documents_flag(store: FakeStore) -> None:
    ingest = IngestService(store, shards=2, clock=FixedClock(NOW))
    created = DAY + dt.timedelta(hours=10)
    for i, (code, flag) in enumerate(
        [("internal_error", True), ("internal_error", False), ("internal_error", False),
         ("content_policy", True), ("weird", True)]  # the table outranks a wrong flag
    ):  # fmt: skip
        store.source[f"f{i}"] = {
            "userId": "u", "provider": "runway", "status": "failed", "createdAt": created,
            "completedAt": created, "userTier": "free",
            "error": {"code": code, "message": "m", "retryable": flag},
        }  # fmt: skip
        ingest.record_generation_metrics(f"f{i}")
    # A corrected flag moves the failure, nothing is left behind.
    store.source["f2"]["error"] = {"code": "internal_error", "message": "m", "retryable": True}
    ingest.record_generation_metrics("f2")
    window = Window(start=created, end=created + dt.timedelta(minutes=1))
    got = RecoveryService(store, clock=FixedClock(NOW)).report(window)["errors"]
    rows = {r["code"]: r for r in got["codes"]}
    assert (rows["internal_error"]["retryable"], rows["internal_error"]["permanent"]) == (2, 1)
    assert rows["internal_error"]["classifiedBy"] == "flag"
    assert (rows["content_policy"]["permanent"], rows["content_policy"]["classifiedBy"]) == (
        1, "table"
    )  # fmt: skip
    assert rows["other"]["retryable"] == 1
    assert (got["retryable"], got["permanent"], got["failed"]) == (3, 2, 5)


def test_windows_the_rollups_do_not_serve_are_a_400_naming_the_parameter(
    store: FakeStore,
) -> None:
    service = RecoveryService(store, clock=FixedClock(NOW))
    month = Window(start=NOW - dt.timedelta(days=30), end=NOW)
    with pytest.raises(InvalidArgument, match=r"^granularity: minute"):
        service.report(month, "minute")
    with pytest.raises(InvalidArgument, match=r"^from: recovery figures come from the rollups"):
        service.report(Window(start=NOW - dt.timedelta(days=800), end=NOW - dt.timedelta(days=790)))
    assert len(service.report(month)["errorSeries"]) == 30  # days by default beyond a week


def test_the_rule_metric_is_the_recovery_rate_and_the_default_rule_uses_it(
    store: FakeStore,
) -> None:
    rng = random.Random(11)
    docs = seed_docs(200, rng)
    ingest_all(store, docs, rng)
    window = Window(start=DAY, end=NOW)
    served = RecoveryService(store, clock=FixedClock(NOW)).report(window)
    attempted, recovered = expected(docs)["recovery"]
    totals = merge_cells(PerformanceMonitor(store).cells(window))
    got = measure("recoveryRate", ScopeTotals(window, totals))
    assert (got.value, got.samples, got.successes) == (recovered / attempted, attempted, recovered)
    assert served["recovery"]["rate"] == got.value
    (rule,) = [r for r in DEFAULT_RULES if r.rule_id == "recovery_rate_drop"]
    assert (rule.metric, rule.comparator, rule.threshold, rule.is_rate) == (
        "recoveryRate", "lt", 0.5, True
    )  # fmt: skip
