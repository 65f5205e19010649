"""In-memory Cloud Monitoring and Cloud Logging services: the real request and response messages,
names and server-filled fields assigned as the APIs do, every call recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.api import metric_pb2  # type: ignore[import-untyped]
from google.cloud.logging_v2.types import logging_metrics
from google.cloud.monitoring_v3 import types as monitoring
from google.protobuf import field_mask_pb2

from video_monitoring.runtime.monitoring_as_code import Clients

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def _merge(stored: Any, wanted: Any, mask: field_mask_pb2.FieldMask) -> None:
    """Copy the masked top-level fields (an empty mask: every field) as the APIs' update does."""
    paths = list(mask.paths) or [f.name for f in type(wanted).pb(wanted).DESCRIPTOR.fields]
    for path in paths:
        setattr(stored, path, getattr(wanted, path))


class FakeUptimeChecks:
    """UptimeCheckService: ids assigned on create, the checker type filled in."""

    def __init__(self, calls: list[str] | None = None) -> None:
        self.checks: dict[str, monitoring.UptimeCheckConfig] = {}
        self.calls: list[str] = [] if calls is None else calls

    def list_uptime_check_configs(
        self, request: monitoring.ListUptimeCheckConfigsRequest
    ) -> list[monitoring.UptimeCheckConfig]:
        self.calls.append("uptime.list")
        return [c for name, c in self.checks.items() if name.startswith(request.parent + "/")]

    def create_uptime_check_config(
        self, request: monitoring.CreateUptimeCheckConfigRequest
    ) -> monitoring.UptimeCheckConfig:
        self.calls.append("uptime.create")
        check = monitoring.UptimeCheckConfig(
            request.uptime_check_config,
            name=f"{request.parent}/uptimeCheckConfigs/health-{len(self.checks) + 1:04d}",
            checker_type=monitoring.UptimeCheckConfig.CheckerType.STATIC_IP_CHECKERS,
        )
        self.checks[check.name] = check
        return monitoring.UptimeCheckConfig(check)

    def update_uptime_check_config(
        self, request: monitoring.UpdateUptimeCheckConfigRequest
    ) -> monitoring.UptimeCheckConfig:
        self.calls.append("uptime.update")
        wanted = request.uptime_check_config
        if "monitored_resource" in request.update_mask.paths:
            raise ValueError("monitored_resource cannot be updated")
        stored = self.checks[wanted.name]
        _merge(stored, wanted, request.update_mask)
        return monitoring.UptimeCheckConfig(stored)

    def delete_uptime_check_config(
        self, request: monitoring.DeleteUptimeCheckConfigRequest
    ) -> None:
        self.calls.append("uptime.delete")
        del self.checks[request.name]


class FakeAlertPolicies:
    """AlertPolicyService: policy and condition names and a creation record assigned."""

    def __init__(self, calls: list[str] | None = None) -> None:
        self.policies: dict[str, monitoring.AlertPolicy] = {}
        self.calls: list[str] = [] if calls is None else calls

    def list_alert_policies(
        self, request: monitoring.ListAlertPoliciesRequest
    ) -> list[monitoring.AlertPolicy]:
        self.calls.append("alerts.list")
        return [p for name, p in self.policies.items() if name.startswith(request.name + "/")]

    def _name_conditions(self, policy: monitoring.AlertPolicy) -> None:
        for i, condition in enumerate(policy.conditions):
            condition.name = condition.name or f"{policy.name}/conditions/{i + 1}"

    def create_alert_policy(
        self, request: monitoring.CreateAlertPolicyRequest
    ) -> monitoring.AlertPolicy:
        self.calls.append("alerts.create")
        policy = monitoring.AlertPolicy(request.alert_policy)
        policy.name = f"{request.name}/alertPolicies/{1000 + len(self.policies)}"
        policy.creation_record = monitoring.MutationRecord(mutate_time=NOW, mutated_by="me")
        self._name_conditions(policy)
        self.policies[policy.name] = policy
        return monitoring.AlertPolicy(policy)

    def update_alert_policy(
        self, request: monitoring.UpdateAlertPolicyRequest
    ) -> monitoring.AlertPolicy:
        self.calls.append("alerts.update")
        stored = self.policies[request.alert_policy.name]
        _merge(stored, request.alert_policy, request.update_mask)
        stored.name = request.alert_policy.name
        self._name_conditions(stored)
        return monitoring.AlertPolicy(stored)


class FakeLogMetrics:
    """MetricsServiceV2: the descriptor's name and type and the timestamps filled in."""

    def __init__(self, calls: list[str] | None = None) -> None:
        self.metrics: dict[str, logging_metrics.LogMetric] = {}
        self.calls: list[str] = [] if calls is None else calls

    def list_log_metrics(
        self, request: logging_metrics.ListLogMetricsRequest
    ) -> list[logging_metrics.LogMetric]:
        self.calls.append("logs.list")
        return [m for key, m in self.metrics.items() if key.startswith(request.parent + "/")]

    def _served(self, project: str, metric: logging_metrics.LogMetric) -> logging_metrics.LogMetric:
        served = logging_metrics.LogMetric(metric)
        descriptor = metric_pb2.MetricDescriptor()
        descriptor.CopyFrom(metric.metric_descriptor)
        descriptor.name = f"{project}/metricDescriptors/logging.googleapis.com/user/{metric.name}"
        descriptor.type = f"logging.googleapis.com/user/{metric.name}"
        descriptor.display_name = metric.name
        served.metric_descriptor = descriptor
        served.update_time = NOW
        return served

    def create_log_metric(
        self, request: logging_metrics.CreateLogMetricRequest
    ) -> logging_metrics.LogMetric:
        self.calls.append("logs.create")
        key = f"{request.parent}/metrics/{request.metric.name}"
        if key in self.metrics:
            raise ValueError(f"{key} already exists")
        self.metrics[key] = self._served(request.parent, request.metric)
        return self.metrics[key]

    def update_log_metric(
        self, request: logging_metrics.UpdateLogMetricRequest
    ) -> logging_metrics.LogMetric:
        self.calls.append("logs.update")
        project = request.metric_name.split("/metrics/")[0]
        self.metrics[request.metric_name] = self._served(project, request.metric)
        return self.metrics[request.metric_name]


class FakeMonitoring:
    """The three services together, as a run's Clients, with one log of calls in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.uptime = FakeUptimeChecks(self.calls)
        self.alerts = FakeAlertPolicies(self.calls)
        self.logs = FakeLogMetrics(self.calls)

    def clients(self) -> Clients:
        """The Clients a run gets."""
        return Clients(uptime=self.uptime, alerts=self.alerts, logs=self.logs)

    def writes(self) -> list[str]:
        """Every create, update and delete call so far, in order."""
        return [call for call in self.calls if not call.endswith(".list")]
