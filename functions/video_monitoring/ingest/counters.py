"""Every rollup counter, named once with its unit.

A rollup cell holds flat integer counters keyed `name` or `name/part`; sums are fixed point
(`scale` integer units per unit, so they add exactly). There are three kinds:

- `Count`: one integer, e.g. `n` (generations) or `retried`;
- `Measure`: `{key}/sum` (fixed point) and `{key}/n` (samples), so means and totals are exact;
- `Family`: one count per member under a prefix, e.g. `s/{status}` or `err/{code}`.

The writers (`ingest.rollup`, `ingest.events`, the user days of `ingest.pipeline`, and the
archive rebuild in `warehouse.archive`) and every reader (`Totals` and the figures built on it)
use these objects, never the strings: `Totals` refuses anything else, and
tests/unit/test_counters.py fails on a key a writer produces that is not defined here.
"""

from __future__ import annotations

from dataclasses import dataclass

MS = 1000  # seconds -> milliseconds
MICRO_USD = 1_000_000  # USD -> micro-dollars
MILLI = 1000  # quality points and rating stars -> thousandths


@dataclass(frozen=True)
class Count:
    """One integer counter."""

    key: str
    unit: str


@dataclass(frozen=True)
class Measure:
    """A fixed-point sum and its number of samples."""

    key: str
    scale: int
    unit: str

    @property
    def sum_key(self) -> str:
        """The key of the fixed-point sum."""
        return f"{self.key}/sum"

    @property
    def n_key(self) -> str:
        """The key of the sample count."""
        return f"{self.key}/n"


@dataclass(frozen=True)
class Family:
    """One count per member: `{prefix}/{member}` (then `/{suffix}` when the family has one)."""

    prefix: str
    unit: str
    suffix: str = ""

    def key(self, member: object) -> str:
        """The counter of one member."""
        return f"{self.prefix}/{member}" + (f"/{self.suffix}" if self.suffix else "")

    def member(self, key: str) -> str | None:
        """The member a key counts, or None when the key is not in this family."""
        head, tail = f"{self.prefix}/", f"/{self.suffix}" if self.suffix else ""
        if not key.startswith(head) or not key.endswith(tail):
            return None
        inner = key[len(head) : len(key) - len(tail)]
        return inner if inner and "/" not in inner else None


Counter = Count | Measure | Family

# --- generation cells (`generation_rollups`, one cell per provider and tier) -----------------
GENERATIONS = Count("n", "generations")
STATUS = Family("s", "generations per lifecycle status")
GENERATION_TIME = Measure("gt", MS, "seconds from createdAt to completedAt (completed)")
GENERATION_TIME_BINS = Family("gt/b", "completed generations per DDSketch bin of generation time")
OUTPUT = Measure("out", MS, "seconds of video produced (completed)")
QUEUE = Measure("qt", MS, "seconds from createdAt to startedAt")
RENDER = Measure("rt", MS, "seconds from startedAt to completedAt (completed)")
COST = Measure("cost", MICRO_USD, "USD of provider cost")
# Cost that bought no output: failed generations' whole cost, and for retried generations that
# completed the share of their attempts that failed, cost x (attempts - 1) / attempts, in whole
# micro-dollars rounded down (each attempt assumed to cost the same).
FAILED_COST = Measure("costf", MICRO_USD, "USD of provider cost of failed generations")
RETRY_WASTE = Count("costw", "micro-USD of the failed attempts of completed retried generations")
QUALITY = Measure("q", MILLI, "quality score, 0..10")
RATING = Measure("r", MILLI, "user rating, 1..5")
ATTEMPTS = Measure("att", 1, "provider attempts (completed or failed)")
RETRIED = Count("retried", "generations that needed more than one attempt")
FALLBACK = Count("fallback", "generations another provider took over")
ERRORS = Family("err", "failed generations per error code")
FEATURES = Family("feat", "generations (or feature_used events) per premium feature")
ANY_FEATURE = Count("feat_any", "generations using any premium feature")
# Values of the bounded fields (ingest/bounds.py) counted under `other`, per field.
OTHER = Family("other", "values counted under `other` (provider, errorCode, feature, eventType)")
# Exact sums over generations with both a quality score and a rating (their correlation).
RATED_PAIRS = Count("qr/n", "generations with a quality score and a rating")
PAIR_QUALITY = Count("qr/q", "sum of quality scores, thousandths")
PAIR_RATING = Count("qr/r", "sum of ratings, thousandths")
PAIR_QUALITY_SQUARES = Count("qr/qq", "sum of squared quality scores, millionths")
PAIR_RATING_SQUARES = Count("qr/rr", "sum of squared ratings, millionths")
PAIR_PRODUCTS = Count("qr/qr", "sum of quality x rating, millionths")
# Per whole quality point (0..9): rated generations, and their ratings' sum in thousandths.
BAND_RATED = Family("qb", "rated generations per quality band", suffix="n")
BAND_RATING = Family("qb", "sum of ratings per quality band, thousandths", suffix="r")
# Error recovery (analytics/recovery.py). Finished generations that were retried (attempts > 1)
# or taken over by another provider (fallbackFrom), and of those the ones that completed.
RECOVERY_TRIED = Count("rcv/n", "finished generations retried or taken over from a provider")
RECOVERED = Count("rcv/ok", "of those, generations that completed")
# Failed generations per error code by the document's `error.retryable` flag; both are counted
# so a flag that flips always removes one key (err/{code} is their sum).
ERROR_RETRYABLE = Family("errc", "failed generations per error code flagged retryable", "r")
ERROR_PERMANENT = Family("errc", "failed generations per error code flagged not retryable", "p")
# The fallback matrix: finished generations taken over from provider {from} (the cell's provider
# is the one that took over), per outcome.
FALLBACK_COMPLETED = Family("fbk", "completed generations taken over from a provider", "completed")
FALLBACK_FAILED = Family("fbk", "failed generations taken over from a provider", "failed")

# --- event cells (`event_rollups`, one cell per event type) ----------------------------------
EVENTS = Count("n", "app events")
REVENUE = Measure("rev", MICRO_USD, "USD of premium upgrades")
# FEATURES counts the feature of `feature_used` events.

# --- user days (`user_days`, per user and UTC day) -------------------------------------------
USER_GENERATIONS = Count("gen/n", "generations the user asked for")
USER_STATUS = Family("gen/s", "the user's generations per lifecycle status")
USER_PREMIUM = Count("gen/premium", "the user's premium-tier generations")
USER_EVENTS = Family("ev", "the user's app events per type")
USER_REVENUE = Count("rev", "micro-dollars the user paid")

GENERATION_COUNTERS: tuple[Counter, ...] = (
    GENERATIONS, STATUS, GENERATION_TIME, GENERATION_TIME_BINS, OUTPUT, QUEUE, RENDER, COST,
    QUALITY, RATING, ATTEMPTS, RETRIED, FALLBACK, ERRORS, FEATURES, ANY_FEATURE, RATED_PAIRS,
    PAIR_QUALITY, PAIR_RATING, PAIR_QUALITY_SQUARES, PAIR_RATING_SQUARES, PAIR_PRODUCTS,
    BAND_RATED, BAND_RATING, FAILED_COST, RETRY_WASTE, OTHER, RECOVERY_TRIED, RECOVERED,
    ERROR_RETRYABLE, ERROR_PERMANENT, FALLBACK_COMPLETED, FALLBACK_FAILED,
)  # fmt: skip
# Counters added after generations were first recorded: a stored contribution without them is
# kept as it is while its generation does not change (the next change counts them), so a
# release adding them neither rewrites history nor looks like drift to the nightly audit.
LATER_GENERATION_KEYS: frozenset[str] = frozenset(
    {FAILED_COST.sum_key, FAILED_COST.n_key, RETRY_WASTE.key}
    | {OTHER.key(f) for f in ("provider", "errorCode", "feature")}
    | {RECOVERY_TRIED.key, RECOVERED.key}
)
# Families added later in the same way (their members are free values, so listed as families).
LATER_GENERATION_FAMILIES: tuple[Counter, ...] = (
    ERROR_RETRYABLE, ERROR_PERMANENT, FALLBACK_COMPLETED, FALLBACK_FAILED,
)  # fmt: skip
EVENT_COUNTERS: tuple[Counter, ...] = (EVENTS, REVENUE, FEATURES, OTHER)
USER_DAY_COUNTERS: tuple[Counter, ...] = (
    USER_GENERATIONS, USER_STATUS, USER_PREMIUM, USER_EVENTS, USER_REVENUE,
)  # fmt: skip


def later_generation_key(key: str) -> bool:
    """Whether a generation counter was added after generations were first recorded."""
    return key in LATER_GENERATION_KEYS or defines(key, LATER_GENERATION_FAMILIES)


def defines(key: str, counters: tuple[Counter, ...]) -> bool:
    """Whether a flat key is one of these counters."""
    for counter in counters:
        if isinstance(counter, Count) and key == counter.key:
            return True
        if isinstance(counter, Measure) and key in (counter.sum_key, counter.n_key):
            return True
        if isinstance(counter, Family) and counter.member(key) is not None:
            return True
    return False
