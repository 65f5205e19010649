"""Random generation lifecycles, and an oracle computing figures from final documents alone.

The oracle never uses the system's code: it reads raw documents with plain arithmetic, so a test
that compares the system with it checks the rollups, the sketch and the exactly-once machinery.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROVIDERS = ("runway", "pika", "heygen", "synthesia", "d-id")


@dataclass
class Lifecycle:
    """The successive states one generation document goes through (None = deleted)."""

    generation_id: str
    states: list[dict[str, Any] | None] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any] | None:
        """The last state written."""
        return self.states[-1] if self.states else None


def random_lifecycle(rng: random.Random, generation_id: str, day: dt.datetime) -> Lifecycle:
    """A valid lifecycle with the late updates, corrections and deletions production sees."""
    created = day + dt.timedelta(seconds=rng.uniform(0, 86_399))
    doc: dict[str, Any] = {
        "userId": f"user-{rng.randrange(50)}",
        "provider": rng.choice(PROVIDERS),
        "status": "queued",
        "createdAt": created,
        "userTier": rng.choice(("free", "free", "premium")),
    }
    life = Lifecycle(generation_id, [dict(doc)])
    if rng.random() < 0.9:
        doc["status"] = "processing"
        doc["startedAt"] = created + dt.timedelta(seconds=rng.uniform(0, 30))
        life.states.append(dict(doc))
    _finish(rng, doc, life)
    _late_change(rng, doc, life)
    return life


def _finish(rng: random.Random, doc: dict[str, Any], life: Lifecycle) -> None:
    """Most generations complete, some fail, a few are cancelled, the rest stay in progress."""
    created = doc["createdAt"]
    roll = rng.random()
    if roll < 0.75 or (roll < 0.85 and "startedAt" in doc):
        start = doc.get("startedAt", created)
        end = start + dt.timedelta(seconds=rng.lognormvariate(math.log(45), 0.6))
        if roll < 0.75:
            doc.update(status="completed", completedAt=end, costUsd=round(rng.uniform(0, 2), 4))
            doc["outputSeconds"] = rng.choice((5, 10, 15.5))
            doc["attempts"] = rng.choice((1, 1, 1, 2))
            if rng.random() < 0.8:
                doc["qualityScore"] = round(rng.uniform(5, 10), 2)
        else:
            doc.update(status="failed", completedAt=end, costUsd=round(rng.uniform(0, 1), 4))
            doc["error"] = {
                "code": rng.choice(("timeout", "provider_5xx", "nsfw")),
                "message": "x",
                "retryable": True,
            }
        life.states.append(dict(doc))
        if doc["status"] == "completed" and rng.random() < 0.5:
            doc["userRating"] = rng.choice((1, 2, 3, 4, 5, 4.5))
            life.states.append(dict(doc))
    elif roll < 0.9:
        doc.update(
            status="cancelled", completedAt=doc.get("startedAt", created) + dt.timedelta(seconds=5)
        )
        life.states.append(dict(doc))


def _late_change(rng: random.Random, doc: dict[str, Any], life: Lifecycle) -> None:
    """Now and then a rewrite, a corrected cost, a deletion, or an update that breaks it."""
    extra = rng.random()
    if extra < 0.05:
        life.states.append(dict(doc))  # identical rewrite
    elif extra < 0.08 and doc["status"] == "completed":
        doc["costUsd"] = round(rng.uniform(0, 2), 4)  # corrected value
        life.states.append(dict(doc))
    elif extra < 0.10:
        life.states.append(None)  # source document deleted
    elif extra < 0.12:
        bad = dict(doc)
        bad["userTier"] = "gold"  # invalid now: must leave every aggregate
        life.states.append(bad)


def is_valid(doc: Mapping[str, Any] | None) -> bool:
    """Whether the random generator's documents are valid (it only breaks userTier)."""
    return doc is not None and doc.get("userTier") in ("free", "premium")


@dataclass(frozen=True)
class Expected:
    """Figures computed directly from final documents."""

    total: int
    by_status: dict[str, int]
    generation_seconds: list[float]
    quality: list[float]
    ratings: list[float]
    cost: float
    failed_cost: float = 0.0
    retry_waste: float = 0.0  # USD: cost x (attempts - 1) / attempts of completed retried ones

    @property
    def success_rate(self) -> float | None:
        """completed / (completed + failed)."""
        done = self.by_status["completed"] + self.by_status["failed"]
        return None if done == 0 else self.by_status["completed"] / done

    def exact_quantile(self, q: float) -> float | None:
        """The sample at rank floor(q * (n - 1))."""
        ordered = sorted(self.generation_seconds)
        return ordered[math.floor(q * (len(ordered) - 1))] if ordered else None


def expected(
    docs: Iterable[Mapping[str, Any] | None],
    start: dt.datetime,
    end: dt.datetime,
    provider: str | None = None,
) -> Expected:
    """What the final documents imply for a window and provider."""
    by_status = dict.fromkeys(("queued", "processing", "completed", "failed", "cancelled"), 0)
    seconds: list[float] = []
    quality: list[float] = []
    ratings: list[float] = []
    cost = failed_cost = retry_waste = 0.0
    total = 0
    for doc in docs:
        if not is_valid(doc):
            continue
        assert doc is not None
        if not start <= doc["createdAt"] < end:
            continue
        if provider is not None and doc["provider"] != provider:
            continue
        total += 1
        by_status[doc["status"]] += 1
        if doc["status"] == "completed":
            seconds.append((doc["completedAt"] - doc["createdAt"]).total_seconds())
        if doc.get("qualityScore") is not None:
            quality.append(doc["qualityScore"])
        if doc.get("userRating") is not None:
            ratings.append(doc["userRating"])
        cost += doc.get("costUsd") or 0.0
        if doc["status"] == "failed":
            failed_cost += doc.get("costUsd") or 0.0
        attempts = doc.get("attempts") or 1
        if doc["status"] == "completed" and attempts > 1 and doc.get("costUsd") is not None:
            # Whole micro-dollars, rounded down, as the counter keeps them.
            micro = round(doc["costUsd"] * 1_000_000)
            retry_waste += (micro * (attempts - 1) // attempts) / 1_000_000
    return Expected(total, by_status, seconds, quality, ratings, cost, failed_cost, retry_waste)


def mean(values: list[float]) -> float | None:
    """Plain average."""
    return sum(values) / len(values) if values else None
