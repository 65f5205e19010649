"""Monitoring as code against in-memory services speaking the APIs' real messages: a first run
creates the three resources, a second changes nothing, a changed setting updates only its own
resource, and a dry run calls nothing that writes."""

from __future__ import annotations

import io

import pytest
from google.api_core.exceptions import PermissionDenied

from tests.unit.monitoring_fakes import FakeMonitoring
from video_monitoring.runtime.monitoring_as_code import (
    LOG_METRIC_ID,
    POLICY_NAME,
    SERVICES,
    UPTIME_NAME,
    Change,
    MonitoringSpec,
    apply,
    main,
)

URL = "https://demo-cvplus.web.app/api/health"
SPEC = MonitoringSpec(project="demo-cvplus", url=URL)


def actions(changes: list[Change]) -> dict[str, str]:
    return {c.kind: c.action for c in changes}


def test_first_run_creates_the_three_resources_as_specified() -> None:
    fake = FakeMonitoring()
    changes = apply(SPEC, fake.clients())
    assert actions(changes) == {
        "uptime check": "create", "alert policy": "create", "log metric": "create"
    }  # fmt: skip
    assert sorted(fake.writes()) == ["alerts.create", "logs.create", "uptime.create"]
    (check,) = fake.uptime.checks.values()
    assert check.display_name == UPTIME_NAME
    assert check.monitored_resource.type == "uptime_url"
    assert dict(check.monitored_resource.labels) == {
        "project_id": "demo-cvplus", "host": "demo-cvplus.web.app"
    }  # fmt: skip
    assert (check.http_check.path, check.http_check.port, check.http_check.use_ssl) == (
        "/api/health", 443, True
    )  # fmt: skip
    assert check.period.total_seconds() == 300
    (policy,) = fake.alerts.policies.values()
    assert policy.display_name == POLICY_NAME
    (condition,) = policy.conditions
    # The policy watches the check that was just created, by its id.
    check_id = check.name.rsplit("/", 1)[-1]
    assert f'metric.label.check_id="{check_id}"' in condition.condition_threshold.filter
    assert condition.condition_threshold.threshold_value == 1
    (metric,) = fake.logs.metrics.values()
    assert metric.name == LOG_METRIC_ID
    assert "severity>=ERROR" in metric.filter
    assert all(f'"{s}"' in metric.filter for s in SERVICES)
    assert "aggregate-and-alert" in SERVICES and "video-analytics-dashboard" in SERVICES
    assert dict(metric.label_extractors) == {"function": "EXTRACT(resource.labels.service_name)"}


def test_second_run_changes_nothing() -> None:
    fake = FakeMonitoring()
    apply(SPEC, fake.clients())
    written = list(fake.writes())
    changes = apply(SPEC, fake.clients())
    assert actions(changes) == {
        "uptime check": "none", "alert policy": "none", "log metric": "none"
    }  # fmt: skip
    assert fake.writes() == written


def test_a_changed_period_updates_the_check_and_its_policy_once() -> None:
    fake = FakeMonitoring()
    apply(SPEC, fake.clients())
    before = len(fake.writes())
    faster = MonitoringSpec(project="demo-cvplus", url=URL, period_minutes=1)
    changes = apply(faster, fake.clients())
    assert actions(changes) == {
        "uptime check": "update", "alert policy": "update", "log metric": "none"
    }  # fmt: skip
    # The policy's alignment follows the period, so both change; the log metric does not.
    assert fake.writes()[before:] == ["uptime.update", "alerts.update"]
    (check,) = fake.uptime.checks.values()
    assert check.period.total_seconds() == 60
    assert set(actions(apply(faster, fake.clients())).values()) == {"none"}
    assert fake.writes()[before:] == ["uptime.update", "alerts.update"]


def test_a_new_notification_channel_updates_one_resource() -> None:
    fake = FakeMonitoring()
    apply(SPEC, fake.clients())
    before = len(fake.writes())
    channel = "projects/demo-cvplus/notificationChannels/42"
    paged = MonitoringSpec(project="demo-cvplus", url=URL, notification_channels=(channel,))
    changes = apply(paged, fake.clients())
    assert [c.action for c in changes].count("update") == 1
    assert [(c.kind, c.fields) for c in changes if c.action == "update"] == [
        ("alert policy", ("notification_channels",))
    ]
    assert fake.writes()[before:] == ["alerts.update"]
    (policy,) = fake.alerts.policies.values()
    assert list(policy.notification_channels) == [channel]
    # Removing the channel again is a change too.
    assert actions(apply(SPEC, fake.clients()))["alert policy"] == "update"
    assert list(policy.notification_channels) == []


def test_a_changed_log_filter_is_updated_and_a_new_host_replaces_the_check() -> None:
    fake = FakeMonitoring()
    apply(SPEC, fake.clients())
    (stored,) = fake.logs.metrics.values()
    stored.filter = "severity>=WARNING"  # edited by hand in the console
    assert actions(apply(SPEC, fake.clients()))["log metric"] == "update"
    assert "severity>=ERROR" in next(iter(fake.logs.metrics.values())).filter
    moved = MonitoringSpec(project="demo-cvplus", url="https://status.example.com/api/health")
    changes = apply(moved, fake.clients())
    assert actions(changes)["uptime check"] == "replace"
    (check,) = fake.uptime.checks.values()
    assert check.monitored_resource.labels["host"] == "status.example.com"
    (policy,) = fake.alerts.policies.values()
    assert check.name.rsplit("/", 1)[-1] in policy.conditions[0].condition_threshold.filter


def test_dry_run_prints_the_plan_and_writes_nothing() -> None:
    fake = FakeMonitoring()
    out = io.StringIO()
    argv = ["--project", "demo-cvplus", "--url", URL, "--dry-run"]
    assert main(argv, fake.clients(), out) == 0
    assert fake.writes() == []
    lines = out.getvalue().splitlines()
    assert lines[0] == f"plan for projects/demo-cvplus ({URL}):"
    assert [line.split()[0] for line in lines[1:]] == ["create", "create", "create"]
    apply(SPEC, fake.clients())
    out = io.StringIO()
    main([*argv, "--period-minutes", "10"], fake.clients(), out)
    assert "update   uptime check" in out.getvalue() and "(period)" in out.getvalue()
    assert fake.writes() == ["uptime.create", "alerts.create", "logs.create"]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--project", "p", "--url", "ftp://x/health"], "--url"),
        (["--project", "p", "--url", URL, "--timeout-seconds", "0"], "--timeout-seconds"),
        (["--project", "p", "--url", URL, "--period-minutes", "3"], "--period-minutes"),
    ],
)
def test_bad_arguments_name_the_option(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeMonitoring()
    with pytest.raises(SystemExit) as exit_:
        main(argv, fake.clients())
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err
    assert fake.writes() == []


def test_a_refused_call_is_a_clear_error() -> None:
    fake = FakeMonitoring()
    err = io.StringIO()

    def refuse(request: object) -> None:
        raise PermissionDenied("monitoring.alertPolicies.create denied")  # type: ignore[no-untyped-call]

    fake.alerts.create_alert_policy = refuse  # type: ignore[assignment,method-assign]
    assert main(["--project", "demo-cvplus", "--url", URL], fake.clients(), err=err) == 1
    assert "Cloud API refused: 403 monitoring.alertPolicies.create denied" in err.getvalue()
