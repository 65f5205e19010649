"""Pure rollup arithmetic: what one generation contributes, how windows map to buckets, totals.

A generation contributes a small map of integer counters to exactly one cell (provider, tier) of
the minute bucket of its `createdAt`, in one hash shard; the hour and day buckets are sums of
minutes, folded later (ingest/journal.py).
Sums are kept in fixed point (milliseconds, micro-dollars, thousandths of a point) so adding and
later subtracting a contribution cancels exactly: no floating-point drift however often a
generation is corrected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from video_monitoring.config.constants import OTHER
from video_monitoring.core.models import STATUSES, GenerationDocument
from video_monitoring.ingest import counters, sketch
from video_monitoring.ingest.bounds import (
    DEFAULT_BOUNDS,
    FIELD_ERROR,
    FIELD_FEATURE,
    FIELD_PROVIDER,
    Bounds,
)
from video_monitoring.ingest.counters import MILLI, Count, Family, Measure

Granularity = Literal["minute", "hour", "day"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "hour", "minute")
_STEP: dict[Granularity, dt.timedelta] = {
    "minute": dt.timedelta(minutes=1),
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
}

Values = dict[str, int]  # flat path ("gt/b/123") -> integer counter


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator; None without a denominator (no samples)."""
    return None if denominator <= 0 else numerator / denominator


def business_point(upgrades: int, revenue: float, free_generations: int) -> dict[str, Any]:
    """A trend point's business figures, defined as in /summary: revenue and premium upgrades
    of the bucket, and conversion = upgrades per free-tier generation."""
    return {
        "revenueUsd": round(revenue, 6),
        "upgrades": upgrades,
        "freeGenerations": free_generations,
        "conversionRate": upgrades / free_generations if free_generations else None,
    }


def fixed(value: float, scale: int) -> int:
    """A float as a fixed-point integer."""
    return round(value * scale)


def floor_time(value: dt.datetime, granularity: Granularity) -> dt.datetime:
    """Start of the bucket holding `value`."""
    value = plain_utc(value)
    if granularity == "minute":
        return value.replace(second=0, microsecond=0)
    if granularity == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def plain_utc(value: dt.datetime) -> dt.datetime:
    """A plain UTC datetime (Firestore's DatetimeWithNanoseconds breaks under replace())."""
    value = value.astimezone(dt.UTC)
    return dt.datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, tzinfo=dt.UTC,
    )  # fmt: skip


def ceil_time(value: dt.datetime, granularity: Granularity) -> dt.datetime:
    """Smallest bucket start >= value."""
    floor = floor_time(value, granularity)
    return floor if floor == value else floor + _STEP[granularity]


def step(granularity: Granularity) -> dt.timedelta:
    """Length of one bucket."""
    return _STEP[granularity]


def bucket_key(start: dt.datetime) -> str:
    """Sortable id fragment of a bucket start."""
    return start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M")


def shard_of(generation_id: str, shards: int) -> int:
    """Stable shard of a generation (same shard for all of its changes)."""
    digest = hashlib.blake2b(generation_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def cell_key(provider: str, tier: str) -> str:
    """Cell of a rollup document; `|` cannot occur in a provider id or tier."""
    return f"{provider}|{tier}"


def split_cell(key: str) -> tuple[str, str]:
    """(provider, tier) of a cell key."""
    provider, _, tier = key.partition("|")
    return provider, tier


@dataclass(frozen=True)
class Contribution:
    """What one generation adds to the rollups: a cell of the buckets of one instant, one shard."""

    created_at: dt.datetime
    cell: str
    shard: int
    values: Mapping[str, int]

    def to_doc(self) -> dict[str, Any]:
        """Stored form, kept on the generation's metrics document."""
        return {
            "createdAt": self.created_at,
            "cell": self.cell,
            "shard": self.shard,
            "values": dict(self.values),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Contribution:
        """Inverse of to_doc."""
        return cls(
            created_at=doc["createdAt"],
            cell=doc["cell"],
            shard=int(doc["shard"]),
            values={k: int(v) for k, v in doc["values"].items()},
        )

    def same_place(self, other: Contribution) -> bool:
        """Whether both land in the same cell, buckets and shard."""
        return (
            self.cell == other.cell
            and self.shard == other.shard
            and floor_time(self.created_at, "minute") == floor_time(other.created_at, "minute")
        )


def count_features(values: Values, names: Iterable[str], bounds: Bounds, n: int = 1) -> None:
    """Add `n` to each feature counter the names map to (once per counter), and count the
    distinct untracked names under `other/feature`."""
    distinct = set(names)
    for key in sorted({bounds.feature(f) for f in distinct}):
        values[counters.FEATURES.key(key)] = values.get(counters.FEATURES.key(key), 0) + n
    untracked = sum(1 for f in distinct if bounds.feature(f) == OTHER)
    if untracked:
        key = counters.OTHER.key(FIELD_FEATURE)
        values[key] = values.get(key, 0) + n * untracked


def count_other(values: Values, field_name: str, mapped: str, n: int = 1) -> None:
    """Count `n` values of a field that went to `other`."""
    if mapped == OTHER and n:
        values[counters.OTHER.key(field_name)] = values.get(counters.OTHER.key(field_name), 0) + n


def _add_sum(values: Values, measure: Measure, value: float | None) -> None:
    """Add one sample of a measure (none when the value is missing)."""
    if value is not None:
        values[measure.sum_key] = values.get(measure.sum_key, 0) + fixed(value, measure.scale)
        values[measure.n_key] = values.get(measure.n_key, 0) + 1


def _count_times(values: Values, doc: GenerationDocument) -> None:
    """Generation time (with its sketch bin) and output, queue and render seconds."""
    generation_seconds = doc.generation_seconds
    if generation_seconds is not None:
        _add_sum(values, counters.GENERATION_TIME, generation_seconds)
        values[counters.GENERATION_TIME_BINS.key(sketch.bin_key(generation_seconds))] = 1
        _add_sum(values, counters.OUTPUT, doc.outputSeconds)
    _add_sum(values, counters.QUEUE, doc.queue_seconds)
    if doc.status == "completed":
        _add_sum(values, counters.RENDER, doc.render_seconds)


def _count_cost(values: Values, doc: GenerationDocument) -> None:
    """Provider cost, the cost of failures, and the share of a retried success's cost wasted."""
    _add_sum(values, counters.COST, doc.costUsd)
    if doc.status == "failed":
        _add_sum(values, counters.FAILED_COST, doc.costUsd)
    elif doc.status == "completed" and doc.attempts > 1 and doc.costUsd is not None:
        waste = fixed(doc.costUsd, counters.COST.scale) * (doc.attempts - 1) // doc.attempts
        if waste:
            values[counters.RETRY_WASTE.key] = waste


def _count_outcome(values: Values, doc: GenerationDocument, bounds: Bounds) -> None:
    """Attempts, retries and fallbacks of a finished generation, and a failure's error code."""
    if doc.status in ("completed", "failed"):
        values[counters.ATTEMPTS.sum_key] = doc.attempts
        values[counters.ATTEMPTS.n_key] = 1
        if doc.attempts > 1:
            values[counters.RETRIED.key] = 1
        if doc.fallbackFrom:
            values[counters.FALLBACK.key] = 1
        _count_recovery(values, doc, bounds)
    if doc.status == "failed" and doc.error is not None:
        code = bounds.error_code(doc.error.code)
        values[counters.ERRORS.key(code)] = 1
        count_other(values, FIELD_ERROR, code)
        flagged = counters.ERROR_RETRYABLE if doc.error.retryable else counters.ERROR_PERMANENT
        values[flagged.key(code)] = 1


def _count_recovery(values: Values, doc: GenerationDocument, bounds: Bounds) -> None:
    """A finished generation that was retried or taken over, whether it completed, and the
    fallback matrix's cell (the provider it was taken over from, mapped like a provider)."""
    if doc.attempts > 1 or doc.fallbackFrom:
        values[counters.RECOVERY_TRIED.key] = 1
        if doc.status == "completed":
            values[counters.RECOVERED.key] = 1
    if doc.fallbackFrom:
        outcome = (
            counters.FALLBACK_COMPLETED if doc.status == "completed" else counters.FALLBACK_FAILED
        )
        values[outcome.key(bounds.provider(doc.fallbackFrom))] = 1


def _count_rated_pair(values: Values, doc: GenerationDocument) -> None:
    """Exact sums for the quality-satisfaction correlation, and mean rating per quality band."""
    if doc.qualityScore is None or doc.userRating is None:
        return
    q, r = fixed(doc.qualityScore, MILLI), fixed(doc.userRating, MILLI)
    values |= {
        counters.RATED_PAIRS.key: 1, counters.PAIR_QUALITY.key: q, counters.PAIR_RATING.key: r,
        counters.PAIR_QUALITY_SQUARES.key: q * q, counters.PAIR_RATING_SQUARES.key: r * r,
        counters.PAIR_PRODUCTS.key: q * r,
    }  # fmt: skip
    band = min(int(doc.qualityScore), 9)
    values[counters.BAND_RATED.key(band)] = 1
    values[counters.BAND_RATING.key(band)] = r


def contribution(
    generation_id: str,
    doc: GenerationDocument,
    shards: int,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Contribution:
    """The counters a generation in its current state adds to its cell (provider, error code
    and features mapped through the bounds)."""
    values: Values = {counters.GENERATIONS.key: 1, counters.STATUS.key(doc.status): 1}
    _count_times(values, doc)
    _count_cost(values, doc)
    _add_sum(values, counters.QUALITY, doc.qualityScore)
    _add_sum(values, counters.RATING, doc.userRating)
    _count_outcome(values, doc, bounds)
    _count_rated_pair(values, doc)
    count_features(values, doc.features, bounds)
    if doc.features:
        values[counters.ANY_FEATURE.key] = 1
    provider = bounds.provider(doc.provider)
    count_other(values, FIELD_PROVIDER, provider)
    return Contribution(
        created_at=doc.createdAt,
        cell=cell_key(provider, doc.userTier),
        shard=shard_of(generation_id, shards),
        values=values,
    )


@dataclass(frozen=True)
class RollupDelta:
    """Counters to add to one cell of one minute bucket (the hour and day follow when the
    journal is folded)."""

    granularity: Granularity
    bucket_start: dt.datetime
    shard: int
    cell: str
    values: Mapping[str, int]


def _place(c: Contribution, values: Mapping[str, int]) -> list[RollupDelta]:
    if not values:
        return []
    return [RollupDelta("minute", floor_time(c.created_at, "minute"), c.shard, c.cell, values)]


def deltas(old: Contribution | None, new: Contribution | None) -> list[RollupDelta]:
    """Increments that turn the rollups from containing `old` into containing `new`."""
    if old is not None and new is not None and old.same_place(new):
        diff = {
            k: new.values.get(k, 0) - old.values.get(k, 0)
            for k in set(old.values) | set(new.values)
        }
        return _place(new, {k: v for k, v in diff.items() if v != 0})
    result: list[RollupDelta] = []
    if old is not None:
        result += _place(old, {k: -v for k, v in old.values.items()})
    if new is not None:
        result += _place(new, dict(new.values))
    return result


@dataclass(frozen=True)
class UserDay:
    """What one generation or app event adds to its user's activity on one UTC day."""

    day: dt.datetime
    user_id: str
    values: Mapping[str, int]

    def to_doc(self) -> dict[str, Any]:
        """Stored form, kept beside the contribution."""
        return {"day": self.day, "userId": self.user_id, "values": dict(self.values)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> UserDay | None:
        """Inverse of to_doc (None for records written before user days existed)."""
        if not doc:
            return None
        values = {k: int(v) for k, v in doc["values"].items()}
        return cls(day=doc["day"], user_id=str(doc["userId"]), values=values)


def user_day(user_id: str, at: dt.datetime, values: Mapping[str, int]) -> UserDay:
    """A user's activity counters on the UTC day of `at`."""
    return UserDay(floor_time(at, "day"), user_id, dict(values))


def user_day_deltas(old: UserDay | None, new: UserDay | None) -> list[UserDay]:
    """Increments that turn the user-day documents from containing `old` into `new`."""
    if old is not None and new is not None and (old.day, old.user_id) == (new.day, new.user_id):
        diff = {
            k: new.values.get(k, 0) - old.values.get(k, 0)
            for k in set(old.values) | set(new.values)
        }
        diff = {k: v for k, v in diff.items() if v != 0}
        return [UserDay(new.day, new.user_id, diff)] if diff else []
    result = []
    if old is not None:
        result.append(UserDay(old.day, old.user_id, {k: -v for k, v in old.values.items()}))
    if new is not None:
        result.append(new)
    return result


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Flat paths to the nested maps Firestore stores."""
    root: dict[str, Any] = {}
    for path, value in values.items():
        node = root
        *parents, leaf = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return root


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested maps back to flat paths."""
    flat: dict[str, float] = {}
    for key, value in nested.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, path + "/"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[path] = value
    return flat


@dataclass(frozen=True)
class BucketRange:
    """A contiguous run [start, end) of buckets of one granularity."""

    granularity: Granularity
    start: dt.datetime
    end: dt.datetime


def bucket_starts(bucket_range: BucketRange) -> list[dt.datetime]:
    """Starts of the whole buckets of a range's granularity that begin inside it."""
    starts = []
    current = ceil_time(bucket_range.start, bucket_range.granularity)
    while current < bucket_range.end:
        starts.append(current)
        current += step(bucket_range.granularity)
    return starts


def cover(start: dt.datetime, end: dt.datetime, coarsest: Granularity = "day") -> list[BucketRange]:
    """Fewest buckets that tile [start, end): days in the middle, then hours, then minutes."""
    return _cover(start, end, GRANULARITIES[GRANULARITIES.index(coarsest) :])


def _cover(
    start: dt.datetime, end: dt.datetime, levels: tuple[Granularity, ...]
) -> list[BucketRange]:
    if start >= end:
        return []
    level, finer = levels[0], levels[1:]
    if not finer:
        return [BucketRange(level, start, end)]
    inner_start, inner_end = ceil_time(start, level), floor_time(end, level)
    if inner_start >= inner_end:
        return _cover(start, end, finer)
    return [
        *_cover(start, inner_start, finer),
        BucketRange(level, inner_start, inner_end),
        *_cover(inner_end, end, finer),
    ]


@dataclass
class Totals:
    """Counters summed over any set of cells and buckets."""

    values: dict[str, float] = field(default_factory=dict)

    def add(self, flat: Mapping[str, float]) -> None:
        """Add one cell's counters."""
        for key, value in flat.items():
            self.values[key] = self.values.get(key, 0) + value

    def get(self, counter: Count) -> float:
        """A counter, 0 when absent."""
        return self.values.get(_checked(counter, Count).key, 0)

    def of(self, family: Family, member: object) -> float:
        """One member's count of a family, 0 when absent."""
        return self.values.get(_checked(family, Family).key(member), 0)

    def count(self, status: str | None = None) -> int:
        """Generations (or events), or generations in one status."""
        return int(
            self.get(counters.GENERATIONS) if status is None else self.of(counters.STATUS, status)
        )

    def mean(self, measure: Measure) -> float | None:
        """Average of a measure; None without samples."""
        n = self.values.get(_checked(measure, Measure).n_key, 0)
        return None if n <= 0 else self.values.get(measure.sum_key, 0) / n / measure.scale

    def sum(self, measure: Measure) -> float:
        """A measure's total, in its unit."""
        return self.values.get(_checked(measure, Measure).sum_key, 0) / measure.scale

    def samples(self, measure: Measure) -> int:
        """How many generations (or events) carried a value of the measure."""
        return int(self.values.get(_checked(measure, Measure).n_key, 0))

    def bins(self, family: Family = counters.GENERATION_TIME_BINS) -> dict[str, float]:
        """Sketch bins of a timed measure."""
        return {m: v for key, v in self.values.items() if (m := family.member(key)) is not None}

    def members(self, family: Family) -> dict[str, int]:
        """Every nonzero member's count of a family, e.g. error codes."""
        _checked(family, Family)
        return {
            m: int(v)
            for key, v in self.values.items()
            if v != 0 and (m := family.member(key)) is not None
        }


def _checked(counter: Any, kind: type[Any]) -> Any:
    """The counter, if it is one of counters.py (a string is refused: a typo would read 0)."""
    if not isinstance(counter, kind):
        raise TypeError(f"expected a {kind.__name__} of ingest.counters, got {counter!r}")
    return counter


def statuses(totals: Totals) -> dict[str, int]:
    """Count per lifecycle status."""
    return {s: totals.count(s) for s in STATUSES}


def merge_cells(
    cells: Iterable[tuple[str, Mapping[str, Any]]],
    provider: str | None = None,
    tier: str | None = None,
) -> Totals:
    """Sum the (flat) cells that match the filters."""
    totals = Totals()
    for key, flat in cells:
        cell_provider, cell_tier = split_cell(key)
        if provider is not None and cell_provider != provider:
            continue
        if tier is not None and cell_tier != tier:
            continue
        totals.add(flat)
    return totals
