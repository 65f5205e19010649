"""The deploy manifest (what `firebase deploy` reads from the code): each function binds exactly
the secrets its code reads, the parameters the CLI asks for are declared, and a deployed
function that notifies refuses to start without its channels' settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from video_monitoring.config.settings import DashboardSettings, NotificationSettings, Settings
from video_monitoring.core.errors import ConfigError
from video_monitoring.runtime import deploy

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
MANIFEST = (
    "from firebase_functions.private.serving import functions_as_yaml, get_functions\n"
    "print(functions_as_yaml(get_functions()))\n"
)


def manifest(**env: str) -> dict[str, Any]:
    """The manifest the Firebase CLI builds from functions/ with this deploy environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ALERT_CHANNELS", "SLACK_TIERS", "K_SERVICE")
    }
    done = subprocess.run(
        [sys.executable, "-c", MANIFEST], cwd=FUNCTIONS_DIR, capture_output=True, text=True,
        env={**clean, "PYTHONPATH": str(FUNCTIONS_DIR), **env}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    spec: dict[str, Any] = yaml.safe_load(done.stdout)
    return spec


def bound(spec: dict[str, Any]) -> dict[str, set[str]]:
    return {
        name: {s["key"] for s in endpoint.get("secretEnvironmentVariables") or []}
        for name, endpoint in spec["endpoints"].items()
    }


def test_each_function_binds_exactly_the_secrets_it_reads() -> None:
    spec = manifest(ALERT_CHANNELS="email,slack,sms,webhook", EXPORT_PSEUDONYMIZE_USERS="true")
    notify = {"SMTP_PASSWORD", "SLACK_WEBHOOK_URL", "TWILIO_AUTH_TOKEN", "ALERT_WEBHOOK_URL",
              "ALERT_WEBHOOK_SECRET"}  # fmt: skip
    assert bound(spec) == {
        "on_generation_written": set(),
        "on_analytics_event_written": set(),
        "fold_rollups": set(),
        "audit_pipeline": set(),
        "aggregate_and_alert": notify,
        "video_analytics_dashboard": notify | {"PSEUDONYM_KEY"},
        "export_to_bigquery": {"PSEUDONYM_KEY"},
        "run_export_job": {"PSEUDONYM_KEY"},  # archived rows' aliases of opted-out users
    }
    # Every secret setting is one a deploy can bind: nothing secret is left to plain env vars.
    secret_fields = {
        name.upper() for group in (Settings().notifications, Settings().bigquery)
        for name, value in type(group).model_fields.items()
        if "SecretStr" in str(value.annotation)
    }  # fmt: skip
    assert secret_fields == notify | {"PSEUDONYM_KEY"}
    params = {p["name"]: p for p in spec["params"]}
    assert {"DASHBOARD_BASE_URL", "ALERT_CHANNELS"} <= set(params)
    assert "default" not in params["DASHBOARD_BASE_URL"]  # the CLI asks for it
    assert {params[n]["type"] for n in notify | {"PSEUDONYM_KEY"}} == {"secret"}


def test_only_the_named_channels_secrets_are_bound() -> None:
    spec = manifest(ALERT_CHANNELS="slack")
    assert bound(spec)["aggregate_and_alert"] == {"SLACK_WEBHOOK_URL"}
    tiers = manifest(ALERT_CHANNELS="slack,email", SLACK_TIERS="oncall, leads")
    assert bound(tiers)["video_analytics_dashboard"] == {
        "SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_URL_ONCALL", "SLACK_WEBHOOK_URL_LEADS",
        "SMTP_PASSWORD",
    }  # fmt: skip
    assert bound(spec)["export_to_bigquery"] == set()  # user ids are not pseudonymised


def settings(**notifications: Any) -> Settings:
    return Settings(notifications=NotificationSettings(**notifications))


def test_a_notifying_function_needs_its_channels_settings() -> None:
    deploy.check_function("on_generation_written", settings())  # never notifies: fine
    with pytest.raises(ConfigError, match="missing required setting: ALERT_CHANNELS"):
        deploy.check_function("aggregate_and_alert", settings())
    with pytest.raises(ConfigError, match="unknown channel 'pager'"):
        deploy.check_function("aggregate_and_alert", settings(alert_channels="pager"))
    with pytest.raises(
        ConfigError,
        match="missing required settings for ALERT_CHANNELS=email,slack: SMTP_HOST, "
        "ALERT_EMAIL_FROM, SLACK_WEBHOOK_URL",
    ):
        deploy.check_function(
            "video_analytics_dashboard",
            settings(alert_channels="slack,email", alert_email_to="ops@acme.example"),
        )
    deploy.check_function(
        "aggregate_and_alert",
        settings(alert_channels="slack", slack_webhook_url="https://hooks.example/x"),
    )


def test_a_production_cold_start_without_its_channel_secret_names_it() -> None:
    env = {k: v for k, v in os.environ.items()
           if k != "FUNCTIONS_EMULATOR" and not k.endswith("_EMULATOR_HOST")}  # fmt: skip
    env.update(
        K_SERVICE="aggregate-and-alert", FUNCTION_TARGET="aggregate_and_alert",
        GCLOUD_PROJECT="acme-video", DASHBOARD_BASE_URL="https://monitor.acme.example",
        ALERT_CHANNELS="slack", PYTHONPATH=str(FUNCTIONS_DIR),
    )  # fmt: skip
    env.pop("SLACK_WEBHOOK_URL", None)
    started = subprocess.run(
        [sys.executable, "-c", "import main"], cwd=FUNCTIONS_DIR, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode != 0
    assert "missing required setting for ALERT_CHANNELS=slack: SLACK_WEBHOOK_URL" in started.stderr
    env["SLACK_WEBHOOK_URL"] = "https://hooks.slack.example/T/B/x"
    started = subprocess.run(
        [sys.executable, "-c", "import main"], cwd=FUNCTIONS_DIR, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr


def test_a_time_budget_that_outlives_its_function_fails_the_cold_start() -> None:
    late = Settings(dashboard=DashboardSettings(request_deadline_seconds=55))
    deploy.check_budgets("video_analytics_dashboard", late)  # 55 s < 60 s: fine
    deploy.check_budgets("aggregate_and_alert", settings(notify_budget_seconds=120))
    with pytest.raises(ConfigError, match="NOTIFY_BUDGET_SECONDS=121 leaves the tick less than"):
        deploy.check_function(
            "aggregate_and_alert",
            settings(
                alert_channels="slack",
                slack_webhook_url="https://hooks.example/x",
                notify_budget_seconds=121,
            ),
        )
    with pytest.raises(ConfigError, match="REQUEST_DEADLINE_SECONDS"):
        deploy.check_budgets(
            "video_analytics_dashboard",
            Settings.model_construct(
                dashboard=DashboardSettings.model_construct(request_deadline_seconds=60.0)
            ),
        )
