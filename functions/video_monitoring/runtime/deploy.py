"""What `firebase deploy` must know: the parameters the Firebase CLI asks for (or reads from
`functions/.env`), and which Secret Manager secrets each function binds.

Secrets follow the channels named in `ALERT_CHANNELS` (read from `functions/.env` when the CLI
analyses the code), so a project binds, and must create, only the secrets of the channels it
uses; `PSEUDONYM_KEY` is bound when `EXPORT_PSEUDONYMIZE_USERS` is on. A function binds exactly
the secrets its code can read: notifications go out from the scheduled tick and from the
dashboard (an admin's action notifies at once); the pseudonym key is read by the export, by
the dashboard's erasure and by file exports reading archived rows (the dashboard's and the
background export worker's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from firebase_functions.params import BoolParam, IntParam, SecretParam, StringParam

from video_monitoring.config.settings import Settings, slack_tier_secret
from video_monitoring.core.errors import ConfigError
from video_monitoring.dashboard.export_jobs import WORKER_TIMEOUT_SECONDS

CHANNELS = ("email", "slack", "sms", "webhook")
# The secrets each channel needs (the rest of its settings are plain parameters).
CHANNEL_SECRETS: dict[str, tuple[str, ...]] = {
    "email": ("SMTP_PASSWORD",),
    "slack": ("SLACK_WEBHOOK_URL",),
    "sms": ("TWILIO_AUTH_TOKEN",),
    "webhook": ("ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_SECRET"),
}
PSEUDONYM_KEY = "PSEUDONYM_KEY"
# Every setting a channel needs before it can send, by environment variable.
CHANNEL_SETTINGS: dict[str, tuple[str, ...]] = {
    "email": ("SMTP_HOST", "ALERT_EMAIL_FROM", "ALERT_EMAIL_TO"),
    "slack": ("SLACK_WEBHOOK_URL",),
    "sms": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "ALERT_SMS_TO"),
    "webhook": ("ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_SECRET"),
}
# Functions that deliver notifications, and those that read the pseudonym key.
NOTIFYING = ("aggregate_and_alert", "video_analytics_dashboard")
PSEUDONYMISING = ("export_to_bigquery", "video_analytics_dashboard", "run_export_job")

# Hosting's rewrite to a function answers 504 once the function has taken this long.
HOSTING_PROXY_SECONDS = 60
# Each function's timeout in seconds, set on purpose (main.py's decorators read it).
TIMEOUTS: dict[str, int] = {
    # One document's reconcile; its transient retries give up after 50 s (runtime/transient.py).
    "on_generation_written": 60,
    "on_analytics_event_written": 60,
    # Every minute: one fold ends before the next one starts.
    "fold_rollups": 60,
    # Every 5 minutes: a run ends well before the next one starts. The heartbeat and the rule
    # evaluation come first; notifications then get at most NOTIFY_BUDGET_SECONDS of the rest.
    "aggregate_and_alert": 240,
    # Behind Hosting's proxy: a longer timeout would only run work nobody receives. Each
    # request stops its own work at REQUEST_DEADLINE_SECONDS, under this.
    "video_analytics_dashboard": HOSTING_PROXY_SECONDS,
    # Nightly, with retries: a day's export and the audit of settled days are long batch jobs.
    "export_to_bigquery": 1800,
    "audit_pipeline": 1800,
    # A background export: the longest an event-triggered function may run (540 s); its
    # row cap (EXPORT_MAX_ROWS) is derived from the encoding rate within it (docs/exports.md).
    "run_export_job": WORKER_TIMEOUT_SECONDS,
}
# What a tick needs besides its notifications (rules, snapshot, heartbeat), at the least.
TICK_RESERVE_SECONDS = 120

# Parameters: the CLI prompts for those without a default (the required ones) and stores the
# answers in functions/.env.<project>; each becomes the environment variable the settings read.
# Optional settings with no sensible default (SMTP host, addresses, numbers) are plain lines of
# functions/.env (see functions/.env.example): a parameter with an empty default would be
# prompted for like a required one.
PARAMS = (
    StringParam("DASHBOARD_BASE_URL", description="The console's URL (Hosting), for alert links"),
    StringParam(
        "ALERT_CHANNELS",
        description="Channels that alert, comma-separated: email, slack, sms, webhook",
    ),
    IntParam("SMTP_PORT", default=587),
    StringParam("SMTP_TLS", default="starttls"),
    StringParam("BIGQUERY_DATASET", default="video_monitoring"),
    StringParam("BIGQUERY_LOCATION", default="US"),
    BoolParam("EXPORT_PSEUDONYMIZE_USERS", default=False),
)


def enabled_channels(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The channels `ALERT_CHANNELS` names, in a fixed order; unknown names are an error."""
    named = [c.strip() for c in environ.get("ALERT_CHANNELS", "").split(",") if c.strip()]
    unknown = sorted(set(named) - set(CHANNELS))
    if unknown:
        raise ValueError(f"ALERT_CHANNELS: unknown channel {unknown[0]!r}; accepted: {CHANNELS}")
    return tuple(c for c in CHANNELS if c in named)


def secret_names(function: str, environ: Mapping[str, str]) -> list[str]:
    """The secrets one function binds, given the deploy environment."""
    names: list[str] = []
    if function in NOTIFYING:
        for channel in enabled_channels(environ):
            names.extend(CHANNEL_SECRETS[channel])
            if channel == "slack":  # the on-call tiers' own webhooks
                tiers = environ.get("SLACK_TIERS", "").split(",")
                names.extend(slack_tier_secret(t.strip()) for t in tiers if t.strip())
    pseudonymise = environ.get("EXPORT_PSEUDONYMIZE_USERS", "").strip().lower() == "true"
    if function in PSEUDONYMISING and pseudonymise:
        names.append(PSEUDONYM_KEY)
    return names


_SECRETS: dict[str, SecretParam] = {}


def secrets_of(function: str, environ: Mapping[str, str] | None = None) -> list[SecretParam]:
    """The SecretParams to pass to a function's decorator (`secrets=`)."""
    params = []
    for name in secret_names(function, os.environ if environ is None else environ):
        if name not in _SECRETS:
            _SECRETS[name] = SecretParam(name)
        params.append(_SECRETS[name])
    return params


def check_function(target: str | None, settings: Settings) -> None:
    """At a deployed function's cold start (`FUNCTION_TARGET` names it): its time budgets fit
    its timeout, and a function that notifies needs ALERT_CHANNELS and every setting of each
    channel it names, else a ConfigError naming what is missing, so alerting is never
    silently off."""
    check_budgets(target, settings)
    if target not in NOTIFYING:
        return
    try:
        channels = enabled_channels({"ALERT_CHANNELS": settings.notifications.alert_channels})
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if not channels:
        raise ConfigError(
            "missing required setting: ALERT_CHANNELS (the channels that alert: email, slack, "
            "sms, webhook); without one no alert reaches anyone"
        )
    values = settings.notifications.model_dump()
    missing = [
        name
        for channel in channels
        for name in CHANNEL_SETTINGS[channel]
        if not values.get(name.lower())
    ]
    if missing:
        raise ConfigError(
            f"missing required setting{'s' if len(missing) > 1 else ''} for ALERT_CHANNELS="
            f"{','.join(channels)}: {', '.join(missing)} (secrets from Secret Manager, the rest "
            "in functions/.env; see docs/operations.md, Deploy)"
        )


def check_budgets(target: str | None, settings: Settings) -> None:
    """A ConfigError naming the setting when a function's own time budget does not fit its
    timeout (the platform would cut the work before the budget does, mid-write)."""
    if target == "video_analytics_dashboard":
        deadline = settings.dashboard.request_deadline_seconds
        if deadline >= TIMEOUTS[target]:
            raise ConfigError(
                f"REQUEST_DEADLINE_SECONDS={deadline:g} must be under the dashboard's "
                f"{TIMEOUTS[target]} s timeout (Hosting's proxy cuts at {HOSTING_PROXY_SECONDS} s)"
            )
    if target == "aggregate_and_alert":
        budget = settings.notifications.notify_budget_seconds
        if budget > TIMEOUTS[target] - TICK_RESERVE_SECONDS:
            raise ConfigError(
                f"NOTIFY_BUDGET_SECONDS={budget:g} leaves the tick less than "
                f"{TICK_RESERVE_SECONDS} s of its {TIMEOUTS[target]} s timeout; at most "
                f"{TIMEOUTS[target] - TICK_RESERVE_SECONDS}"
            )
