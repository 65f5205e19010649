"""Alert rules as data: the `alert_rules` document schema, its validation and the defaults.

A rule names a metric of the windowed system metrics, how to judge it (a fixed threshold, or its
own baseline for `kind: anomaly`), over which window and for which scopes (overall, each provider,
each tier), and what to do when it fires: severity, channels, escalation levels, repeat interval.
Every field is editable data (`PUT /alert-rules/{ruleId}`); nothing here is read from code at
evaluation time except the defaults seeded on first run.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from video_monitoring.core.errors import InvalidArgument

Model = TypeVar("Model", bound=BaseModel)
Comparator = Literal["gt", "lt"]
ScopeKind = Literal["overall", "provider", "tier"]
SCOPE_KINDS: tuple[ScopeKind, ...] = ("overall", "provider", "tier")
Severity = Literal["info", "warning", "critical"]
NoData = Literal["ok", "keep", "alerting"]
ChannelName = Literal["email", "slack", "sms", "webhook"]
RuleWindow = Literal["5m", "30m", "1h", "6h", "24h"]
# The windows every run stores figures for (system_performance_metrics); 30m and 6h exist for
# burn-rate rules only.
STORED_WINDOWS = ("5m", "1h", "24h")
BURN_LONG = ("1h", "6h")  # a burn-rate rule's window ...
BURN_SHORT = ("5m", "30m")  # ... and its short window
Direction = Literal["above", "below", "both"]

# Metrics a rule may name. Rates are judged on a Wilson confidence bound (docs/alerting.md).
RATE_METRICS = frozenset(
    {"successRate", "failureRate", "retryRate", "fallbackRate", "conversionRate", "recoveryRate"}
)
VALUE_METRICS = frozenset(
    {
        "avgGenerationSeconds",
        "p95GenerationSeconds",
        "avgQueueSeconds",
        "avgQualityScore",
        "avgUserRating",
        "costPerOutputSecondUsd",
        "throughputPerHour",
        "total",
        "revenueUsd",
    }
)
# Figures about the monitor itself (analytics/health.py): changes the nightly drift audit had to
# repair, minutes since the previous scheduled tick, the share of the last hour's documents that
# were rejected, notifications given up in the last day, whether the last BigQuery export failed
# (1) or not (0), generations in flight and those stuck, rollup journal entries the fold holds in
# quarantine, API calls refused for want of a role in the last hour.
SYSTEM_METRICS = frozenset(
    {
        "pipelineRepairs",
        "minutesSinceLastTick",
        "rejectedShare",
        "abandonedNotifications",
        "exportFailed",
        "queueBacklog",
        "stuckJobs",
        "quarantinedEntries",
        "deniedRequests",
    }
)
# The functions' own runtime over the last 10 minutes (analytics/runtime.py, docs/runtime.md),
# measured by the tick with the live figures below: errors of every function, errors per
# execution, and the slowest function's p95 execution time (ms). One figure for the system.
FUNCTION_METRICS = frozenset({"functionErrors", "functionErrorRate", "functionP95Ms"})
# Measured now per scope by the tick (analytics/capacity.py), whatever the rule's window:
# generations queued, the oldest queued one's age, the p95 wait of jobs started in the last hour,
# and per provider in flight / maxConcurrent and the month's forecast spend / monthlyBudgetUsd.
LIVE_METRICS = (
    frozenset(
        {
            "queuedJobs",
            "oldestQueuedSeconds",
            "queueWaitP95Seconds",
            "providerUtilization",
            "budgetForecastShare",
        }
    )
    | FUNCTION_METRICS
)
# Metrics of a provider's limits: they exist per provider only.
PROVIDER_ONLY = frozenset({"providerUtilization", "budgetForecastShare"})
# The metrics a console page lists open alerts on (`GET /alerts?about=`): the queue, the
# scheduled tick and the functions for the System page; a provider's limits for Capacity.
METRIC_GROUPS: dict[str, frozenset[str]] = {
    "system": (LIVE_METRICS - PROVIDER_ONLY)
    | {"queueBacklog", "stuckJobs", "minutesSinceLastTick"},
    "limits": PROVIDER_ONLY,
}
# The burn-rate rules' metric: how fast an objective's error budget is spent
# (alerting/slo_objectives.py).
BURN_METRIC = "errorBudgetBurn"
METRICS = RATE_METRICS | VALUE_METRICS | SYSTEM_METRICS | LIVE_METRICS | {BURN_METRIC}
# Metrics that exist overall only (premium upgrades carry no provider; the system is one).
OVERALL_ONLY = frozenset({"conversionRate", "revenueUsd"}) | SYSTEM_METRICS | FUNCTION_METRICS
# Measured per run for the stored figures (the burn metric depends on a rule's objective).
STORED_METRICS = METRICS - {BURN_METRIC}


# What a rule id may be (the API checks path and query parameters against it too).
RULE_ID_PATTERN = r"^[a-z0-9_]{1,64}$"
RULE_ID = re.compile(RULE_ID_PATTERN)

_OVERALL: tuple[ScopeKind, ...] = ("overall",)
_SLACK: tuple[ChannelName, ...] = ("slack",)


# Each recipient list's form: (pattern, what the error calls it).
_RECIPIENT_FORMS = {
    "email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address"),
    "sms": (r"\+[1-9][0-9]{6,14}", "an E.164 phone number (+ and digits)"),
    "slack": (r"[a-z0-9][a-z0-9_-]{0,39}", "a Slack tier name (a-z, 0-9, - and _)"),
}


class Recipients(BaseModel):
    """An on-call tier's own people: email addresses and phone numbers (E.164) that replace the
    channel's configured recipients for the level's message, and are told of what follows."""

    model_config = ConfigDict(extra="forbid")

    email: list[str] = Field(default_factory=list, max_length=20)
    sms: list[str] = Field(default_factory=list, max_length=10)
    # Slack tiers by name: their webhooks are secrets (SLACK_TIERS, SLACK_WEBHOOK_URL_<TIER>).
    slack: list[str] = Field(default_factory=list, max_length=5)

    @field_validator("email", "sms", "slack")
    @classmethod
    def _each(cls, value: list[str], info: ValidationInfo) -> list[str]:
        pattern, what = _RECIPIENT_FORMS[str(info.field_name)]
        for item in value:
            if not re.fullmatch(pattern, item):
                raise ValueError(f"not {what}: {item!r}")
        return value

    def of(self, channel: str) -> tuple[str, ...]:
        """This tier's recipients on one channel (none: the channel's own)."""
        by_channel = {"email": self.email, "sms": self.sms, "slack": self.slack}
        return tuple(by_channel.get(channel, ()))


class EscalationLevel(BaseModel):
    """Who else is told when a firing alert stays unacknowledged this long after it fired: more
    channels, and optionally the tier's own recipients on them (an on-call rota)."""

    model_config = ConfigDict(extra="forbid")

    after_minutes: int = Field(alias="afterMinutes", ge=1, le=7 * 24 * 60)
    channels: list[ChannelName] = Field(min_length=1)
    recipients: Recipients | None = None


class PauseProvider(BaseModel):
    """The automated response: while the rule fires for a provider, tell the generation service
    to stop sending it traffic (`provider_controls/{provider}`, weight 0), then after
    `cooldownMinutes` to probe it with `probeShare` of its usual traffic until the alert
    resolves."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    type: Literal["pause_provider"]
    cooldown_minutes: int = Field(alias="cooldownMinutes", default=15, ge=1, le=24 * 60)
    probe_share: float = Field(alias="probeShare", default=0.1, ge=0.0, le=1.0)


class AlertRule(BaseModel):
    """One `alert_rules` document (camelCase in Firestore and the API)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    rule_id: str = Field(alias="ruleId", pattern=RULE_ID_PATTERN)
    # threshold: value against `threshold`. anomaly: robust z against the same hour on previous
    # days. baseline: relative change against the same tick on previous days, `threshold` being
    # the fraction (0.5 with `lt`: fire below half the baseline; with `gt`: above 1.5 times).
    # burn_rate: the error budget burn of objective `slo` over `window` and over `shortWindow`,
    # the smaller of the two against `threshold` (the burn factor, e.g. 14.4).
    kind: Literal["threshold", "anomaly", "baseline", "burn_rate"] = "threshold"
    metric: str
    comparator: Comparator = "gt"
    threshold: float = 0.0
    window: RuleWindow = "1h"
    scopes: list[ScopeKind] = Field(default_factory=lambda: list(_OVERALL), min_length=1)
    min_samples: int = Field(alias="minSamples", default=20, ge=0)
    # Consecutive breaching evaluations before pending turns firing (1 = fire at once).
    pending_evaluations: int = Field(alias="pendingEvaluations", default=2, ge=1, le=100)
    # Consecutive clear evaluations before a firing alert resolves itself.
    resolve_evaluations: int = Field(alias="resolveEvaluations", default=2, ge=1, le=100)
    # Once firing, the value must come back past threshold -/+ hysteresis to count as clear.
    hysteresis: float = Field(default=0.0, ge=0)
    # Two-sided confidence of the Wilson interval used for rate metrics.
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    severity: Severity = "warning"
    channels: list[ChannelName] = Field(default_factory=lambda: list(_SLACK))
    escalation: list[EscalationLevel] = Field(default_factory=list, max_length=5)
    repeat_interval_minutes: int = Field(alias="repeatIntervalMinutes", default=240, ge=0)
    no_data: NoData = Field(alias="noData", default="keep")
    enabled: bool = True
    description: str = Field(default="", max_length=500)
    # Anomaly rules: robust z-score against the same hour on previous days. Baseline rules: the
    # days they compare with (and how many must have a value).
    baseline_days: int = Field(alias="baselineDays", default=7, ge=2, le=28)
    min_history_days: int = Field(alias="minHistoryDays", default=3, ge=2, le=28)
    z_threshold: float = Field(alias="zThreshold", default=3.5, gt=0)
    direction: Direction = "both"
    # What to do besides telling people (docs/interfaces.md §11); no default rule has one.
    actions: list[PauseProvider] = Field(default_factory=list, max_length=1)
    # burn_rate rules: the objective (`slo_objectives/{slo}`) and the short window of the pair.
    slo: str | None = Field(default=None, pattern=RULE_ID_PATTERN)
    short_window: RuleWindow | None = Field(alias="shortWindow", default=None)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; accepted: {', '.join(sorted(METRICS))}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AlertRule:
        if self.metric in OVERALL_ONLY and self.scopes != ["overall"]:
            raise ValueError(f"metric {self.metric} exists overall only; scopes must be [overall]")
        if self.metric in PROVIDER_ONLY and self.scopes != ["provider"]:
            raise ValueError(f"metric {self.metric} exists per provider only; scopes: [provider]")
        afters = [level.after_minutes for level in self.escalation]
        if afters != sorted(set(afters)):
            raise ValueError("escalation levels need strictly increasing afterMinutes")
        if self.kind in ("anomaly", "baseline") and self.min_history_days > self.baseline_days:
            raise ValueError("minHistoryDays cannot exceed baselineDays")
        if self.kind == "baseline" and not 0 < self.threshold < (
            1 if self.comparator == "lt" else 100
        ):
            raise ValueError(
                "baseline rules take a relative threshold: a fraction of the baseline between 0 "
                "and 1 for lt (0.5: half), above 0 for gt"
            )
        if (
            self.kind == "threshold"
            and self.metric in RATE_METRICS
            and not 0 <= self.threshold <= 1
        ):
            raise ValueError(f"{self.metric} is a proportion; threshold must be from 0 to 1")
        if self.actions and "provider" not in self.scopes:
            raise ValueError("a pause_provider action needs the provider scope in scopes")
        if self.kind == "anomaly" and self.window != "1h":
            raise ValueError("anomaly rules compare whole hours; window must be 1h")
        self._check_burn()
        return self

    def _check_burn(self) -> None:
        burn = self.kind == "burn_rate"
        if burn != (self.metric == BURN_METRIC):
            raise ValueError(f"metric: {BURN_METRIC} goes with kind burn_rate, and only with it")
        if not burn:
            if self.window not in STORED_WINDOWS:
                raise ValueError(f"window: one of {', '.join(STORED_WINDOWS)}")
            if self.slo is not None or self.short_window is not None:
                raise ValueError("slo: slo and shortWindow apply to burn_rate rules only")
            return
        if self.slo is None:
            raise ValueError("slo: a burn_rate rule needs the objective it watches")
        if self.window not in BURN_LONG:
            raise ValueError(f"window: a burn_rate rule's is one of {', '.join(BURN_LONG)}")
        if self.short_window not in BURN_SHORT:  # each shorter than either long window
            raise ValueError(f"shortWindow: a burn_rate rule's is one of {', '.join(BURN_SHORT)}")
        if self.comparator != "gt" or self.threshold <= 0:
            raise ValueError("threshold: a burn_rate rule fires above a burn factor > 0 (gt)")

    @property
    def is_rate(self) -> bool:
        """Whether the metric is a proportion judged on a confidence bound."""
        return self.metric in RATE_METRICS

    @property
    def pause_action(self) -> PauseProvider | None:
        """The rule's pause_provider action, if it has one."""
        return next((a for a in self.actions if a.type == "pause_provider"), None)

    def to_doc(self) -> dict[str, Any]:
        """The stored and served form."""
        return self.model_dump(by_alias=True, mode="json")


def parse_model(model: type[Model], data: Any, what: str, ids: dict[str, str | None]) -> Model:
    """A model from a document or request body (with its id fields from the path); a 400
    naming the first bad field otherwise."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"body: expected a JSON object with the {what}'s fields")
    data = {**data, **{k: v for k, v in ids.items() if v is not None}}
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"])
        if not where:
            # A check across fields names the field in its message ("shortWindow: ...").
            text = message.removeprefix("Value error, ")
            field, colon, rest = text.partition(": ")
            if colon and field.isidentifier():
                where, message = field, rest
        raise InvalidArgument(f"{where or 'body'}: {message}") from None


def parse_rule(data: Any, rule_id: str | None = None) -> AlertRule:
    """A rule from a document or request body; a 400 naming the first bad field otherwise."""
    return parse_model(AlertRule, data, "rule", {"ruleId": rule_id})


def _rule(**fields: Any) -> AlertRule:
    return AlertRule.model_validate(fields)


def _burn_pair(name: str, objective: str, what: str) -> tuple[AlertRule, AlertRule]:
    """The SRE workbook's two burn-rate rules of one objective (alerting/slo_objectives.py):
    1 h and 5 min above 14.4 (about 2% of a 28-day budget in an hour; critical) and 6 h and
    30 min above 6 (about 5% in 6 hours; warning). Seeded disabled: they page on objectives the
    team chooses, so they are turned on once slo_objectives holds the team's."""
    common = {"kind": "burn_rate", "metric": BURN_METRIC, "slo": objective,
              "scopes": ["overall", "provider"], "minSamples": 20, "pendingEvaluations": 1,
              "resolveEvaluations": 2, "enabled": False}  # fmt: skip
    fast = _rule(
        ruleId=f"slo_{name}_fast_burn", window="1h", shortWindow="5m", threshold=14.4,
        severity="critical", channels=["slack", "email", "webhook"],
        escalation=[{"afterMinutes": 15, "channels": ["sms"]}],
        description=f"{what} spend the {objective} budget 14.4 times too fast (about 2% of 28 "
        "days' budget in an hour), over both the last hour and the last 5 minutes", **common,
    )  # fmt: skip
    slow = _rule(
        ruleId=f"slo_{name}_slow_burn", window="6h", shortWindow="30m", threshold=6.0,
        severity="warning", channels=["slack", "email"],
        description=f"{what} spend the {objective} budget 6 times too fast (about 5% of it in "
        "6 hours), over both the last 6 hours and the last 30 minutes", **common,
    )  # fmt: skip
    return fast, slow


# docs/interfaces.md §7. Per-provider scopes so a degraded provider is named; 2-evaluation
# pending period (10 minutes at the 5-minute schedule); escalation to SMS after 15 minutes for
# critical rules.
DEFAULT_RULES: tuple[AlertRule, ...] = (
    _rule(
        ruleId="slow_generation", metric="avgGenerationSeconds", comparator="gt", threshold=90.0,
        window="1h", scopes=["overall", "provider"], minSamples=20, hysteresis=5.0,
        severity="warning", channels=["slack", "email"],
        escalation=[{"afterMinutes": 30, "channels": ["webhook"]}],
        description="Average generation time above 90 s",
    ),
    _rule(
        ruleId="low_success_rate", metric="successRate", comparator="lt", threshold=0.95,
        window="1h", scopes=["overall", "provider"], minSamples=20, hysteresis=0.01,
        severity="critical", channels=["slack", "email", "webhook"],
        escalation=[{"afterMinutes": 15, "channels": ["sms"]}],
        description="Success rate below 95%",
    ),
    _rule(
        ruleId="quality_degradation", metric="avgQualityScore", comparator="lt", threshold=8.0,
        window="24h", scopes=["overall", "provider"], minSamples=20, hysteresis=0.1,
        severity="warning", channels=["slack", "email"],
        description="Average quality score below 8.0",
    ),
    _rule(
        ruleId="low_satisfaction", metric="avgUserRating", comparator="lt", threshold=4.0,
        window="24h", scopes=["overall", "provider"], minSamples=20, hysteresis=0.1,
        severity="warning", channels=["slack", "email"],
        description="Average user rating below 4.0",
    ),
    _rule(
        ruleId="conversion_drop", kind="baseline", metric="conversionRate", comparator="lt",
        threshold=0.5, window="24h", scopes=["overall"], minSamples=100, baselineDays=7,
        minHistoryDays=3, severity="warning", channels=["slack", "email"],
        description="Premium conversion (upgrades per free generation) over the last 24 hours "
        "fell below half of the same 24 hours on previous days",
    ),
    _rule(
        ruleId="revenue_decline", kind="baseline", metric="revenueUsd", comparator="lt",
        threshold=0.5, window="24h", scopes=["overall"], minSamples=100, baselineDays=7,
        minHistoryDays=3, severity="warning", channels=["slack", "email"],
        description="Revenue over the last 24 hours fell below half of the same 24 hours on "
        "previous days",
    ),
    _rule(
        ruleId="pipeline_drift", metric="pipelineRepairs", comparator="gt", threshold=0.0,
        window="24h", scopes=["overall"], minSamples=1, pendingEvaluations=1,
        resolveEvaluations=1, severity="warning", channels=["slack", "email"],
        description="The nightly audit repaired changes no trigger handler had counted",
    ),
    # The monitor watching itself: each fires on the first run that sees it and resolves on the
    # first that does not (GET /health reports the same conditions to an external uptime check).
    _rule(
        ruleId="monitor_stale", metric="minutesSinceLastTick", comparator="gt", threshold=15.0,
        window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=1,
        resolveEvaluations=1, severity="critical", channels=["slack", "email"],
        description="The scheduled tick did not run for more than 15 minutes before this one",
    ),
    _rule(
        ruleId="pipeline_rejections", metric="rejectedShare", comparator="gt", threshold=0.05,
        window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=1,
        resolveEvaluations=2, severity="warning", channels=["slack", "email"],
        description="More than 5% of the last hour's documents were rejected as malformed",
    ),
    _rule(
        ruleId="notifications_abandoned", metric="abandonedNotifications", comparator="gt",
        threshold=0.0, window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=1,
        resolveEvaluations=1, severity="warning", channels=["slack", "email", "webhook"],
        description="Alert notifications were given up in the last 24 hours (see /health)",
    ),
    _rule(
        ruleId="export_failed", metric="exportFailed", comparator="gt", threshold=0.5,
        window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=1,
        resolveEvaluations=1, severity="warning", channels=["slack", "email"],
        description="The last nightly BigQuery export failed",
    ),
    _rule(
        ruleId="stuck_jobs", metric="stuckJobs", comparator="gt", threshold=50.0,
        window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=2,
        resolveEvaluations=2, severity="warning", channels=["slack", "email"],
        description="More than 50 generations processing for longer than the stuck limit",
    ),
    # The queue and the providers' capacity (analytics/capacity.py, docs/capacity.md).
    _rule(
        ruleId="queue_backlog", metric="queuedJobs", comparator="gt", threshold=500.0,
        window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=2,
        resolveEvaluations=2, severity="critical", channels=["slack", "email", "webhook"],
        description="More than 500 generations queued (not yet started) overall",
    ),
    _rule(
        ruleId="queue_depth", metric="queuedJobs", comparator="gt", threshold=100.0,
        window="5m", scopes=["overall", "provider"], minSamples=1, pendingEvaluations=2,
        resolveEvaluations=2, hysteresis=10.0, severity="warning", channels=["slack", "email"],
        description="More than 100 generations queued, overall or for one provider",
    ),
    _rule(
        ruleId="queue_wait", metric="queueWaitP95Seconds", comparator="gt", threshold=120.0,
        window="5m", scopes=["overall", "provider"], minSamples=20, pendingEvaluations=2,
        resolveEvaluations=2, hysteresis=10.0, severity="warning", channels=["slack", "email"],
        description="95% of the jobs started in the last hour waited up to more than 2 minutes",
    ),
    _rule(
        ruleId="provider_saturation", metric="providerUtilization", comparator="gt",
        threshold=0.8, window="5m", scopes=["provider"], minSamples=1, pendingEvaluations=4,
        resolveEvaluations=2, severity="warning", channels=["slack", "email"],
        description="A provider ran above 80% of its maxConcurrent for 15 minutes (4 ticks)",
    ),
    _rule(
        ruleId="budget_overrun", metric="budgetForecastShare", comparator="gt", threshold=1.0,
        window="5m", scopes=["provider"], minSamples=1, pendingEvaluations=2,
        resolveEvaluations=2, severity="warning", channels=["slack", "email"],
        description="A provider's spend this month, at its run rate, will exceed its budget",
    ),
    _rule(
        ruleId="function_errors", metric="functionErrors", comparator="gt", threshold=0.0,
        window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=1,
        resolveEvaluations=2, severity="warning", channels=["slack", "email"],
        description="A function failed (raised, or answered 5xx) in the last 10 minutes: "
        "GET /system lists which",
    ),
    _rule(
        ruleId="fold_quarantine", metric="quarantinedEntries", comparator="gt", threshold=0.0,
        window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=1,
        resolveEvaluations=1, severity="warning", channels=["slack", "email"],
        description="The fold holds rollup journal entries in quarantine (rollup_quarantine): "
        "the figures leave them out until they are replayed",
    ),
    _rule(
        ruleId="access_denials", metric="deniedRequests", comparator="gt", threshold=100.0,
        window="5m", scopes=["overall"], minSamples=1, pendingEvaluations=1,
        resolveEvaluations=2, severity="warning", channels=["slack", "email"],
        description="More than 100 API calls in the last hour were refused for want of a role",
    ),
    # Error recovery (analytics/recovery.py, docs/recovery.md).
    _rule(
        ruleId="recovery_rate_drop", metric="recoveryRate", comparator="lt", threshold=0.5,
        window="1h", scopes=["overall", "provider"], minSamples=20, pendingEvaluations=2,
        resolveEvaluations=2, hysteresis=0.05, severity="warning", channels=["slack", "email"],
        description="Fewer than half of the last hour's retried or taken-over generations "
        "completed (over at least 20 of them)",
    ),
    *_burn_pair("success", "generation_success", "Failures"),
    *_burn_pair("latency", "generation_latency", "Slow generations"),
)  # fmt: skip
