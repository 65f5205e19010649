"""Alert rules as data. This slice seeds the defaults and evaluates plain thresholds.

Lifecycle, escalation and notification belong to the alerting issue; `check_thresholds` is what
the performance monitor's `check_performance_alerts` uses meanwhile.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Comparator = Literal["gt", "lt"]
_COMPARE: dict[str, Callable[[float, float], bool]] = {"gt": operator.gt, "lt": operator.lt}


@dataclass(frozen=True)
class AlertRule:
    """A threshold on one metric of the windowed system metrics."""

    rule_id: str
    metric: str
    comparator: Comparator
    threshold: float
    window: str
    min_samples: int
    severity: Literal["info", "warning", "critical"]
    description: str

    def to_doc(self) -> dict[str, Any]:
        """The `alert_rules` document."""
        return {
            "ruleId": self.rule_id,
            "metric": self.metric,
            "comparator": self.comparator,
            "threshold": self.threshold,
            "window": self.window,
            "minSamples": self.min_samples,
            "severity": self.severity,
            "description": self.description,
            "enabled": True,
        }


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "slow_generation", "avgGenerationSeconds", "gt", 90.0, "1h", 20, "warning",
        "Average generation time above 90 s",
    ),
    AlertRule(
        "low_success_rate", "successRate", "lt", 0.95, "1h", 20, "critical",
        "Success rate below 95%",
    ),
    AlertRule(
        "quality_degradation", "avgQualityScore", "lt", 8.0, "24h", 20, "warning",
        "Average quality score below 8.0",
    ),
    AlertRule(
        "low_satisfaction", "avgUserRating", "lt", 4.0, "24h", 20, "warning",
        "Average user rating below 4.0",
    ),
    AlertRule(
        "conversion_drop", "conversionRate", "lt", 0.5, "24h", 20, "warning",
        "Premium conversion below 50%",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Breach:
    """A rule whose metric is past its threshold, with enough samples to judge."""

    rule_id: str
    metric: str
    value: float
    threshold: float
    comparator: str
    samples: int
    severity: str


def check_thresholds(
    metrics: Mapping[str, float | None],
    samples: Mapping[str, int],
    rules: Iterable[AlertRule] = DEFAULT_RULES,
) -> list[Breach]:
    """Rules breached by the metrics; a metric without a value or enough samples never breaches."""
    breaches: list[Breach] = []
    for rule in rules:
        value = metrics.get(rule.metric)
        n = samples.get(rule.metric, 0)
        if value is None or n < rule.min_samples:
            continue
        if _COMPARE[rule.comparator](value, rule.threshold):
            breaches.append(
                Breach(
                    rule.rule_id, rule.metric, value, rule.threshold, rule.comparator, n,
                    rule.severity,
                )
            )  # fmt: skip
    return breaches
