"""Quality, provider and business figures from rollup cells (pure; defined in docs/figures.md)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from video_monitoring.analytics.performance import generation_time, system_metrics_json
from video_monitoring.config import constants
from video_monitoring.core.models import Window
from video_monitoring.core.stats import wilson_interval
from video_monitoring.ingest import counters
from video_monitoring.ingest.bounds import FIELDS
from video_monitoring.ingest.counters import MILLI
from video_monitoring.ingest.rollup import Totals, merge_cells, ratio, split_cell, statuses

Cells = list[tuple[str, Mapping[str, float]]]
PRIOR_WEIGHT = 20  # generations' worth of the overall mean in a provider's shrunk quality
DEFAULT_PRIOR_QUALITY = 7.0  # used only when no generation in the window has a quality score
CONFIDENCE = 0.95


def providers_in(cells: Iterable[tuple[str, Mapping[str, float]]]) -> list[str]:
    """Providers present in the cells, sorted."""
    return sorted({split_cell(key)[0] for key, _ in cells})


def counted_as_other(cells: Cells, events: Iterable[Totals]) -> dict[str, int]:
    """Per bounded field, how many values the window counted under `other` (generation and
    event cells together: `feature` adds generations' untracked names and feature_used events')."""
    totals = merge_cells(cells)
    for event_totals in events:
        totals.add(event_totals.values)
    return {field: int(totals.of(counters.OTHER, field)) for field in FIELDS}


def quality_json(totals: Totals) -> dict[str, Any]:
    """Mean quality score and how many generations carried one."""
    return {"avgScore": totals.mean(counters.QUALITY), "scored": totals.samples(counters.QUALITY)}


def satisfaction_json(totals: Totals) -> dict[str, Any]:
    """Mean user rating and how many generations carried one."""
    return {"avgRating": totals.mean(counters.RATING), "rated": totals.samples(counters.RATING)}


def shrunk_quality(totals: Totals, prior: float, weight: int = PRIOR_WEIGHT) -> float:
    """Bayesian average: the provider's quality pulled towards the overall mean by `weight`
    pseudo-generations, so three perfect scores do not outrank three hundred good ones."""
    scored = totals.samples(counters.QUALITY)
    return (totals.sum(counters.QUALITY) + prior * weight) / (scored + weight)


def correlation(totals: Totals) -> float | None:
    """Pearson correlation of quality score and rating over generations that have both, exact
    from integer sums; None with fewer than 3 pairs or no variance."""
    n = int(totals.get(counters.RATED_PAIRS))
    if n < 3:
        return None
    sq, sr = int(totals.get(counters.PAIR_QUALITY)), int(totals.get(counters.PAIR_RATING))
    cov = n * int(totals.get(counters.PAIR_PRODUCTS)) - sq * sr
    var_q = n * int(totals.get(counters.PAIR_QUALITY_SQUARES)) - sq * sq
    var_r = n * int(totals.get(counters.PAIR_RATING_SQUARES)) - sr * sr
    if var_q <= 0 or var_r <= 0:
        return None
    return cov / math.sqrt(var_q * var_r)


def quality_insights(cells: Cells, window: Window) -> dict[str, Any]:
    """Per provider quality, satisfaction, success, speed, cost, errors, fallbacks, ranked with
    sample size in mind; quality by tier; quality against satisfaction."""
    overall = merge_cells(cells, provider=window.provider)
    prior = overall.mean(counters.QUALITY)
    prior = DEFAULT_PRIOR_QUALITY if prior is None else prior
    providers: list[dict[str, Any]] = []
    for provider in providers_in(cells):
        if window.provider is not None and provider != window.provider:
            continue
        totals = merge_cells(cells, provider=provider)
        counts = statuses(totals)
        finished = counts["completed"] + counts["failed"]
        lower = wilson_interval(counts["completed"], finished, CONFIDENCE)[0] if finished else 0.0
        shrunk = shrunk_quality(totals, prior)
        cost, output = totals.sum(counters.COST), totals.sum(counters.OUTPUT)
        providers.append(
            {
                "provider": provider,
                "generations": totals.count(),
                "completed": counts["completed"],
                "failed": counts["failed"],
                "successRate": ratio(counts["completed"], finished),
                "successRateLowerBound": lower,
                "quality": {**quality_json(totals), "shrunkScore": shrunk},
                "satisfaction": satisfaction_json(totals),
                "generationTimeP95Seconds": generation_time(totals)["p95"],
                "costPerOutputSecondUsd": ratio(cost, output)
                if totals.samples(counters.OUTPUT)
                else None,
                "errors": totals.members(counters.ERRORS),
                "fallbackRate": ratio(
                    totals.get(counters.FALLBACK), totals.samples(counters.ATTEMPTS)
                ),
                "retryRate": ratio(totals.get(counters.RETRIED), totals.samples(counters.ATTEMPTS)),
                "rankScore": shrunk / 10 * lower,
            }
        )
    providers.sort(key=lambda p: (-p["rankScore"], p["provider"]))
    for rank, entry in enumerate(providers, start=1):
        entry["rank"] = rank
    bands = []
    for band in range(10):
        rated = int(overall.of(counters.BAND_RATED, band))
        mean = overall.of(counters.BAND_RATING, band) / rated / MILLI if rated else None
        bands.append(
            {"qualityFrom": band, "qualityTo": band + 1, "avgRating": mean, "rated": rated}
        )
    by_tier = {}
    for tier in ("free", "premium"):
        tier_totals = merge_cells(cells, provider=window.provider, tier=tier)
        by_tier[tier] = {**quality_json(tier_totals), **satisfaction_json(tier_totals)}
    return {
        "window": window.to_json(),
        "provider": window.provider,
        "overall": {**quality_json(overall), **satisfaction_json(overall)},
        "providers": providers,
        "byTier": by_tier,
        "qualityVsSatisfaction": {
            "pairs": int(overall.get(counters.RATED_PAIRS)),
            "correlation": correlation(overall),
            "byQualityBand": bands,
        },
        "ranking": {
            "method": "shrunk quality / 10 x Wilson lower bound of success rate",
            "priorWeight": PRIOR_WEIGHT,
            "prior": prior,
            "confidence": CONFIDENCE,
        },
    }


def providers_comparison(cells: Cells, window: Window) -> dict[str, Any]:
    """Side by side: every system figure, quality and satisfaction per provider."""
    rows = []
    for provider in providers_in(cells):
        if window.provider is not None and provider != window.provider:
            continue
        totals = merge_cells(cells, provider=provider)
        row = system_metrics_json(totals, window)
        del row["window"]
        row["provider"] = provider
        row["quality"] = quality_json(totals)
        row["satisfaction"] = satisfaction_json(totals)
        rows.append(row)
    rows.sort(key=lambda r: (-r["generations"]["total"], r["provider"]))
    return {"window": window.to_json(), "providers": rows}


def upgrades_of(events: Mapping[str, Totals]) -> tuple[int, float]:
    """premium_upgrade events among the event totals, and their revenue in USD."""
    upgrades = events.get(constants.EVENT_PREMIUM_UPGRADE, Totals())
    return upgrades.count(), upgrades.sum(counters.REVENUE)


def business_metrics(cells: Cells, events: Mapping[str, Totals], window: Window) -> dict[str, Any]:
    """Revenue, conversion, premium feature adoption, engagement and event counts."""
    generations = merge_cells(cells, provider=window.provider)
    premium = merge_cells(cells, provider=window.provider, tier="premium")
    free = merge_cells(cells, provider=window.provider, tier="free")
    upgrades, revenue = upgrades_of(events)
    completed = generations.count("completed")

    def count(event_type: str) -> int:
        return events[event_type].count() if event_type in events else 0

    engagement = {
        "views": count("video_viewed"),
        "shares": count("video_shared"),
        "downloads": count("video_downloaded"),
    }
    used = events.get("feature_used", Totals())
    return {
        "window": window.to_json(),
        "provider": window.provider,
        "revenueUsd": round(revenue, 6),
        "upgrades": upgrades,
        "conversionRate": ratio(upgrades, free.count()),
        "generations": {
            "total": generations.count(),
            "premium": premium.count(),
            "free": free.count(),
            "premiumShare": ratio(premium.count(), generations.count()),
        },
        "premiumFeatures": {
            "generationsWithFeatures": int(premium.get(counters.ANY_FEATURE)),
            "adoptionRate": ratio(premium.get(counters.ANY_FEATURE), premium.count()),
            "byFeature": premium.members(counters.FEATURES),
        },
        "featureUsedEvents": used.members(counters.FEATURES),
        "engagement": {
            **engagement,
            "perCompletedGeneration": {k: ratio(v, completed) for k, v in engagement.items()},
        },
        "sessions": count("session_start"),
        "events": {name: totals.count() for name, totals in sorted(events.items())},
    }
