"""Service level objectives as data: what share of generations must be good over a rolling
window, the error budget that leaves, and how fast it is being spent.

Each objective is one `slo_objectives` document (camelCase), seeded with the two defaults below
and editable like the alert rules. Its indicator comes from the rollup cells, so it is as exact
as the counts:

- `success`: valid = generations that completed or failed; bad = the failed ones.
- `latency`: valid = completed generations with a generation time; bad = those slower than
  `thresholdSeconds`, counted from the generation-time sketch bins. Every time at most
  T/(1 + ALPHA) or above T/(1 - ALPHA) is classified exactly (ALPHA = 1%: 89.11 s and 90.91 s
  for 90 s); only times inside that band may land on either side.

Budget: the window may hold (1 - target) x valid bad events; `remaining` = 1 - bad / allowed
(negative once overspent). Burn rate: (bad / valid) / (1 - target); at 1 the budget lasts exactly
the window, at 14.4 about 2% of a 28-day budget is gone in an hour. Burn-rate alert rules (`kind:
burn_rate`) judge min(burn over `window`, burn over `shortWindow`) against their factor, the
multi-window pairs of the SRE workbook (1 h and 5 min at 14.4, 6 h and 30 min at 6).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from video_monitoring.alerting.records import Measurement
from video_monitoring.alerting.rules import RULE_ID_PATTERN, SCOPE_KINDS, ScopeKind, parse_model
from video_monitoring.ingest import counters, sketch
from video_monitoring.ingest.rollup import Totals

SliKind = Literal["success", "latency"]
# The windows burn rates are measured over (every tick reads them with the rule windows).
BURN_WINDOWS: dict[str, dt.timedelta] = {
    "5m": dt.timedelta(minutes=5),
    "30m": dt.timedelta(minutes=30),
    "1h": dt.timedelta(hours=1),
    "6h": dt.timedelta(hours=6),
}
MAX_WINDOW_DAYS = 90  # the raw rollups' retention
_DEFAULT_SCOPES: tuple[ScopeKind, ...] = ("overall", "provider")
# Budget left below this share: `at_risk`.
AT_RISK_REMAINING = 0.25


class Objective(BaseModel):
    """One `slo_objectives` document."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    slo_id: str = Field(alias="sloId", pattern=RULE_ID_PATTERN)
    sli: SliKind
    # The share of valid events that must be good, e.g. 0.995.
    target: float = Field(ge=0.5, le=0.99999)
    # latency only: a generation is good when it took at most this long.
    threshold_seconds: float | None = Field(
        alias="thresholdSeconds", default=None, gt=0, le=24 * 3600
    )
    window_days: int = Field(alias="windowDays", default=28, ge=1, le=MAX_WINDOW_DAYS)
    scopes: list[ScopeKind] = Field(default_factory=lambda: list(_DEFAULT_SCOPES), min_length=1)
    enabled: bool = True
    description: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> Objective:
        if self.sli == "latency" and self.threshold_seconds is None:
            raise ValueError("thresholdSeconds: a latency objective needs it")
        if self.sli == "success" and self.threshold_seconds is not None:
            raise ValueError("thresholdSeconds: applies to latency objectives only")
        if len(set(self.scopes)) != len(self.scopes) or not set(self.scopes) <= set(SCOPE_KINDS):
            raise ValueError(f"scopes: each of {', '.join(SCOPE_KINDS)} at most once")
        return self

    @property
    def window(self) -> dt.timedelta:
        """The rolling window the budget covers."""
        return dt.timedelta(days=self.window_days)

    def to_doc(self) -> dict[str, Any]:
        """The stored and served form."""
        return self.model_dump(by_alias=True, mode="json")


def parse_objective(data: Any, slo_id: str | None = None) -> Objective:
    """An objective from a document or request body; a 400 naming the first bad field."""
    return parse_model(Objective, data, "objective", {"sloId": slo_id})


DEFAULT_OBJECTIVES: tuple[Objective, ...] = (
    Objective.model_validate(
        {
            "sloId": "generation_success",
            "sli": "success",
            "target": 0.995,
            "windowDays": 28,
            "description": "99.5% of generations complete (failed ones spend the budget)",
        }
    ),
    Objective.model_validate(
        {
            "sloId": "generation_latency",
            "sli": "latency",
            "target": 0.95,
            "thresholdSeconds": 90,
            "windowDays": 28,
            "description": "95% of completed generations take at most 90 s",
        }
    ),
)


@dataclass(frozen=True)
class Counts:
    """Valid and bad events of an objective's indicator in one window and scope."""

    valid: int
    bad: int

    @property
    def good(self) -> int:
        """Valid events that met the objective."""
        return self.valid - self.bad


def slower_than(bins: dict[str, float], threshold: float) -> int:
    """Sketch samples classified above `threshold` (each bin by its representative value)."""
    return int(sum(n for key, n in bins.items() if sketch.bin_value(key) > threshold))


def counts(objective: Objective, totals: Totals) -> Counts:
    """The indicator's valid and bad events in some totals."""
    if objective.sli == "success":
        failed = totals.count("failed")
        return Counts(totals.count("completed") + failed, failed)
    assert objective.threshold_seconds is not None
    bins = totals.bins(counters.GENERATION_TIME_BINS)
    valid = int(sum(bins.values()))
    return Counts(valid, min(valid, slower_than(bins, objective.threshold_seconds)))


def burn_rate(objective: Objective, measured: Counts) -> float | None:
    """How fast the budget is spent: 1 spends it exactly over the window (None: no events)."""
    if measured.valid <= 0:
        return None
    return (measured.bad / measured.valid) / (1 - objective.target)


def burn_measurement(objective: Objective, long: Counts, short: Counts) -> Measurement:
    """What a burn-rate rule judges: the smaller of the two windows' burn rates (both must be
    past the factor), with the long window's events as samples. Generations are windowed by
    creation time and count once finished, so during a slow incident the short window may hold
    none finished yet: then the long window judges alone (new traffic that finishes well clears
    it)."""
    long_burn = burn_rate(objective, long)
    if long_burn is None:
        return Measurement(None, 0)
    short_burn = burn_rate(objective, short)
    return Measurement(long_burn if short_burn is None else min(long_burn, short_burn), long.valid)


def budget_json(objective: Objective, measured: Counts) -> dict[str, Any]:
    """The budget over the objective's window: allowed and spent bad events, what remains,
    and a status (`no_data`, `ok`, `at_risk` below 25% left, `exhausted`)."""
    allowed = (1 - objective.target) * measured.valid
    if measured.valid <= 0:
        remaining, status, sli = None, "no_data", None
    else:
        remaining = 1 - measured.bad / allowed
        status = "exhausted" if remaining <= 0 else "ok"
        if status == "ok" and remaining < AT_RISK_REMAINING:
            status = "at_risk"
        sli = measured.good / measured.valid
    return {
        "valid": measured.valid,
        "bad": measured.bad,
        "sli": sli,
        "allowedBad": allowed,
        "budgetRemaining": remaining,
        "status": status,
    }


def hours_to_exhaustion(
    objective: Objective, remaining: float | None, burn: float | None
) -> float | None:
    """At burn rate `burn`, hours until the remaining budget is spent, assuming the events that
    leave the rolling window had spent it at the window's average rate (1 - remaining): the
    budget shrinks at (burn - (1 - remaining)) per window. None when it does not shrink, or is
    spent already."""
    if remaining is None or burn is None or remaining <= 0:
        return None
    shrink = burn - (1 - remaining)
    if shrink <= 0:
        return None
    return remaining * objective.window.total_seconds() / 3600 / shrink
