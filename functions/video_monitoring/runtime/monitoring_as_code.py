"""`python -m video_monitoring.runtime.monitoring_as_code --project P --url https://H/api/health`:
the project's Cloud Monitoring set up as code, idempotently.

Three resources, each found by its display name (the log metric by its id): an uptime check on
the dashboard's `/health`, an alert policy that fires when that check fails from more than one
region, and a log-based metric counting the functions' ERROR log entries, by function. Each run
lists what exists, creates what is absent, updates what differs (only the fields that differ)
and leaves alone what is equal; `--dry-run` prints the plan and changes nothing. It uses
Application Default Credentials (`gcloud auth application-default login`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

from google.api import (  # type: ignore[import-untyped]
    label_pb2,
    metric_pb2,
    monitored_resource_pb2,
)
from google.api_core.exceptions import GoogleAPICallError
from google.auth.exceptions import DefaultCredentialsError
from google.cloud.logging_v2.types import logging_metrics
from google.cloud.monitoring_v3 import types as monitoring
from google.protobuf import duration_pb2, field_mask_pb2, json_format

from video_monitoring.runtime.deploy import TIMEOUTS

UPTIME_NAME = "video-monitoring /health"
POLICY_NAME = "video-monitoring /health failing"
LOG_METRIC_ID = "video_monitoring_function_errors"
# An uptime check probes from every region; one region's network trouble is not an outage.
FAILING_REGIONS = 1
# Gen2 functions run as Cloud Run services named after the function, with hyphens.
SERVICES = tuple(sorted(name.replace("_", "-") for name in TIMEOUTS))


@dataclasses.dataclass(frozen=True)
class MonitoringSpec:
    """What the project's monitoring should be."""

    project: str
    url: str
    period_minutes: int = 5
    timeout_seconds: int = 10
    notification_channels: tuple[str, ...] = ()

    @property
    def parent(self) -> str:
        """The resource name every list and create call takes."""
        return f"projects/{self.project}"


@dataclasses.dataclass(frozen=True)
class Change:
    """One resource's planned (or applied) action: create, update, replace or none."""

    kind: str
    display_name: str
    action: str
    fields: tuple[str, ...] = ()

    def line(self) -> str:
        """The plan line an operator reads."""
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.action:8s} {self.kind:12s} {self.display_name}{detail}"


class UptimeChecks(Protocol):
    """The calls made to Cloud Monitoring's UptimeCheckService."""

    def list_uptime_check_configs(
        self, request: monitoring.ListUptimeCheckConfigsRequest
    ) -> Iterable[monitoring.UptimeCheckConfig]: ...

    def create_uptime_check_config(
        self, request: monitoring.CreateUptimeCheckConfigRequest
    ) -> monitoring.UptimeCheckConfig: ...

    def update_uptime_check_config(
        self, request: monitoring.UpdateUptimeCheckConfigRequest
    ) -> monitoring.UptimeCheckConfig: ...

    def delete_uptime_check_config(
        self, request: monitoring.DeleteUptimeCheckConfigRequest
    ) -> None: ...


class AlertPolicies(Protocol):
    """The calls made to Cloud Monitoring's AlertPolicyService."""

    def list_alert_policies(
        self, request: monitoring.ListAlertPoliciesRequest
    ) -> Iterable[monitoring.AlertPolicy]: ...

    def create_alert_policy(
        self, request: monitoring.CreateAlertPolicyRequest
    ) -> monitoring.AlertPolicy: ...

    def update_alert_policy(
        self, request: monitoring.UpdateAlertPolicyRequest
    ) -> monitoring.AlertPolicy: ...


class LogMetrics(Protocol):
    """The calls made to Cloud Logging's MetricsServiceV2."""

    def list_log_metrics(
        self, request: logging_metrics.ListLogMetricsRequest
    ) -> Iterable[logging_metrics.LogMetric]: ...

    def create_log_metric(
        self, request: logging_metrics.CreateLogMetricRequest
    ) -> logging_metrics.LogMetric: ...

    def update_log_metric(
        self, request: logging_metrics.UpdateLogMetricRequest
    ) -> logging_metrics.LogMetric: ...


@dataclasses.dataclass(frozen=True)
class Clients:
    """The three API clients a run talks to."""

    uptime: UptimeChecks
    alerts: AlertPolicies
    logs: LogMetrics


def _seconds(n: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=n)


def uptime_check(spec: MonitoringSpec) -> monitoring.UptimeCheckConfig:
    """The uptime check on the dashboard's `/health` (no token: it answers anyone)."""
    url = urlsplit(spec.url)
    https = url.scheme == "https"
    return monitoring.UptimeCheckConfig(
        display_name=UPTIME_NAME,
        monitored_resource=monitored_resource_pb2.MonitoredResource(
            type="uptime_url", labels={"project_id": spec.project, "host": url.hostname or ""}
        ),
        http_check=monitoring.UptimeCheckConfig.HttpCheck(
            path=url.path or "/",
            port=url.port or (443 if https else 80),
            use_ssl=https,
            validate_ssl=https,
            request_method=monitoring.UptimeCheckConfig.HttpCheck.RequestMethod.GET,
        ),
        period=_seconds(spec.period_minutes * 60),
        timeout=_seconds(spec.timeout_seconds),
    )


def alert_policy(spec: MonitoringSpec, check_id: str) -> monitoring.AlertPolicy:
    """Fires when the uptime check fails from more than FAILING_REGIONS regions."""
    condition = monitoring.AlertPolicy.Condition(
        display_name="/health fails from more than one region",
        condition_threshold=monitoring.AlertPolicy.Condition.MetricThreshold(
            filter=(
                'metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND '
                f'metric.label.check_id="{check_id}" AND resource.type="uptime_url"'
            ),
            aggregations=[
                monitoring.Aggregation(
                    # Four periods, so every region has reported at least once.
                    alignment_period=_seconds(spec.period_minutes * 60 * 4),
                    per_series_aligner=monitoring.Aggregation.Aligner.ALIGN_NEXT_OLDER,
                    cross_series_reducer=monitoring.Aggregation.Reducer.REDUCE_COUNT_FALSE,
                    group_by_fields=["resource.label.*"],
                )
            ],
            comparison=monitoring.ComparisonType.COMPARISON_GT,
            threshold_value=FAILING_REGIONS,
            duration=_seconds(60),
            trigger=monitoring.AlertPolicy.Condition.Trigger(count=1),
        ),
    )
    return monitoring.AlertPolicy(
        display_name=POLICY_NAME,
        documentation=monitoring.AlertPolicy.Documentation(
            content=(
                f"{spec.url} answered other than 200: the scheduled tick has stopped, the "
                "pipeline is rejecting documents, or the dashboard is down. The body names "
                "the reasons; see docs/alerting.md, The monitor watches itself."
            ),
            mime_type="text/markdown",
        ),
        combiner=monitoring.AlertPolicy.ConditionCombinerType.OR,
        conditions=[condition],
        notification_channels=list(spec.notification_channels),
        enabled=True,
    )


def log_metric(spec: MonitoringSpec) -> logging_metrics.LogMetric:
    """Counts the deployed functions' log entries of severity ERROR or worse, by function."""
    services = " OR ".join(f'"{s}"' for s in SERVICES)
    return logging_metrics.LogMetric(
        name=LOG_METRIC_ID,
        description="ERROR log entries of the video monitoring functions, by function",
        filter=(
            f'resource.type="cloud_run_revision" AND severity>=ERROR AND '
            f"resource.labels.service_name=({services})"
        ),
        metric_descriptor=metric_pb2.MetricDescriptor(
            metric_kind=metric_pb2.MetricDescriptor.MetricKind.DELTA,
            value_type=metric_pb2.MetricDescriptor.ValueType.INT64,
            unit="1",
            labels=[
                label_pb2.LabelDescriptor(
                    key="function",
                    value_type=label_pb2.LabelDescriptor.ValueType.STRING,
                    description="The Cloud Run service of the function",
                )
            ],
        ),
        label_extractors={"function": "EXTRACT(resource.labels.service_name)"},
    )


def _as_dict(message: Any) -> dict[str, Any]:
    """A proto-plus message as JSON-like data, fields left at their default omitted."""
    data: dict[str, Any] = json_format.MessageToDict(
        type(message).pb(message), preserving_proto_field_name=True
    )
    return data


def _covers(wanted: Any, actual: Any) -> bool:
    """Whether `actual` holds everything `wanted` sets; fields the API fills in (names, types,
    timestamps) may be added."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            _covers(value, actual.get(key)) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(wanted) == len(actual)
            and all(_covers(w, a) for w, a in zip(wanted, actual, strict=True))
        )
    return bool(wanted == actual)


def differing_fields(wanted: Any, actual: Any, fields: Sequence[str]) -> tuple[str, ...]:
    """The top-level `fields` where `actual` is not what `wanted` says (an unset wanted field
    must be unset in `actual` too, so removing a setting is a change)."""
    want, have = _as_dict(wanted), _as_dict(actual)
    return tuple(
        f for f in fields if (not _covers(want[f], have.get(f)) if f in want else have.get(f))
    )


UPTIME_FIELDS = ("display_name", "monitored_resource", "http_check", "period", "timeout")
UPTIME_IMMUTABLE = frozenset({"monitored_resource"})
POLICY_FIELDS = (
    "display_name", "documentation", "combiner", "conditions", "notification_channels", "enabled"
)  # fmt: skip
METRIC_FIELDS = ("description", "filter", "metric_descriptor", "label_extractors")


def _mask(fields: Sequence[str]) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(fields))


def _ensure_uptime(spec: MonitoringSpec, api: UptimeChecks, dry_run: bool) -> tuple[Change, str]:
    """The uptime check's change and its check id (empty when it is still to be created)."""
    wanted = uptime_check(spec)
    request = monitoring.ListUptimeCheckConfigsRequest(parent=spec.parent)
    found = [c for c in api.list_uptime_check_configs(request) if c.display_name == UPTIME_NAME]
    if not found:
        change = Change("uptime check", UPTIME_NAME, "create")
        if dry_run:
            return change, ""
        created = api.create_uptime_check_config(
            monitoring.CreateUptimeCheckConfigRequest(
                parent=spec.parent, uptime_check_config=wanted
            )
        )
        return change, created.name.rsplit("/", 1)[-1]
    existing = found[0]
    fields = differing_fields(wanted, existing, UPTIME_FIELDS)
    if UPTIME_IMMUTABLE & set(fields):
        # The checked host cannot change in place: a new check, then the policy follows it.
        change = Change("uptime check", UPTIME_NAME, "replace", fields)
        if dry_run:
            return change, ""
        api.delete_uptime_check_config(
            monitoring.DeleteUptimeCheckConfigRequest(name=existing.name)
        )
        created = api.create_uptime_check_config(
            monitoring.CreateUptimeCheckConfigRequest(
                parent=spec.parent, uptime_check_config=wanted
            )
        )
        return change, created.name.rsplit("/", 1)[-1]
    check_id = existing.name.rsplit("/", 1)[-1]
    if not fields:
        return Change("uptime check", UPTIME_NAME, "none"), check_id
    if not dry_run:
        wanted.name = existing.name
        api.update_uptime_check_config(
            monitoring.UpdateUptimeCheckConfigRequest(
                uptime_check_config=wanted, update_mask=_mask(fields)
            )
        )
    return Change("uptime check", UPTIME_NAME, "update", fields), check_id


def _ensure_policy(
    spec: MonitoringSpec, api: AlertPolicies, check_id: str, dry_run: bool
) -> Change:
    wanted = alert_policy(spec, check_id or "<the new check's id>")
    request = monitoring.ListAlertPoliciesRequest(name=spec.parent)
    found = [p for p in api.list_alert_policies(request) if p.display_name == POLICY_NAME]
    if not found:
        if not dry_run:
            api.create_alert_policy(
                monitoring.CreateAlertPolicyRequest(name=spec.parent, alert_policy=wanted)
            )
        return Change("alert policy", POLICY_NAME, "create")
    existing = found[0]
    fields = differing_fields(wanted, existing, POLICY_FIELDS)
    if not fields:
        return Change("alert policy", POLICY_NAME, "none")
    if not dry_run:
        wanted.name = existing.name
        api.update_alert_policy(
            monitoring.UpdateAlertPolicyRequest(alert_policy=wanted, update_mask=_mask(fields))
        )
    return Change("alert policy", POLICY_NAME, "update", fields)


def _ensure_log_metric(spec: MonitoringSpec, api: LogMetrics, dry_run: bool) -> Change:
    wanted = log_metric(spec)
    request = logging_metrics.ListLogMetricsRequest(parent=spec.parent)
    found = [m for m in api.list_log_metrics(request) if m.name == LOG_METRIC_ID]
    if not found:
        if not dry_run:
            api.create_log_metric(
                logging_metrics.CreateLogMetricRequest(parent=spec.parent, metric=wanted)
            )
        return Change("log metric", LOG_METRIC_ID, "create")
    fields = differing_fields(wanted, found[0], METRIC_FIELDS)
    if not fields:
        return Change("log metric", LOG_METRIC_ID, "none")
    if not dry_run:
        # UpdateLogMetric replaces the metric whole (it takes no field mask).
        api.update_log_metric(
            logging_metrics.UpdateLogMetricRequest(
                metric_name=f"{spec.parent}/metrics/{LOG_METRIC_ID}", metric=wanted
            )
        )
    return Change("log metric", LOG_METRIC_ID, "update", fields)


def apply(spec: MonitoringSpec, clients: Clients, *, dry_run: bool = False) -> list[Change]:
    """Bring the project's monitoring to `spec`; with `dry_run`, only say what would change."""
    uptime, check_id = _ensure_uptime(spec, clients.uptime, dry_run)
    policy = _ensure_policy(spec, clients.alerts, check_id, dry_run)
    return [uptime, policy, _ensure_log_metric(spec, clients.logs, dry_run)]


def spec_from_args(argv: Sequence[str] | None) -> tuple[MonitoringSpec, bool]:
    """The spec and `--dry-run` from the command line; a bad value exits with its usage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="the Google Cloud project id")
    parser.add_argument(
        "--url", required=True, help="the health URL, https://<project-id>.web.app/api/health"
    )
    parser.add_argument("--period-minutes", type=int, choices=(1, 5, 10, 15), default=5)
    parser.add_argument("--timeout-seconds", type=int, default=10)
    parser.add_argument(
        "--notification-channel",
        action="append",
        default=[],
        help="projects/<p>/notificationChannels/<id> the policy notifies (repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    url = urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        parser.error(f"--url: an http(s) URL with a host, got {args.url!r}")
    if not 1 <= args.timeout_seconds <= 60:
        parser.error(f"--timeout-seconds: 1 to 60, got {args.timeout_seconds}")
    spec = MonitoringSpec(
        project=args.project,
        url=args.url,
        period_minutes=args.period_minutes,
        timeout_seconds=args.timeout_seconds,
        notification_channels=tuple(args.notification_channel),
    )
    return spec, bool(args.dry_run)


def cloud_clients() -> Clients:
    """The real API clients, with Application Default Credentials."""
    from google.cloud import monitoring_v3
    from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client

    return Clients(
        uptime=monitoring_v3.UptimeCheckServiceClient(),
        alerts=monitoring_v3.AlertPolicyServiceClient(),
        logs=MetricsServiceV2Client(),
    )


def main(
    argv: Sequence[str] | None = None,
    clients: Clients | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run it; prints one line per resource."""
    spec, dry_run = spec_from_args(argv)
    try:
        changes = apply(spec, clients or cloud_clients(), dry_run=dry_run)
    except DefaultCredentialsError:
        print("no Google credentials: run `gcloud auth application-default login`", file=err)
        return 1
    except GoogleAPICallError as error:
        print(f"Cloud API refused: {error.code} {error.message}", file=err)
        return 1
    print(f"{'plan' if dry_run else 'applied'} for {spec.parent} ({spec.url}):", file=out)
    for change in changes:
        print(f"  {change.line()}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
