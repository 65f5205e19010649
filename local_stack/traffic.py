"""A generation-service simulator: real lifecycles written to Firestore, and its own tally."""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore


@dataclass(frozen=True)
class ProviderProfile:
    """How one provider behaves: generation-time median/spread, failure and retry rates."""

    name: str
    share: float
    median_seconds: float
    spread: float
    failure_rate: float
    cost_per_second: float


PROVIDERS: tuple[ProviderProfile, ...] = (
    ProviderProfile("runway", 0.30, 45, 0.35, 0.015, 0.05),
    ProviderProfile("pika", 0.20, 150, 0.45, 0.25, 0.03),  # the degraded one
    ProviderProfile("heygen", 0.20, 60, 0.30, 0.02, 0.06),
    ProviderProfile("synthesia", 0.15, 75, 0.30, 0.01, 0.07),
    ProviderProfile("d-id", 0.15, 35, 0.40, 0.03, 0.04),
)
GENERATIONS = "video_generations"
WRITERS = 8  # generations written at once, each through its lifecycle in order
ERROR_CODES = ("provider_timeout", "provider_5xx", "content_policy", "quota_exceeded")


@dataclass
class Tally:
    """What the simulator wrote, counted independently of the monitoring system."""

    total: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    per_provider: Counter[str] = field(default_factory=Counter)
    generation_seconds: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    ratings: list[float] = field(default_factory=list)
    ratings_by_provider: dict[str, list[float]] = field(default_factory=dict)
    cost_usd: float = 0.0
    upgrades: int = 0
    revenue_usd: float = 0.0
    writes: int = 0
    # Per provider: cost of failed generations, and of the failed attempts of completed retried
    # ones (cost x (attempts - 1) / attempts, whole micro-dollars rounded down).
    wasted_usd: dict[str, float] = field(default_factory=dict)

    def add(self, final: dict[str, Any], writes: int) -> None:
        """Count one generation's final document."""
        self.total += 1
        self.writes += writes
        self.statuses[final["status"]] += 1
        self.per_provider[final["provider"]] += 1
        if final["status"] == "completed":
            seconds = (final["completedAt"] - final["createdAt"]).total_seconds()
            self.generation_seconds.append(seconds)
        if "qualityScore" in final:
            self.quality.append(final["qualityScore"])
        if "userRating" in final:
            self.ratings.append(final["userRating"])
            self.ratings_by_provider.setdefault(final["provider"], []).append(final["userRating"])
        self.cost_usd += final.get("costUsd", 0.0)
        cost, attempts = final.get("costUsd", 0.0), final.get("attempts", 1)
        waste = 0.0
        if final["status"] == "failed":
            waste = cost
        elif final["status"] == "completed" and attempts > 1:
            waste = (round(cost * 1_000_000) * (attempts - 1) // attempts) / 1_000_000
        provider = final["provider"]
        self.wasted_usd[provider] = self.wasted_usd.get(provider, 0.0) + waste

    def generations(self) -> dict[str, Any]:
        """The counts as the `/summary` response's `generations` section states them."""
        done = self.statuses["completed"] + self.statuses["failed"]
        return {
            "total": self.total,
            "completed": self.statuses["completed"],
            "failed": self.statuses["failed"],
            "cancelled": self.statuses["cancelled"],
            "inProgress": self.statuses["queued"] + self.statuses["processing"],
            "successRate": self.statuses["completed"] / done if done else None,
        }

    @staticmethod
    def mean(values: list[float]) -> float | None:
        """Plain average."""
        return sum(values) / len(values) if values else None


def _pick(rng: random.Random) -> ProviderProfile:
    roll = rng.random()
    for profile in PROVIDERS:
        roll -= profile.share
        if roll <= 0:
            return profile
    return PROVIDERS[-1]


def lifecycle(rng: random.Random, now: dt.datetime, index: int) -> list[dict[str, Any]]:
    """The successive states of one generation, as the generation service writes them."""
    profile = _pick(rng)
    tier = "premium" if rng.random() < 0.3 else "free"
    # A simulated day whose last hour is its busiest (15% of the traffic): the hour the demo's
    # alert evaluation looks at has enough samples per provider to judge.
    if rng.random() < 0.15:
        created = now - dt.timedelta(minutes=rng.uniform(5, 60))
    else:
        created = now - dt.timedelta(minutes=rng.uniform(60, 23 * 60 + 50))
    doc: dict[str, Any] = {
        "userId": f"user-{rng.randrange(400):04d}",
        "provider": profile.name,
        "model": f"{profile.name}-v{rng.choice((2, 3))}",
        "status": "queued",
        "createdAt": created,
        "userTier": tier,
        "resolution": rng.choice(("720p", "1080p", "1080p", "4k")),
    }
    if tier == "premium" and rng.random() < 0.6:
        doc["features"] = rng.sample(["custom_avatar", "voice_clone", "hd_export", "brand_kit"], 2)
    states = [dict(doc)]
    roll = rng.random()
    if roll < 0.005:
        return states  # still queued
    doc["status"] = "processing"
    doc["startedAt"] = created + dt.timedelta(seconds=rng.uniform(0.5, 12))
    states.append(dict(doc))
    if roll < 0.01:
        return states  # still rendering
    if roll < 0.025:
        doc.update(status="cancelled", completedAt=doc["startedAt"] + dt.timedelta(seconds=8))
        states.append(dict(doc))
        return states
    total = rng.lognormvariate(math.log(profile.median_seconds), profile.spread)
    doc["completedAt"] = doc["startedAt"] + dt.timedelta(seconds=total)
    doc["attempts"] = 1 if rng.random() < 0.9 else rng.choice((2, 3))
    if rng.random() < 0.03:
        doc["fallbackFrom"] = rng.choice([p.name for p in PROVIDERS if p.name != profile.name])
    if rng.random() < profile.failure_rate:
        doc["status"] = "failed"
        doc["error"] = {
            "code": rng.choice(ERROR_CODES),
            "message": "provider returned an error",
            "retryable": rng.random() < 0.7,
        }
        doc["costUsd"] = round(total * profile.cost_per_second * 0.2, 4)
        states.append(dict(doc))
        return states
    doc["status"] = "completed"
    doc["outputSeconds"] = rng.choice((5.0, 10.0, 15.0, 30.0))
    doc["costUsd"] = round(
        doc["outputSeconds"] * profile.cost_per_second * rng.uniform(0.8, 1.2), 4
    )
    base_quality = 6.8 if profile.name == "pika" else 8.6
    if rng.random() < 0.9:
        doc["qualityScore"] = round(min(10.0, max(0.0, rng.gauss(base_quality, 0.7))), 2)
    states.append(dict(doc))
    if rng.random() < 0.4:  # a late user rating
        doc["userRating"] = rng.choice(
            (5, 5, 5, 4, 4, 4, 3) if profile.name != "pika" else (4, 3, 3, 2)
        )
        states.append(dict(doc))
    return states


def simulate(
    client: firestore.Client,
    count: int = 2000,
    seed: int = 7,
    now: dt.datetime | None = None,
    progress: bool = True,
    prefix: str = "sim",
) -> Tally:
    """Write `count` generations through their lifecycles, interleaved, plus upgrade events."""
    now = now or dt.datetime.now(dt.UTC)
    rng = random.Random(seed)
    plans = [(f"{prefix}-{seed}-{i:05d}", lifecycle(rng, now, i)) for i in range(count)]
    tally = Tally()
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=count, unit="gen", desc="generations", file=sys.stderr)

    def run(plan: tuple[str, list[dict[str, Any]]]) -> None:
        generation_id, states = plan
        ref = client.collection(GENERATIONS).document(generation_id)
        for state in states:
            ref.set(state)
        if bar is not None:
            bar.update(1)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(run, plans))
    if bar is not None:
        bar.close()
    for _, states in plans:
        tally.add(states[-1], len(states))
    upgrades = max(1, count // 40)
    for i in range(upgrades):
        amount = rng.choice((9.99, 19.99, 49.99))
        client.collection("analytics_events").document(f"{prefix}-upgrade-{seed}-{i}").set(
            {
                "type": "premium_upgrade",
                "userId": f"user-{rng.randrange(400):04d}",
                "timestamp": now - dt.timedelta(minutes=rng.uniform(5, 23 * 60)),
                "amountUsd": amount,
            }
        )
        tally.upgrades += 1
        tally.revenue_usd += amount
    return tally
