"""Recommendations, pure: what to change, each with its evidence (figures and window) and the
effect expected if the period repeated.

- `shift_traffic`: a provider whose premium traffic would complete more often elsewhere (by
  MIN_SUCCESS_GAP or more, the two 95% Wilson intervals apart, so a provider with few jobs
  does not win on luck) at no lower quality (within QUALITY_TOLERANCE): move it to the
  provider that completes the most, the cheaper one when two are within NEAR_SUCCESS. Expected:
  the failures avoided on that traffic, and the cost difference on its output seconds (negative
  when the better provider costs more).
- `noisy_rule`: a rule that paged at least NOISY_MIN_FIRINGS times and mostly resolved by
  itself within NOISY_MINUTES, nobody acknowledging: its backtest's suggested threshold for
  NOISY_PAGES_PER_WEEK pages a week, and the episodes that threshold would have missed.
- `cost_rise`: a provider whose cost per successful output second rose by COST_RISE or more on
  the previous period.
- `failure_cost`: a provider whose failed jobs and failed retry attempts (`failedCostUsd` +
  `retryWasteUsd`) took WASTE_MIN_SHARE or more of its spend (and at least WASTE_MIN_USD):
  expected, the dollars saved had it wasted no larger share than the least wasteful provider.

Ranked by expected effect: failures avoided first, then pages saved, then dollars.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from video_monitoring.core.stats import wilson_interval

MIN_GENERATIONS = 20
QUALITY_TOLERANCE = 0.3
MIN_SUCCESS_GAP = 0.03
NEAR_SUCCESS = 0.005
NOISY_MIN_FIRINGS = 3
NOISY_MINUTES = 30.0
NOISY_SHARE = 0.7
NOISY_PAGES_PER_WEEK = 1.0
COST_RISE = 0.10
WASTE_MIN_SHARE = 0.05
WASTE_MIN_USD = 1.0
# Failures avoided, then pages saved, then dollars (the two dollar kinds by their dollars).
RANK = {"shift_traffic": 0, "noisy_rule": 1, "cost_rise": 2, "failure_cost": 2}
CONFIDENCE = 0.95


def _quality(row: Mapping[str, Any]) -> float | None:
    value = (row.get("quality") or {}).get("avgScore")
    return None if value is None else float(value)


def _output_seconds(row: Mapping[str, Any]) -> float:
    cost, per = row.get("costUsd") or 0.0, row.get("costPerOutputSecondUsd")
    return cost / per if per else 0.0


def shift_traffic(
    providers: Sequence[Mapping[str, Any]], premium: Mapping[str, int], window: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """For each provider with premium traffic, the alternative of at least its quality that
    completes the most (the cheapest of those within NEAR_SUCCESS of the best): one
    recommendation per worse provider, with the failures avoided and the cost difference."""
    usable = [
        p for p in providers
        if p["generations"]["total"] >= MIN_GENERATIONS and p.get("successRate") is not None
        and p.get("costPerOutputSecondUsd") is not None and _quality(p) is not None
    ]  # fmt: skip
    found = []
    for worse in usable:
        better = [
            b for b in usable
            if b["provider"] != worse["provider"]
            and b["successRate"] - worse["successRate"] >= MIN_SUCCESS_GAP
            and _interval(b)[0] > _interval(worse)[1]  # not a small sample's luck
            and (_quality(b) or 0) >= (_quality(worse) or 0) - QUALITY_TOLERANCE
        ]  # fmt: skip
        moved = premium.get(worse["provider"], 0)
        if not better or moved == 0:
            continue
        top = max(b["successRate"] for b in better)
        best = min((b for b in better if b["successRate"] >= top - NEAR_SUCCESS),
                   key=lambda b: (b["costPerOutputSecondUsd"], b["provider"]))  # fmt: skip
        share = moved / worse["generations"]["total"]
        avoided = moved * (best["successRate"] - worse["successRate"])
        saved = (
            _output_seconds(worse)
            * share
            * (worse["costPerOutputSecondUsd"] - best["costPerOutputSecondUsd"])
        )
        money = f"cost ${saved:.2f} less" if saved >= 0 else f"cost ${-saved:.2f} more"
        found.append({
            "kind": "shift_traffic",
            "title": f"Move premium traffic from {worse['provider']} to {best['provider']}",
            "evidence": {
                "window": window,
                "from": _figures(worse), "to": _figures(best),
                "premiumGenerations": moved,
            },
            "expected": {"failuresAvoided": round(avoided, 1), "usdSaved": round(saved, 2)},
            "text": (
                f"{worse['provider']} completed {worse['successRate']:.1%} of its jobs at "
                f"${worse['costPerOutputSecondUsd']:.4f} per output second and quality "
                f"{_quality(worse):.2f}; {best['provider']} {best['successRate']:.1%} at "
                f"${best['costPerOutputSecondUsd']:.4f} and quality {_quality(best):.2f}. Its "
                f"{moved} premium generations there would have had about {avoided:.0f} fewer "
                f"failures and {money}."
            ),
        })  # fmt: skip
    return found


def _interval(row: Mapping[str, Any]) -> tuple[float, float]:
    """The 95% Wilson interval of a provider's success rate (completed of completed + failed;
    the counts when the row has them, else the rate over its generations)."""
    generations = row["generations"]
    completed, failed = generations.get("completed"), generations.get("failed")
    if completed is None or failed is None:
        trials = int(generations["total"])
        completed, failed = (
            round(row["successRate"] * trials),
            trials - round(row["successRate"] * trials),
        )
    return wilson_interval(int(completed), int(completed) + int(failed), CONFIDENCE)


def _figures(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "provider": row["provider"], "generations": row["generations"]["total"],
        "successRate": row["successRate"], "costPerOutputSecondUsd": row["costPerOutputSecondUsd"],
        "qualityScore": _quality(row),
    }  # fmt: skip


def noisy_rules(
    alerts: Sequence[Mapping[str, Any]],
    window: Mapping[str, Any],
    suggest: Callable[[str], Mapping[str, Any] | None],
) -> list[dict[str, Any]]:
    """Rules that paged often and resolved by themselves quickly, with what their backtest
    suggests (`suggest(ruleId)` answers the backtest with `pagesPerWeek`, or None)."""
    by_rule: dict[str, list[Mapping[str, Any]]] = {}
    for alert in alerts:
        by_rule.setdefault(alert["ruleId"], []).append(alert)
    found = []
    for rule_id, fired in sorted(by_rule.items()):
        quick = [
            a for a in fired
            if a.get("resolution") == "auto" and a.get("ackMinutes") is None
            and a.get("resolveMinutes") is not None and a["resolveMinutes"] <= NOISY_MINUTES
        ]  # fmt: skip
        if len(fired) < NOISY_MIN_FIRINGS or len(quick) < NOISY_SHARE * len(fired):
            continue
        backtest = suggest(rule_id)
        suggestion = (backtest or {}).get("suggestion") or {}
        threshold = suggestion.get("threshold")
        missed = len(suggestion.get("missed") or [])
        text = (
            f"{rule_id} paged {len(fired)} times; {len(quick)} resolved by themselves within "
            f"{NOISY_MINUTES:.0f} minutes, nobody acknowledging."
        )
        if threshold is not None and backtest is not None:
            text += (
                f" Its backtest suggests threshold {threshold:g} (now {backtest['threshold']:g}):"
                f" {suggestion['firings']} pages instead of {backtest['firings']}, missing "
                f"{missed} of its episodes."
            )
        found.append({
            "kind": "noisy_rule",
            "title": f"Retune {rule_id}: it pages often and clears by itself",
            "evidence": {"window": window, "ruleId": rule_id, "firings": len(fired),
                         "selfResolvedQuickly": len(quick)},
            "expected": {
                "pagesSaved": None if threshold is None or backtest is None
                else backtest["firings"] - suggestion["firings"],
                "threshold": threshold, "missedEpisodes": missed,
            },
            "text": text,
        })  # fmt: skip
    return found


def cost_rises(
    providers: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]],
    window: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Providers whose cost per successful output second rose by COST_RISE or more."""
    before = {p["provider"]: p for p in previous}
    found = []
    for row in providers:
        old = before.get(row["provider"])
        now_cost = row.get("costPerOutputSecondUsd")
        old_cost = None if old is None else old.get("costPerOutputSecondUsd")
        if not now_cost or not old_cost or row["generations"]["total"] < MIN_GENERATIONS:
            continue
        rise = now_cost / old_cost - 1
        if rise < COST_RISE:
            continue
        extra = _output_seconds(row) * (now_cost - old_cost)
        found.append({
            "kind": "cost_rise",
            "title": f"{row['provider']} costs {rise:.0%} more per output second",
            "evidence": {"window": window, "provider": row["provider"],
                         "costPerOutputSecondUsd": now_cost, "previous": old_cost},
            "expected": {"usdSaved": round(extra, 2)},
            "text": (
                f"{row['provider']}: ${now_cost:.4f} per successful output second against "
                f"${old_cost:.4f} the period before; at the old price its output would have cost "
                f"${extra:.2f} less. Check its pricing or the mix of resolutions sent to it."
            ),
        })  # fmt: skip
    return found


def _waste(row: Mapping[str, Any]) -> float:
    return float(row.get("failedCostUsd") or 0.0) + float(row.get("retryWasteUsd") or 0.0)


def failure_costs(
    providers: Sequence[Mapping[str, Any]], window: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Providers whose failed jobs and failed retry attempts took a large share of their
    spend, against the least wasteful provider's share."""
    usable = [
        p for p in providers
        if p["generations"]["total"] >= MIN_GENERATIONS and (p.get("costUsd") or 0) > 0
    ]  # fmt: skip
    if len(usable) < 2:
        return []

    def share(row: Mapping[str, Any]) -> float:
        return _waste(row) / float(row["costUsd"])

    best = min(usable, key=lambda p: (share(p), p["provider"]))
    found = []
    for row in usable:
        waste, part = _waste(row), share(row)
        if row is best or waste < WASTE_MIN_USD or part < WASTE_MIN_SHARE:
            continue
        saved = float(row["costUsd"]) * (part - share(best))
        failed, retries = row.get("failedCostUsd") or 0.0, row.get("retryWasteUsd") or 0.0
        found.append({
            "kind": "failure_cost",
            "title": f"{row['provider']} spent ${waste:.2f} on work that failed",
            "evidence": {"window": window, "provider": row["provider"],
                         "costUsd": row["costUsd"], "failedCostUsd": failed,
                         "retryWasteUsd": retries, "wasteShare": part,
                         "benchmark": {"provider": best["provider"], "wasteShare": share(best)}},
            "expected": {"usdSaved": round(saved, 2)},
            "text": (
                f"{row['provider']}: ${failed:.2f} on failed jobs and ${retries:.2f} on retry "
                f"attempts that failed, {part:.0%} of its ${row['costUsd']:.2f}; wasting no more "
                f"than {best['provider']} ({share(best):.0%}) would have saved ${saved:.2f}. "
                "Fix what fails (its error codes are on the providers page) or move traffic."
            ),
        })  # fmt: skip
    return found


def rank(found: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Failures avoided first, then pages saved, then dollars; numbered from 1."""

    def key(rec: Mapping[str, Any]) -> tuple[int, float]:
        expected = rec["expected"]
        impact = (
            expected.get("failuresAvoided") or expected.get("pagesSaved")
            or expected.get("usdSaved") or 0
        )  # fmt: skip
        return RANK[rec["kind"]], -float(impact)

    ordered = sorted(found, key=key)
    return [{**rec, "rank": i} for i, rec in enumerate(ordered, start=1)]
