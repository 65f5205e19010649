"""What `firebase deploy` must know: the parameters the Firebase CLI asks for (or reads from
`functions/.env`), and which Secret Manager secrets each function binds.

Secrets follow the channels named in `ALERT_CHANNELS` (read from `functions/.env` when the CLI
analyses the code), so a project binds, and must create, only the secrets of the channels it
uses; `PSEUDONYM_KEY` is bound when `EXPORT_PSEUDONYMIZE_USERS` is on. A function binds exactly
the secrets its code can read: notifications go out from the scheduled tick and from the
dashboard (an admin's action notifies at once); the pseudonym key is read by the export and by
the dashboard's erasure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from firebase_functions.params import BoolParam, IntParam, SecretParam, StringParam

from video_monitoring.config.settings import Settings, slack_tier_secret
from video_monitoring.core.errors import ConfigError

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
PSEUDONYMISING = ("export_to_bigquery", "video_analytics_dashboard")

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
    """At a deployed function's cold start (`FUNCTION_TARGET` names it): a function that
    notifies needs ALERT_CHANNELS and every setting of each channel it names, else a
    ConfigError naming what is missing, so alerting is never silently off."""
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
            "in functions/.env; see the README's Deploy section)"
        )
