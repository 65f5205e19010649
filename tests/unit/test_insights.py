"""/quality, /providers and /business against figures computed independently from raw documents."""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.ingest import sketch
from video_monitoring.ingest.bounds import UNBOUNDED
from video_monitoring.ingest.pipeline import Counting
from video_monitoring.ingest.service import IngestService

DAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
WINDOW = Window(start=DAY, end=DAY + dt.timedelta(days=1))
PROVIDERS = ("runway", "pika", "heygen", "tiny")
FEATURES = ("custom_avatar", "voice_clone", "hd_export")


def generation(rng: random.Random, i: int) -> dict[str, Any]:
    provider = rng.choice(PROVIDERS[:3]) if i > 3 else "tiny"  # "tiny": four perfect scores
    created = DAY + dt.timedelta(seconds=rng.uniform(0, 86_000))
    doc: dict[str, Any] = {
        "userId": f"u{rng.randrange(30)}",
        "provider": provider,
        "status": "completed",
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=rng.uniform(1, 9)),
        "userTier": rng.choice(("free", "free", "premium")),
        "attempts": rng.choice((1, 1, 2)),
        "costUsd": round(rng.uniform(0.1, 2), 4),
    }
    if rng.random() < 0.05:
        doc["fallbackFrom"] = "runway"
    if doc["userTier"] == "premium" and rng.random() < 0.5:
        doc["features"] = rng.sample(FEATURES, rng.randint(1, 2))
    seconds = rng.lognormvariate(math.log(60 if provider != "pika" else 140), 0.4)
    doc["completedAt"] = doc["startedAt"] + dt.timedelta(seconds=seconds)
    if provider == "tiny":
        doc.update(qualityScore=10.0, outputSeconds=10.0)
        return doc
    if rng.random() < (0.25 if provider == "pika" else 0.03):
        doc["status"] = "failed"
        doc["error"] = {"code": rng.choice(("timeout", "nsfw")), "message": "x", "retryable": True}
        return doc
    doc["outputSeconds"] = rng.choice((5.0, 10.0, 15.5))
    if rng.random() < 0.8:
        doc["qualityScore"] = round(rng.uniform(4, 10), 2)
    if rng.random() < 0.6:
        doc["userRating"] = float(rng.choice((1, 2, 3, 4, 5)))
    return doc


@pytest.fixture(scope="module")
def world() -> tuple[AnalyticsEngine, list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(11)
    store = FakeStore()
    clock = FixedClock(DAY + dt.timedelta(days=1))
    # Every value tracked: these figures' arithmetic, not the bounds (test_bounds.py).
    monitor = PerformanceMonitor(store)
    ingest = IngestService(store, shards=4, clock=clock, bounds=UNBOUNDED)
    engine = AnalyticsEngine(store, monitor, Counting(4, UNBOUNDED), clock)
    docs = []
    for i in range(600):
        store.source[f"g{i}"] = generation(rng, i)
        docs.append(store.source[f"g{i}"])
        ingest.record_generation_metrics(f"g{i}")
        if i % 7 == 0:
            ingest.record_generation_metrics(f"g{i}")  # a duplicate delivery
    events = []
    types = ("video_viewed", "video_shared", "video_downloaded", "session_start", "feature_used")
    for i in range(400):
        kind = rng.choice((*types, "premium_upgrade"))
        event: dict[str, Any] = {
            "type": kind,
            "userId": f"u{rng.randrange(30)}",
            "timestamp": DAY + dt.timedelta(seconds=rng.uniform(-3600, 90_000)),
        }
        if kind == "premium_upgrade":
            event["amountUsd"] = rng.choice((9.99, 19.99))
        if kind == "feature_used":
            event["properties"] = {"feature": rng.choice(FEATURES)}
        store.events[f"e{i}"] = event
        ingest.record_app_event(f"e{i}")
        events.append(event)
    inside = [e for e in events if WINDOW.start <= e["timestamp"] < WINDOW.end]
    return engine, docs, inside


def wilson_lower(successes: int, n: int, confidence: float = 0.95) -> float:
    z = statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / (1 + z * z / n)


def test_quality_insights_per_provider(world: Any) -> None:
    engine, docs, _ = world
    result = engine.quality(WINDOW)
    scored_all = [d["qualityScore"] for d in docs if "qualityScore" in d]
    prior = statistics.fmean(scored_all)
    by_name = {p["provider"]: p for p in result["providers"]}
    assert set(by_name) == set(PROVIDERS)
    for name in PROVIDERS:
        mine = [d for d in docs if d["provider"] == name]
        got = by_name[name]
        completed = [d for d in mine if d["status"] == "completed"]
        failed = [d for d in mine if d["status"] == "failed"]
        assert (got["generations"], got["completed"], got["failed"]) == (
            len(mine), len(completed), len(failed)
        )  # fmt: skip
        finished = len(completed) + len(failed)
        assert got["successRate"] == pytest.approx(len(completed) / finished)
        assert got["successRateLowerBound"] == pytest.approx(wilson_lower(len(completed), finished))
        scores = [d["qualityScore"] for d in mine if "qualityScore" in d]
        assert got["quality"]["scored"] == len(scores)
        assert got["quality"]["avgScore"] == pytest.approx(statistics.fmean(scores), abs=1e-3)
        shrunk = (sum(scores) + 20 * prior) / (len(scores) + 20)
        assert got["quality"]["shrunkScore"] == pytest.approx(shrunk, abs=1e-3)
        ratings = [d["userRating"] for d in mine if "userRating" in d]
        assert got["satisfaction"]["rated"] == len(ratings)
        if ratings:
            assert got["satisfaction"]["avgRating"] == pytest.approx(statistics.fmean(ratings))
        times = sorted((d["completedAt"] - d["createdAt"]).total_seconds() for d in completed)
        exact_p95 = times[math.floor(0.95 * (len(times) - 1))]
        assert abs(got["generationTimeP95Seconds"] - exact_p95) <= sketch.ALPHA * exact_p95 + 1e-6
        output = sum(d["outputSeconds"] for d in completed if "outputSeconds" in d)
        cost = sum(d["costUsd"] for d in mine)
        assert got["costPerOutputSecondUsd"] == pytest.approx(cost / output)
        codes: dict[str, int] = {}
        for d in failed:
            codes[d["error"]["code"]] = codes.get(d["error"]["code"], 0) + 1
        assert got["errors"] == codes
        assert got["fallbackRate"] == pytest.approx(
            sum(1 for d in mine if "fallbackFrom" in d) / finished
        )
        assert got["retryRate"] == pytest.approx(
            sum(1 for d in mine if d["attempts"] > 1) / finished
        )
    # Sample size counts: four perfect scores do not beat hundreds of good ones.
    ranks = [p["provider"] for p in result["providers"]]
    assert ranks.index("tiny") > ranks.index("runway")
    assert ranks.index("pika") > max(ranks.index("runway"), ranks.index("heygen"))  # failing
    assert [p["rank"] for p in result["providers"]] == [1, 2, 3, 4]


def test_quality_by_tier_and_against_satisfaction(world: Any) -> None:
    engine, docs, _ = world
    result = engine.quality(WINDOW)
    for tier in ("free", "premium"):
        scores = [d["qualityScore"] for d in docs if d["userTier"] == tier and "qualityScore" in d]
        got = result["byTier"][tier]
        assert got["scored"] == len(scores)
        assert got["avgScore"] == pytest.approx(statistics.fmean(scores), abs=1e-3)
    pairs = [
        (d["qualityScore"], d["userRating"])
        for d in docs
        if "userRating" in d and "qualityScore" in d
    ]
    vs = result["qualityVsSatisfaction"]
    assert vs["pairs"] == len(pairs)
    expected = statistics.correlation([q for q, _ in pairs], [r for _, r in pairs])
    assert vs["correlation"] == pytest.approx(expected, abs=1e-9)
    bands = vs["byQualityBand"]
    assert sum(band["rated"] for band in bands) == len(pairs) > 0  # every pair in one band
    assert {band["qualityFrom"] for band in bands} >= {min(int(q), 9) for q, _ in pairs}
    for band in bands:
        rated = [r for q, r in pairs if min(int(q), 9) == band["qualityFrom"]]
        assert band["rated"] == len(rated)
        if rated:
            assert band["avgRating"] == pytest.approx(statistics.fmean(rated))


def test_providers_side_by_side(world: Any) -> None:
    engine, docs, _ = world
    rows = engine.provider_comparison(WINDOW)["providers"]
    assert {r["provider"] for r in rows} == set(PROVIDERS)  # so the loop below checks each
    totals = [r["generations"]["total"] for r in rows]
    assert totals == sorted(totals, reverse=True)
    for row in rows:
        mine = [d for d in docs if d["provider"] == row["provider"]]
        assert row["generations"]["total"] == len(mine)
        assert row["costUsd"] == pytest.approx(sum(d["costUsd"] for d in mine))
    pika = Window(start=WINDOW.start, end=WINDOW.end, provider="pika")
    assert [r["provider"] for r in engine.provider_comparison(pika)["providers"]] == ["pika"]


def test_business_metrics(world: Any) -> None:
    engine, docs, events = world
    got = engine.business(WINDOW)
    upgrades = [e for e in events if e["type"] == "premium_upgrade"]
    free = [d for d in docs if d["userTier"] == "free"]
    premium = [d for d in docs if d["userTier"] == "premium"]
    assert got["upgrades"] == len(upgrades)
    assert got["revenueUsd"] == pytest.approx(sum(e["amountUsd"] for e in upgrades))
    assert got["conversionRate"] == pytest.approx(len(upgrades) / len(free))
    assert got["generations"] == {
        "total": len(docs), "premium": len(premium), "free": len(free),
        "premiumShare": pytest.approx(len(premium) / len(docs)),
    }  # fmt: skip
    with_features = [d for d in premium if d.get("features")]
    assert got["premiumFeatures"]["generationsWithFeatures"] == len(with_features)
    assert got["premiumFeatures"]["adoptionRate"] == pytest.approx(
        len(with_features) / len(premium)
    )
    assert got["premiumFeatures"]["byFeature"] == {
        f: sum(1 for d in with_features if f in d["features"])
        for f in FEATURES
        if any(f in d["features"] for d in with_features)
    }
    completed = sum(1 for d in docs if d["status"] == "completed")
    for key, kind in (("views", "video_viewed"), ("shares", "video_shared"),
                      ("downloads", "video_downloaded")):  # fmt: skip
        n = sum(1 for e in events if e["type"] == kind)
        assert got["engagement"][key] == n
        assert got["engagement"]["perCompletedGeneration"][key] == pytest.approx(n / completed)
    assert got["sessions"] == sum(1 for e in events if e["type"] == "session_start")
    used = [e["properties"]["feature"] for e in events if e["type"] == "feature_used"]
    assert got["featureUsedEvents"] == {f: used.count(f) for f in set(used)}


def test_performance_figures(world: Any) -> None:
    engine, docs, _ = world
    got = engine._monitor.system_metrics(WINDOW).to_json()
    completed = [d for d in docs if d["status"] == "completed"]
    finished = [d for d in docs if d["status"] in ("completed", "failed")]
    queue = [(d["startedAt"] - d["createdAt"]).total_seconds() for d in docs]
    render = [(d["completedAt"] - d["startedAt"]).total_seconds() for d in completed]
    assert got["queueSeconds"] == {"avg": pytest.approx(statistics.fmean(queue), abs=1e-3),
                                   "samples": len(queue)}  # fmt: skip
    assert got["renderSeconds"]["avg"] == pytest.approx(statistics.fmean(render), abs=1e-3)
    assert got["throughputPerHour"] == pytest.approx(len(completed) / 24)
    assert got["avgAttempts"] == pytest.approx(statistics.fmean(d["attempts"] for d in finished))
    assert got["successRate"] == pytest.approx(len(completed) / len(finished))
    assert got["costUsd"] == pytest.approx(sum(d["costUsd"] for d in docs))
    output = sum(d["outputSeconds"] for d in completed if "outputSeconds" in d)
    assert got["costPerOutputSecondUsd"] == pytest.approx(sum(d["costUsd"] for d in docs) / output)
    codes: dict[str, int] = {}
    for d in docs:
        if d["status"] == "failed":
            codes[d["error"]["code"]] = codes.get(d["error"]["code"], 0) + 1
    assert got["errors"] == codes
