"""Every setting of the system: one `Settings` object in groups, read from the environment once.

Each environment variable is the upper-case name of its field (`ROLLUP_SHARDS` sets
`rollups.rollup_shards`), so a setting is found by grepping for its variable. Secrets
(`SMTP_PASSWORD`, `SLACK_WEBHOOK_URL`, `TWILIO_AUTH_TOKEN`, `ALERT_WEBHOOK_URL`,
`ALERT_WEBHOOK_SECRET`, `PSEUDONYM_KEY`) are `SecretStr`: bound from Secret Manager in
production, never printed.

In production (`deployment()`: Cloud Run's own `K_SERVICE` and `K_REVISION`, which no
environment file can set) an emulator variable fails the cold start naming it, and so does a
missing setting without a safe default. Nothing here defaults to a demo project or to
localhost: outside production an unset project is `demo-cvplus`, a `demo-` project the Google
SDKs never send to the cloud, and the local stack sets the rest.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from video_monitoring.config.constants import (
    DEFAULT_ERROR_CLASSES,
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
# (providers x tiers) and event rollup far below Firestore's 1 MiB (docs/design.md "Bounded keys").
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
    # Where the functions' own runtime series come from (docs/runtime.md): `cloud_monitoring`,
    # `local` (the local functions host at RUNTIME_SERIES_URL) or `off`; `auto` is Cloud
    # Monitoring when deployed, the local host when RUNTIME_SERIES_URL is set, else off.
    runtime_series: Literal["auto", "cloud_monitoring", "local", "off"] = "auto"
    runtime_series_url: str | None = None
    # How long one instance reuses a window's series before reading it again: the tick's period.
    runtime_cache_seconds: int = Field(default=300, ge=0, le=3600)

    @property
    def project(self) -> str:
        """The Firebase project (the local one when unset outside production)."""
        return self.project_id or LOCAL_PROJECT


class RollupSettings(_Group):
    """Rollup layout and the instance cache."""

    # Journal documents per arrival minute (hash shards of the generation id); see docs/design.md
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
    # Error code -> "retryable" | "permanent" (JSON map, read when figures are served, so an
    # edit reclassifies past failures too); unlisted codes follow each document's flag.
    error_classes: dict[str, Literal["retryable", "permanent"]] = Field(
        default_factory=lambda: dict(DEFAULT_ERROR_CLASSES), max_length=MAX_TRACKED
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
    # Requests per caller (uid) and route class, each a token bucket (bursts up to the limit,
    # refilled evenly): exports per hour, reads (GET) per minute, actions (POST, PUT) per minute.
    export_rate_per_hour: int = Field(default=30, ge=1)
    read_rate_per_minute: int = Field(default=120, ge=1)
    action_rate_per_minute: int = Field(default=30, ge=1)
    # Most rows one /export may return (a larger window gets a 400 naming the cap).
    export_max_rows: int = Field(default=100_000, ge=1)
    # Work one request may do before it answers: Hosting's rewrite proxy cuts at 60 s, the
    # function's own timeout (runtime/deploy.py) is 60 s, and this leaves 10 s of margin.
    request_deadline_seconds: float = Field(default=50.0, gt=0, le=55)
    # Most rows a synchronous /export of each format reads and encodes within the deadline:
    # the whole-path rate `bench/export_bench.py --from-firestore` measures (rows per CPU
    # second, Firestore pages decoded and the file encoded) x REQUEST_DEADLINE_SECONDS / 12 (a
    # sixth of a vCPU deployed, half the deadline held back), two significant digits; a larger
    # window is a background job (or a 400 without one). Measured: csv 4,432, ndjson 4,069,
    # json 3,959, xlsx 1,522, pdf 3,391 rows/CPU-s (the PDF prints 2,000 rows, counts the rest).
    export_sync_rows_csv: int = Field(default=18_000, ge=1)
    export_sync_rows_ndjson: int = Field(default=16_000, ge=1)
    export_sync_rows_json: int = Field(default=16_000, ge=1)
    export_sync_rows_xlsx: int = Field(default=6_300, ge=1)
    export_sync_rows_pdf: int = Field(default=14_000, ge=1)
    # A window over its format's synchronous cap (and within EXPORT_MAX_ROWS) becomes a
    # background job writing the file to this Cloud Storage bucket (docs/exports.md); unset,
    # the project's default Firebase bucket `<project>.firebasestorage.app`.
    export_bucket: str | None = None
    # Jobs queued or running one caller may hold; one more is a 429.
    export_jobs_pending_max: int = Field(default=3, ge=1, le=50)
    # How long a finished job's download link (a V4 signed URL) stays valid, and how long the
    # job and its file are kept (the job's TTL; the bucket's lifecycle rule deletes the file).
    export_link_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)
    export_job_days: int = Field(default=7, ge=1, le=30)
    # Look up each caller's Firebase Auth account (refused when deleted, disabled or its tokens
    # revoked) and each digest recipient's (also needs a role and a verified email). Off only
    # for a local stack without an Auth emulator: a deployed function refuses to start without.
    auth_account_checks: bool = True
    # How long an instance trusts an account it looked up: a revoked or disabled user is
    # refused within this, at most one Auth API call per user per this per instance.
    auth_account_cache_seconds: int = Field(default=60, ge=0, le=3600)
    # GET /health computes its verdict at most this often per instance (it needs no token).
    health_cache_seconds: float = Field(default=15.0, ge=0)
    # Targets the console holds the headline figures against (GET /targets).
    target_success_rate: float = Field(default=0.995, ge=0, le=1)
    target_avg_generation_seconds: float = Field(default=60.0, gt=0)
    target_quality_score: float = Field(default=9.0, ge=0, le=10)
    target_satisfaction: float = Field(default=4.5, ge=0, le=5)
    target_premium_adoption: float = Field(default=0.6, ge=0, le=1)
    target_retention: float = Field(default=0.85, ge=0, le=1)

    def sync_export_caps(self) -> dict[str, int]:
        """The synchronous export cap of each format (never above EXPORT_MAX_ROWS)."""
        caps = {
            "csv": self.export_sync_rows_csv,
            "ndjson": self.export_sync_rows_ndjson,
            "json": self.export_sync_rows_json,
            "xlsx": self.export_sync_rows_xlsx,
            "pdf": self.export_sync_rows_pdf,
        }
        return {fmt: min(cap, self.export_max_rows) for fmt, cap in caps.items()}

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
    # How the SMTP connection is secured: "starttls" (port 587), "implicit" TLS (SMTP_SSL, port
    # 465), both verifying the server's certificate and name; "none" is plain text for the local
    # stack's inbox, refused in production.
    smtp_tls: Literal["starttls", "implicit", "none"] = "starttls"
    # CAs the SMTP server's certificate must chain to instead of the system's (a private CA): a
    # PEM file's path (relative to functions/ when deployed) or the PEM text itself.
    smtp_ca_bundle: str | None = None
    alert_email_from: str | None = None
    alert_email_to: str | None = None
    slack_webhook_url: SecretStr | None = None
    # On-call tiers with Slack webhooks of their own, comma-separated names; each tier's URL is
    # the secret SLACK_WEBHOOK_URL_<TIER> (the deploy binds one per name).
    slack_tiers: str = ""
    # Digests the team's Slack webhook receives: "", "daily", "weekly" or "daily,weekly"
    # (people opt in to email digests themselves, PUT /me/digests).
    digest_slack: str = ""

    @field_validator("smtp_ca_bundle")
    @classmethod
    def _ca_bundle_readable(cls, value: str | None) -> str | None:
        if value and not value.lstrip().startswith("-----BEGIN") and not Path(value).is_file():
            raise ValueError(f"SMTP_CA_BUNDLE: no file {value!r}; expected a PEM file or PEM text")
        return value or None

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
    # Wall time a tick gives its deliveries (alerts, then digests), after its heartbeat and
    # rule evaluation; a send not started by then stays in the outbox for the next tick.
    notify_budget_seconds: float = Field(default=60.0, gt=0)


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


# The revision the Firebase CLI's functions emulator gives every function. Cloud Run names each
# revision after its service (`<service>-00001-abc`) and reserves K_REVISION, as `firebase deploy`
# does, so no deployed instance carries this value and no environment file can give it one.
CLI_EMULATOR_REVISION = "1"
Deployment = Literal["deployed", "cli-emulator", "local"]


def deployment(environ: Mapping[str, str]) -> Deployment:
    """Where this process runs, read only from variables a deploy cannot set: Cloud Run sets
    `K_SERVICE` in every instance (tests, CLI runs and the local stack's host have none), and the
    CLI's functions emulator declares itself by its `K_REVISION`. The emulator variables are never
    consulted: they are what a stray line may add."""
    if "K_SERVICE" not in environ:
        return "local"
    if environ.get("K_REVISION") == CLI_EMULATOR_REVISION:
        return "cli-emulator"
    return "deployed"


def in_production(environ: Mapping[str, str]) -> bool:
    """Whether this process is a deployed function (not an emulator, a test or a CLI run)."""
    return deployment(environ) == "deployed"


def emulator_variables(environ: Mapping[str, str]) -> list[str]:
    """The emulator variables set (`*_EMULATOR_HOST`, `FUNCTIONS_EMULATOR`), sorted."""
    return sorted(
        name
        for name in environ
        if name.upper().endswith("_EMULATOR_HOST") or name.upper() == "FUNCTIONS_EMULATOR"
    )


def refuse_emulators(environ: Mapping[str, str]) -> None:
    """In a deployed function, fail naming each emulator variable: with one set the Admin SDK
    skips token signatures or the clients talk to an emulator that is not there."""
    if not in_production(environ):
        return
    found = emulator_variables(environ)
    if found:
        raise ConfigError(
            f"emulator variable{'s' if len(found) > 1 else ''} set in a deployed function "
            f"({environ['K_SERVICE']}): {', '.join(found)}; remove "
            f"{'them' if len(found) > 1 else 'it'} from functions/.env and the function's "
            "environment (with FIREBASE_AUTH_EMULATOR_HOST set, unsigned ID tokens are accepted)"
        )


def load_settings() -> Settings:
    """Read every group from the environment; in production, fail naming each required setting
    that is missing."""
    refuse_emulators(os.environ)
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
        if settings.notifications.smtp_tls == "none":
            raise ConfigError(
                "SMTP_TLS=none is for the local stack only: it would send the SMTP password and "
                "every alert in plain text; use starttls (port 587) or implicit (port 465)"
            )
    return settings


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return load_settings()


def source_collection() -> str:
    """The generation service's collection (read at import time by the trigger decorator)."""
    return os.environ.get("SOURCE_COLLECTION", DEFAULT_SOURCE_COLLECTION)
