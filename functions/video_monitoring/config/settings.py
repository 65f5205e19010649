"""Every setting of the system: one `Settings` object in groups, read from the environment once.

Each environment variable is the upper-case name of its field (`ROLLUP_SHARDS` sets
`rollups.rollup_shards`), so a setting is found by grepping for its variable. Secrets
(`SMTP_PASSWORD`, `SLACK_WEBHOOK_URL`, `TWILIO_AUTH_TOKEN`, `ALERT_WEBHOOK_URL`,
`ALERT_WEBHOOK_SECRET`, `PSEUDONYM_KEY`) are `SecretStr`: bound from Secret Manager in
production, never printed.

In production (Cloud Functions sets `K_SERVICE`; the emulators set `FUNCTIONS_EMULATOR` or
`FIRESTORE_EMULATOR_HOST`) the settings without a safe default are required and a cold start
without one fails naming it. Nothing here defaults to a demo project or to localhost: outside
production an unset project is `demo-cvplus`, a `demo-` project the Google SDKs never send to
the cloud, and the local stack sets the rest.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from video_monitoring.config.constants import (
    DEFAULT_SOURCE_COLLECTION,
    DEFAULT_TRACKED_ERROR_CODES,
    DEFAULT_TRACKED_EVENT_TYPES,
    DEFAULT_TRACKED_FEATURES,
    DEFAULT_TRACKED_PROVIDERS,
)
from video_monitoring.core.errors import ConfigError

# The project outside production when none is set (the local stack's; `demo-` ids stay local).
LOCAL_PROJECT = "demo-cvplus"
# Most values one TRACKED_* list may name: 200 cells of ~300 bytes keep a day's generation rollup
# (providers x tiers) and event rollup far below Firestore's 1 MiB (README "Bounded keys").
MAX_TRACKED = 200


class _Group(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", frozen=True
    )


class RuntimeSettings(_Group):
    """Where the functions run and what they watch."""

    project_id: str | None = Field(
        default=None, validation_alias=AliasChoices("GCLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT")
    )
    source_collection: str = DEFAULT_SOURCE_COLLECTION

    @property
    def project(self) -> str:
        """The Firebase project (the local one when unset outside production)."""
        return self.project_id or LOCAL_PROJECT


class RollupSettings(_Group):
    """Rollup layout and the instance cache."""

    # Journal documents per arrival minute (hash shards of the generation id); see README
    # "Capacity" for the arithmetic behind the default.
    rollup_shards: int = Field(default=16, ge=1, le=4096)
    # Memory per function instance for folded rollup documents already read (0: no cache).
    rollup_cache_mb: int = Field(default=32, ge=0, le=1024)
    # Values counted one by one in the rollups (JSON lists); any other value counts under
    # "other" (and in the `other/<field>` counters), so documents stay bounded whatever arrives.
    tracked_features: list[str] = Field(
        default_factory=lambda: [*DEFAULT_TRACKED_FEATURES], max_length=MAX_TRACKED
    )
    tracked_providers: list[str] = Field(
        default_factory=lambda: [*DEFAULT_TRACKED_PROVIDERS], max_length=MAX_TRACKED
    )
    tracked_event_types: list[str] = Field(
        default_factory=lambda: [*DEFAULT_TRACKED_EVENT_TYPES], max_length=MAX_TRACKED
    )
    tracked_error_codes: list[str] = Field(
        default_factory=lambda: [*DEFAULT_TRACKED_ERROR_CODES], max_length=MAX_TRACKED
    )


class RetentionSettings(_Group):
    """Firestore TTL (privacy/retention.py): raw per-item records, and the aggregates kept
    longer."""

    raw_retention_days: int = Field(default=90, ge=1)
    rollup_retention_days: int = Field(default=760, ge=1)


class DashboardSettings(_Group):
    """The dashboard API."""

    # Where operators open the dashboard; alert notifications link into it. Required in
    # production.
    dashboard_base_url: str | None = None
    max_window_days: int = Field(default=400, ge=1)
    # Web app origins allowed to call the dashboard from a browser (JSON list; none by default).
    cors_origins: list[str] = Field(default_factory=list)
    # Exports per user per hour (a token bucket: bursts up to this, refilled evenly).
    export_rate_per_hour: int = Field(default=30, ge=1)
    # Most rows one /export may return (a larger window gets a 400 naming the cap).
    export_max_rows: int = Field(default=100_000, ge=1)
    # GET /health computes its verdict at most this often per instance (it needs no token).
    health_cache_seconds: float = Field(default=15.0, ge=0)
    # Targets the console holds the headline figures against (GET /targets).
    target_success_rate: float = Field(default=0.995, ge=0, le=1)
    target_avg_generation_seconds: float = Field(default=60.0, gt=0)
    target_quality_score: float = Field(default=9.0, ge=0, le=10)
    target_satisfaction: float = Field(default=4.5, ge=0, le=5)
    target_premium_adoption: float = Field(default=0.6, ge=0, le=1)
    target_retention: float = Field(default=0.85, ge=0, le=1)

    def targets(self) -> dict[str, Target]:
        """The targets by the figure they apply to (names as GET /targets gives them)."""
        return {
            "successRate": Target(self.target_success_rate, "min"),
            "avgGenerationSeconds": Target(self.target_avg_generation_seconds, "max"),
            "qualityScore": Target(self.target_quality_score, "min"),
            "satisfaction": Target(self.target_satisfaction, "min"),
            "premiumAdoption": Target(self.target_premium_adoption, "min"),
            "retention": Target(self.target_retention, "min"),
        }


@dataclass(frozen=True)
class Target:
    """A figure's target: at least (`min`) or at most (`max`) this value."""

    value: float
    direction: Literal["min", "max"]

    def to_json(self) -> dict[str, Any]:
        """The API form."""
        return {"value": self.value, "direction": self.direction}


class PipelineSettings(_Group):
    """The health of the generation pipeline itself."""

    # Processing longer than this counts as stuck in the system metrics.
    stuck_after_minutes: int = Field(default=30, ge=1)
    # Settled UTC days the nightly drift audit re-reconciles (yesterday and the days before).
    audit_days: int = Field(default=2, ge=1, le=31)
    # Guard rails of the rules' pause_provider actions: at most this many providers paused
    # (open or half-open) at once, and never the last healthy one unless this is off.
    provider_control_max_open: int = Field(default=1, ge=1, le=50)
    provider_control_keep_one_healthy: bool = True


class NotificationSettings(_Group):
    """Alert channels; a channel is on when its required settings are present (and, where
    `ALERT_CHANNELS` is set, when it names the channel)."""

    # Comma-separated: email, slack, sms, webhook. Required by deployed functions that notify;
    # the deploy binds exactly these channels' secrets (runtime/deploy.py).
    alert_channels: str = ""
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    alert_email_from: str | None = None
    alert_email_to: str | None = None
    slack_webhook_url: SecretStr | None = None
    # On-call tiers with Slack webhooks of their own, comma-separated names; each tier's URL is
    # the secret SLACK_WEBHOOK_URL_<TIER> (the deploy binds one per name).
    slack_tiers: str = ""
    # Digests the team's Slack webhook receives: "", "daily", "weekly" or "daily,weekly"
    # (people opt in to email digests themselves, PUT /me/digests).
    digest_slack: str = ""

    def slack_tier_webhooks(self) -> dict[str, SecretStr]:
        """The tiers' webhook URLs that are set, by tier name."""
        urls = {}
        for tier in (t.strip() for t in self.slack_tiers.split(",") if t.strip()):
            value = os.environ.get(slack_tier_secret(tier))
            if value:
                urls[tier] = SecretStr(value)
        return urls

    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    alert_sms_to: str | None = None
    alert_webhook_url: SecretStr | None = None
    alert_webhook_secret: SecretStr | None = None
    notify_attempts: int = 3
    notify_base_delay_seconds: float = 0.5
    notify_max_delay_seconds: float = 4.0
    notify_timeout_seconds: float = 5.0


def slack_tier_secret(tier: str) -> str:
    """The secret holding an on-call tier's Slack webhook URL."""
    return "SLACK_WEBHOOK_URL_" + tier.upper().replace("-", "_")


class BigQuerySettings(_Group):
    """Where the export goes and how user ids leave (the key is bound from Secret Manager)."""

    bigquery_project: str | None = None  # default: the Firebase project
    bigquery_dataset: str = "video_monitoring"
    bigquery_location: str = "US"
    bigquery_api_endpoint: str | None = None  # an emulator; unset in production
    # Off where no BigQuery exists (the local stack without its emulator): erasure skips it.
    bigquery_enabled: bool = True
    export_load_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    # Earlier days each nightly run exports again, so a generation that finished after its
    # day's export reaches BigQuery in its final state.
    export_resettle_days: int = Field(default=1, ge=0, le=7)
    export_pseudonymize_users: bool = False
    pseudonym_key: SecretStr | None = None

    def key(self) -> bytes | None:
        """The pseudonymisation key, or None when user ids are exported as they are; refuses
        to export raw ids when pseudonymisation is on but no key is set."""
        if not self.export_pseudonymize_users:
            return None
        if self.pseudonym_key is None or not self.pseudonym_key.get_secret_value():
            raise ConfigError(
                "EXPORT_PSEUDONYMIZE_USERS is on but PSEUDONYM_KEY is not set; refusing to "
                "export raw user ids"
            )
        return self.pseudonym_key.get_secret_value().encode()


class Settings(BaseModel):
    """All settings, by group."""

    model_config = ConfigDict(frozen=True)

    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    rollups: RollupSettings = Field(default_factory=RollupSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    bigquery: BigQuerySettings = Field(default_factory=BigQuerySettings)

    def secret_values(self) -> list[str]:
        """Every configured secret's value (the log formatter redacts them)."""
        values = [v.get_secret_value() for v in self.notifications.slack_tier_webhooks().values()]
        for group in (self.notifications, self.bigquery):
            for name in type(group).model_fields:
                value = getattr(group, name)
                if isinstance(value, SecretStr):
                    values.append(value.get_secret_value())
        return values


def in_production(environ: Mapping[str, str]) -> bool:
    """Whether this process is a deployed function (not an emulator, a test or a CLI run)."""
    emulated = environ.get("FUNCTIONS_EMULATOR") == "true" or "FIRESTORE_EMULATOR_HOST" in environ
    return "K_SERVICE" in environ and not emulated


def load_settings() -> Settings:
    """Read every group from the environment; in production, fail naming each required setting
    that is missing."""
    settings = Settings()
    if in_production(os.environ):
        # What production cannot run without, by environment variable.
        required = {
            "GCLOUD_PROJECT": settings.runtime.project_id,
            "DASHBOARD_BASE_URL": settings.dashboard.dashboard_base_url,
        }
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise ConfigError(
                f"missing required setting{'s' if len(missing) > 1 else ''}: "
                + ", ".join(missing)
                + " (set as environment variables of the deployed functions)"
            )
    return settings


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return load_settings()


def source_collection() -> str:
    """The generation service's collection (read at import time by the trigger decorator)."""
    return os.environ.get("SOURCE_COLLECTION", DEFAULT_SOURCE_COLLECTION)
