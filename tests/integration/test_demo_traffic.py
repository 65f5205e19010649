"""The demo simulator on the real stack: the system's summary equals the simulator's tally."""

from __future__ import annotations

import pytest
from google.cloud import firestore

from local_stack.traffic import simulate
from tests.integration.support import Stack, summary, wait_until

pytestmark = pytest.mark.integration
COUNTS = ("total", "completed", "failed", "cancelled", "inProgress")


def test_summary_matches_the_simulators_tally(stack: Stack, db: firestore.Client) -> None:
    tally = simulate(db, count=150, seed=3, progress=False, prefix="demo-test")
    wanted = tally.generations()

    seen: list[dict[str, int]] = []

    def caught_up() -> bool:
        body = summary(stack, {"window": "24h"})
        got = {**body["generations"], "upgrades": body["business"]["upgrades"]}
        seen.append(got)
        return all(got[k] == wanted[k] for k in COUNTS) and got["upgrades"] == tally.upgrades

    try:
        wait_until(caught_up, 90)
    except AssertionError:
        raise AssertionError(
            f"summary {seen[-1]} never matched the tally {wanted}, {tally.upgrades} upgrades"
        ) from None
    result = summary(stack, {"window": "24h"})
    assert result["generations"]["successRate"] == pytest.approx(wanted["successRate"])
    assert result["quality"]["scored"] == len(tally.quality)
    assert result["quality"]["avgScore"] == pytest.approx(tally.mean(tally.quality), abs=1e-3)
    assert result["satisfaction"]["rated"] == len(tally.ratings)
    assert result["satisfaction"]["avgRating"] == pytest.approx(tally.mean(tally.ratings), abs=1e-3)
    assert result["costUsd"] == pytest.approx(tally.cost_usd, abs=1e-6 * tally.total)
    assert result["business"]["revenueUsd"] == pytest.approx(tally.revenue_usd, abs=1e-6)
    assert result["business"]["upgrades"] == tally.upgrades
    per_provider = {
        p: summary(stack, {"window": "24h", "provider": p})["generations"]["total"]
        for p in tally.per_provider
    }
    assert per_provider == dict(tally.per_provider)
