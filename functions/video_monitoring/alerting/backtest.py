"""Rule backtests: a rule replayed over the runs the scheduled tick stored, with the live code.

Every scheduled run stores, per window and scope, each rule metric's measurement as the rules
saw it (`ruleMeasurements` on the `system_performance_metrics` documents: value, samples and,
for rates, successes). A backtest reads those runs and steps a fresh state per scope through
`engine.evaluate`, the function the live run calls, with the measurement the live run would
have built (`baseline` rules read the same ticks on previous days from the same documents). On
the same stored runs, a rule that nobody edited and nobody acted on (acknowledged alerts still
resolve by themselves; a manual resolve or a suppression does not happen in a replay) fires and
resolves exactly when the live alerts did.

Scopes follow the live run: `overall` and the tiers at every run, a provider from the first run
that stored it. Beyond Firestore's retention the same runs are read from the BigQuery export
(`SplitRuns`), which carries the same `ruleMeasurements`. `anomaly` rules compare whole rollup
hours, and `burn_rate` rules windows, that the runs do not store, so they cannot be replayed.

A backtest runs within a time budget (the request's deadline): one that cannot finish in time
stops with DeadlineExceeded naming `from` and a window of the size that would have fit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from video_monitoring.alerting import state_machine
from video_monitoring.alerting.metrics import RULE_WINDOWS, TIERS, ScopeTotals, measure
from video_monitoring.alerting.records import AlertState, Instance, Measurement
from video_monitoring.alerting.rules import AlertRule, parse_rule
from video_monitoring.core.budget import Budget
from video_monitoring.core.errors import DeadlineExceeded, InvalidArgument
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.ingest.rollup import Totals, floor_time

WEEK = dt.timedelta(days=7)
# Candidate thresholds tried when suggesting one (between the rule's and the extreme measured).
SUGGESTION_CANDIDATES = 64
# Replays a suggestion makes at most: the strictest candidate, then a bisection of the rest.
SUGGESTION_REPLAYS = 1 + math.ceil(math.log2(SUGGESTION_CANDIDATES + 2))


@dataclass(frozen=True)
class StoredRun:
    """What one scheduled run measured for one metric in one window and scope. `measurement`
    is None for documents written before runs stored their measurements (then only `value`,
    the figure charted, is known)."""

    tick: dt.datetime
    scope: str
    measurement: Measurement | None
    value: float | None = None


class RunReader(Protocol):
    """Where stored runs are read: Firestore's `system_performance_metrics`, or the BigQuery
    table of the same name beyond Firestore's retention."""

    def rule_runs(
        self, metric: str, window: str, start: dt.datetime, end: dt.datetime, kinds: Sequence[str]
    ) -> list[StoredRun]:
        """The runs of one metric, window and scope kinds in [start, end), by tick."""
        ...


@dataclass(frozen=True)
class SplitRuns:
    """Runs from Firestore from `horizon()` on (what its retention still keeps), and from the
    archive before it: each run is read from exactly one of them."""

    recent: RunReader
    archive: RunReader
    horizon: Callable[[], dt.datetime]

    def rule_runs(
        self, metric: str, window: str, start: dt.datetime, end: dt.datetime, kinds: Sequence[str]
    ) -> list[StoredRun]:
        """RunReader: the archive's runs before the horizon, then Firestore's."""
        cut = self.horizon()
        runs = []
        if start < cut:
            runs += self.archive.rule_runs(metric, window, start, min(end, cut), kinds)
        if end > cut:
            runs += self.recent.rule_runs(metric, window, max(start, cut), end, kinds)
        return runs

    def source(self, start: dt.datetime, end: dt.datetime) -> str:
        """Which store answers for [start, end): `firestore`, `bigquery` or both."""
        cut = self.horizon()
        parts = [("bigquery", start < cut), ("firestore", end > cut)]
        return "+".join(name for name, used in parts if used)


def stored_run(doc: Mapping[str, Any], metric: str) -> StoredRun:
    """A run from a `system_performance_metrics` document (projected or whole)."""
    stored = (doc.get("ruleMeasurements") or {}).get(metric)
    value = (doc.get("ruleMetrics") or {}).get(metric)
    measurement = None
    if isinstance(stored, Mapping):
        successes = stored.get("successes")
        measurement = Measurement(
            None if stored.get("value") is None else float(stored["value"]),
            int(stored.get("samples") or 0),
            None if successes is None else int(successes),
        )
    figure = None if value is None else float(value)
    return StoredRun(doc["tick"], doc["scope"], measurement, figure)


def measurement_json(measurement: Measurement) -> dict[str, Any]:
    """The stored form of a run's measurement (`ruleMeasurements.<metric>`)."""
    return {
        "value": measurement.value,
        "samples": measurement.samples,
        "successes": measurement.successes,
    }


@dataclass(frozen=True)
class Episode:
    """One time the rule would have fired: from firing until it resolved (None: still firing
    at the end of the window)."""

    scope: str
    start: dt.datetime
    end: dt.datetime | None
    value: float | None

    def overlaps(self, other: Episode, horizon: dt.datetime) -> bool:
        """Whether the two episodes share any time (open ones last until `horizon`)."""
        return self.start < (other.end or horizon) and other.start < (self.end or horizon)

    def to_json(self) -> dict[str, Any]:
        """Served form."""
        return {"scope": self.scope, "from": self.start, "to": self.end, "value": self.value}


@dataclass
class Replay:
    """What a rule would have done over the runs of a window."""

    start: dt.datetime
    end: dt.datetime
    runs: int = 0
    evaluations: int = 0
    notifications: int = 0
    unmeasured: int = 0  # evaluations on documents without stored measurements (no data)
    episodes: list[Episode] = field(default_factory=list)
    first_run: dt.datetime | None = None
    last_run: dt.datetime | None = None

    @property
    def firings(self) -> int:
        """Times the rule would have fired (each pages on the rule's channels)."""
        return len(self.episodes)

    def per_week(self) -> float:
        """Firings per 7 days of the window."""
        return self.firings * (WEEK / (self.end - self.start))


class Pace:
    """A backtest's progress against its time budget: each replayed run is a step, and a step
    taken once the budget is spent stops the backtest, saying what window would have fit."""

    def __init__(self, budget: Budget, start: dt.datetime, end: dt.datetime) -> None:
        self.budget, self.start, self.end = budget, start, end
        self.done = 0
        self.total = 0  # runs to replay, over every replay the backtest makes
        self.read = 0.0  # seconds the runs took to read

    def plan(self, runs: int, replays: int) -> None:
        """The work ahead once the runs are read (the read alone may have spent the budget)."""
        self.total = runs * replays
        self.read = self.budget.elapsed()
        self.check()

    def step(self) -> None:
        """One run replayed."""
        self.done += 1
        self.check()

    def check(self) -> None:
        """DeadlineExceeded once the budget is spent."""
        if not self.budget.spent():
            return
        seconds, span = self.budget.seconds, self.end - self.start
        # Reading and replaying both grow with the window: project the whole backtest's time
        # from the share done, and keep 80% of the window that the budget would have covered.
        replaying = max(0.0, seconds - self.read) * self.total / max(1, self.done)
        projected = max(seconds, self.read + (replaying if self.done else 0.0))
        hours = int(0.8 * span * (seconds / projected) / dt.timedelta(hours=1))
        hint = (
            f"a window of at most {_hours(hours)} would fit, e.g. "
            f"from={rfc3339(self.end - dt.timedelta(hours=hours))}&to={rfc3339(self.end)}"
            if hours >= 1
            else "narrow the window to less than an hour"
        )
        raise DeadlineExceeded(
            f"from: the backtest of {_hours(span / dt.timedelta(hours=1))} stopped at the "
            f"request's deadline ({seconds:g} s) after replaying {self.done} of {self.total} "
            f"runs; {hint}"
        )


def _hours(count: float) -> str:
    return f"{count:g} hour" if count == 1 else f"{count:g} hours"


class History:
    """The stored runs of one metric and window, indexed for the replay."""

    def __init__(self, runs: Iterable[StoredRun]) -> None:
        self.by_tick: dict[dt.datetime, dict[str, StoredRun]] = {}
        self._values: dict[tuple[dt.datetime, str], float | None] = {}
        for run in runs:
            self.by_tick.setdefault(run.tick, {})[run.scope] = run
            value = run.measurement.value if run.measurement is not None else run.value
            self._values[(floor_time(run.tick, "minute"), run.scope)] = value

    def value_at(self, tick: dt.datetime, scope: str) -> float | None:
        """What the run at that minute measured in the scope (the live baseline read)."""
        return self._values.get((tick, scope))


def _empty(metric: str, window: str, tick: dt.datetime) -> Measurement:
    """What the live run measures in a scope with no data in its window."""
    end = floor_time(tick, "minute")
    empty = ScopeTotals(Window(start=end - RULE_WINDOWS[window], end=end), Totals())
    return measure(metric, empty)


def _scopes(rule: AlertRule, providers: Iterable[str]) -> list[str]:
    """The live order: overall, then providers, then tiers."""
    scopes = ["overall"] if "overall" in rule.scopes else []
    if "provider" in rule.scopes:
        scopes += [f"provider:{p}" for p in sorted(providers)]
    if "tier" in rule.scopes:
        scopes += [f"tier:{t}" for t in TIERS]
    return scopes


def replay(
    rule: AlertRule,
    history: History,
    start: dt.datetime,
    end: dt.datetime,
    pace: Pace | None = None,
) -> Replay:
    """Step a fresh state per scope through every run in [start, end), as the live run did
    (stopped by the pace's budget)."""
    if rule.kind in ("anomaly", "burn_rate"):
        raise ValueError(f"{rule.kind} rules compare windows the stored runs do not hold")
    result = Replay(start, end)
    states: dict[str, AlertState] = {}
    instances: dict[str, Instance | None] = {}
    open_episode: dict[str, Episode] = {}
    providers: set[str] = set()
    for tick in sorted(t for t in history.by_tick if start <= t < end):
        if pace is not None:
            pace.step()
        runs = history.by_tick[tick]
        providers |= {s.partition(":")[2] for s in runs if s.startswith("provider:")}
        result.runs += 1
        result.first_run = result.first_run or tick
        result.last_run = tick
        for scope in _scopes(rule, providers):
            measurement = _measurement(rule, history, runs.get(scope), scope, tick)
            if measurement is None:
                result.unmeasured += 1
            state = states.get(scope) or AlertState(rule.rule_id, scope)
            before = instances.get(scope)
            step = state_machine.evaluate(rule, state, before, measurement, tick)
            result.evaluations += 1
            result.notifications += len(step.outbound)
            states[scope], after = step.state, step.instance
            instances[scope] = after if after is not None and after.is_open else None
            fired = after is not None and after.fired_at == tick and after.status == "firing"
            if fired and (before is None or before.status == "pending"):
                open_episode[scope] = Episode(scope, tick, None, step.judgement.value
                                              if step.judgement else None)  # fmt: skip
            if after is not None and after.status == "resolved" and scope in open_episode:
                result.episodes.append(replace(open_episode.pop(scope), end=tick))
    result.episodes += open_episode.values()
    result.episodes.sort(key=lambda e: (e.start, e.scope))
    return result


def _measurement(
    rule: AlertRule, history: History, run: StoredRun | None, scope: str, tick: dt.datetime
) -> Measurement | None:
    if run is None:
        current: Measurement | None = _empty(rule.metric, rule.window, tick)
    else:
        current = run.measurement
    if current is None or rule.kind != "baseline":
        return current
    minute = floor_time(tick, "minute")
    past = (history.value_at(minute - dt.timedelta(days=d), scope)
            for d in range(1, rule.baseline_days + 1))  # fmt: skip
    baseline = tuple(v for v in past if v is not None)
    return replace(current, baseline=baseline)


@dataclass(frozen=True)
class Suggestion:
    """The threshold that would have paged at most a target number of times a week, and the
    episodes of the current rule it would have missed."""

    target_per_week: float
    threshold: float | None  # None: no candidate meets the target
    replay: Replay | None
    missed: list[Episode]

    def to_json(self, horizon: dt.datetime) -> dict[str, Any]:
        """Served form."""
        return {
            "pagesPerWeek": self.target_per_week,
            "threshold": self.threshold,
            "firings": None if self.replay is None else self.replay.firings,
            "firingsPerWeek": None if self.replay is None else round(self.replay.per_week(), 3),
            "missed": [e.to_json() for e in self.missed],
        }


def suggest(
    rule: AlertRule, history: History, pace: Pace, target_per_week: float, current: Replay
) -> Suggestion:
    """The threshold closest to the rule's own that would have fired at most `target_per_week`
    times a week: among candidates from the rule's threshold towards stricter ones (spread over
    the values the runs measured), the first within the target, found by bisection (a stricter
    threshold never fires more often, so about 7 replays instead of 66). A rule within the
    target already is suggested as it is. The window replayed is the pace's."""
    start, end = pace.start, pace.end
    candidates = _stricter(rule, history, start, end)
    replays: dict[int, Replay] = {}

    def outcome(i: int) -> Replay:
        if i not in replays:
            trial = rule.model_copy(update={"threshold": candidates[i]})
            replays[i] = current if i == 0 else replay(trial, history, start, end, pace)
        return replays[i]

    def meets(i: int) -> bool:
        return outcome(i).per_week() <= target_per_week + 1e-9

    if not meets(len(candidates) - 1):
        return Suggestion(target_per_week, None, None, [])
    low, high = 0, len(candidates) - 1  # the first index that meets the target is in [low, high]
    while low < high:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle + 1
    chosen = outcome(low)
    missed = [
        e
        for e in current.episodes
        if not any(e.scope == o.scope and e.overlaps(o, end) for o in chosen.episodes)
    ]
    return Suggestion(target_per_week, candidates[low], chosen, missed)


def _stricter(
    rule: AlertRule, history: History, start: dt.datetime, end: dt.datetime
) -> list[float]:
    """The rule's threshold, then stricter ones in order: for baseline rules larger fractions
    of the baseline; otherwise past the extreme the runs measured, in even steps."""
    if rule.kind == "baseline":
        top = 0.99 if rule.comparator == "lt" else 10.0
        step = (top - rule.threshold) / SUGGESTION_CANDIDATES
        return [rule.threshold + i * step for i in range(SUGGESTION_CANDIDATES + 1)]
    values = [
        run.measurement.value
        for tick, runs in history.by_tick.items() if start <= tick < end
        for run in runs.values()
        if run.measurement is not None and run.measurement.value is not None
    ]  # fmt: skip
    values = [v for v in values if math.isfinite(v)]
    extreme = (max if rule.comparator == "gt" else min)([*values, rule.threshold])
    step = (extreme - rule.threshold) / SUGGESTION_CANDIDATES
    if step == 0:
        return [rule.threshold]
    # One step past the extreme: a threshold no run breached.
    return [rule.threshold + i * step for i in range(SUGGESTION_CANDIDATES + 2)]


def backtest_json(
    rule: AlertRule, result: Replay, threshold: float | None, suggestion: Suggestion | None
) -> dict[str, Any]:
    """The answer of GET /alert-rules/{ruleId}/backtest."""
    body: dict[str, Any] = {
        "ruleId": rule.rule_id,
        "window": {"from": result.start, "to": result.end},
        "threshold": rule.threshold if threshold is None else threshold,
        "storedThreshold": rule.threshold,
        "runs": result.runs,
        "firstRun": result.first_run,
        "lastRun": result.last_run,
        "evaluations": result.evaluations,
        "unmeasured": result.unmeasured,
        "firings": result.firings,
        "firingsPerWeek": round(result.per_week(), 3),
        "notifications": result.notifications,
        "episodes": [e.to_json() for e in result.episodes],
    }
    if suggestion is not None:
        body["suggestion"] = suggestion.to_json(result.end)
    return body


def needs_from(rule: AlertRule, start: dt.datetime) -> dt.datetime:
    """How far back the replay reads: baseline rules also compare with earlier days."""
    if rule.kind == "baseline":
        return start - dt.timedelta(days=rule.baseline_days)
    return start


@dataclass(frozen=True)
class WhatIf:
    """What a backtest asks beyond replaying the stored rule: another threshold to replay it
    with, and a paging rate to find the nearest threshold for (None: not asked)."""

    threshold: float | None = None
    pages_per_week: float | None = None
    # The time the backtest may take (None: unlimited); spent, it stops with DeadlineExceeded.
    budget: Budget | None = None


def backtest_rule(
    rule: AlertRule,
    reader: RunReader,
    source: Callable[[dt.datetime, dt.datetime], str] | None,
    start: dt.datetime,
    end: dt.datetime,
    what_if: WhatIf = WhatIf(),
) -> dict[str, Any]:
    """GET /alert-rules/{ruleId}/backtest: the rule (or it with another threshold; nothing
    saved) replayed over the runs stored in [start, end) with the live state machine; with
    `pages_per_week`, the threshold nearest the rule's that would have paged at most that
    often. `source` names the store of a span (None: Firestore alone). DeadlineExceeded when
    the budget is spent before the answer is ready."""
    if rule.kind in ("anomaly", "burn_rate"):
        raise InvalidArgument(
            f"ruleId: {rule.kind} rules compare windows the stored runs do not hold (whole "
            "rollup hours, or an objective's 30-minute and 6-hour burn); backtests replay "
            "threshold and baseline rules"
        )
    threshold, pages_per_week, budget = what_if.threshold, what_if.pages_per_week, what_if.budget
    trial = rule
    if threshold is not None:
        try:
            trial = parse_rule({**rule.to_doc(), "threshold": threshold})
        except InvalidArgument as error:
            raise InvalidArgument(f"threshold: {error}") from None
    earliest = needs_from(trial, start)
    pace = Pace(budget or Budget.unlimited(), start, end)
    history = History(reader.rule_runs(rule.metric, rule.window, earliest, end, rule.scopes))
    runs = sum(1 for tick in history.by_tick if start <= tick < end)
    pace.plan(runs, 1 if pages_per_week is None else 1 + SUGGESTION_REPLAYS)
    result = replay(trial, history, start, end, pace)
    suggestion = None
    if pages_per_week is not None:
        suggestion = suggest(trial, history, pace, pages_per_week, result)
    return backtest_json(trial, result, threshold, suggestion) | {
        "source": source(earliest, end) if source else "firestore",
        "storedThreshold": rule.threshold,
    }
