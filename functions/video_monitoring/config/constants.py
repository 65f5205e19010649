"""Names defined once: collections, event types, statuses, region."""

from __future__ import annotations

from typing import Final, Literal

REGION: Final = "us-central1"
DEFAULT_SOURCE_COLLECTION: Final = "video_generations"

# Collections the system owns (docs/interfaces.md §3).
METRICS: Final = "video_generation_metrics"
# Rollups: one folded document per bucket; increments land in the journal (`*_rollup_shards`,
# one document per arrival minute and shard), which fold_rollups drains every minute.
ROLLUPS: Final = "generation_rollups"
ROLLUP_SHARDS: Final = "generation_rollup_shards"
REJECTED: Final = "rejected_generations"
EVENTS: Final = "analytics_events"
# App events counted exactly like generations: stored contribution, rejections, rollups.
EVENT_CONTRIBUTIONS: Final = "event_contributions"
REJECTED_EVENTS: Final = "rejected_events"
EVENT_ROLLUPS: Final = "event_rollups"
EVENT_ROLLUP_SHARDS: Final = "event_rollup_shards"
SHARDS_OF: Final = {ROLLUPS: ROLLUP_SHARDS, EVENT_ROLLUPS: EVENT_ROLLUP_SHARDS}
# Per rollup kind, which folded documents each fold changed (lets instances cache the rest).
FOLD_LOGS: Final = "rollup_fold_logs"
# Journal entries the fold could not fold, kept whole with the reason until replayed.
ROLLUP_QUARANTINE: Final = "rollup_quarantine"
SYSTEM_METRICS: Final = "system_performance_metrics"
# Per user and UTC day: activity counters, kept exactly like the rollups (user insights).
USER_DAYS: Final = "user_days"
BUSINESS_METRICS: Final = "business_metrics"
QUALITY_INSIGHTS: Final = "quality_insights"
USER_BEHAVIOR_INSIGHTS: Final = "user_behavior_insights"
USER_BEHAVIOR_OPEN_DAYS: Final = "user_behavior_open_days"
SESSION_DAYS: Final = "session_days"
ALERT_RULES: Final = "alert_rules"
ALERT_INSTANCES: Final = "alert_instances"
# Who did what on the dashboard (admin actions, exports), and per-user export rate buckets.
AUDIT_LOG: Final = "audit_log"
RATE_LIMITS: Final = "rate_limits"
# Exports too large for a request: one document per job, the worker's file in Cloud Storage.
EXPORT_JOBS: Final = "export_jobs"
# API calls refused for want of a role, counted per minute (one document a minute, never one a
# call).
ACCESS_DENIALS: Final = "access_denials"
# Evaluation memory per (rule, scope), and the notification outbox / log.
ALERT_STATES: Final = "alert_states"
ALERT_NOTIFICATIONS: Final = "alert_notifications"
# One record per exported day (the last run's outcome and row counts per table).
EXPORT_RUNS: Final = "bigquery_export_runs"
# The last run of each scheduled job the health check watches (`aggregate_and_alert`).
HEARTBEATS: Final = "monitor_heartbeats"
PIPELINE_AUDITS: Final = "pipeline_audits"
# What the generation service should send each provider (the rules' pause_provider actions and
# the admins' pauses and releases): `{provider}` documents.
PROVIDER_CONTROLS: Final = "provider_controls"
# Digests: who opted in (`{uid}`: email, daily, weekly) and one record per period and
# recipient (`{periodKey}__{recipient}`), which makes each digest go out once.
DIGEST_SUBSCRIPTIONS: Final = "digest_subscriptions"
DIGEST_DELIVERIES: Final = "digest_deliveries"
SLO_OBJECTIVES: Final = "slo_objectives"
# Per provider: its concurrency limit, rate limit and monthly budget (admin-edited).
PROVIDER_CAPACITY: Final = "provider_capacity"
# Users who opted out of analytics: `{userId}` documents, written by the user or the backend.
ANALYTICS_OPT_OUTS: Final = "analytics_opt_outs"
# Custom dashboards (`{dashboardId}`: title, owner, shared, panels), read through the API only.
DASHBOARDS: Final = "dashboards"

# Event types the monitor writes itself (source: "monitor").
EVENT_SOURCE_MONITOR: Final = "monitor"
EVENT_GENERATION_REQUESTED: Final = "generation_requested"
EVENT_GENERATION_STARTED: Final = "generation_started"
EVENT_GENERATION_COMPLETED: Final = "generation_completed"
EVENT_GENERATION_FAILED: Final = "generation_failed"
EVENT_GENERATION_CANCELLED: Final = "generation_cancelled"
EVENT_PREMIUM_UPGRADE: Final = "premium_upgrade"

ROLE_ANALYTICS: Final = "analytics"
ROLE_ADMIN: Final = "admin"

# Bounded keys: free-form values that name a rollup cell or counter keep their own name only when
# listed (settings TRACKED_*); every other value counts under OTHER, so a day's rollup documents
# stay small whatever arrives. The raw value stays on the stored record and in BigQuery.
OTHER: Final = "other"
DEFAULT_TRACKED_PROVIDERS: Final = ("runway", "pika", "heygen", "synthesia", "d-id")
# The contract's app event types (docs/interfaces.md §2) and the monitor's own.
CLIENT_EVENT_TYPES: Final = (
    "session_start", "session_end", "video_viewed", "video_shared", "video_downloaded",
    "feature_used",
)  # fmt: skip
SESSION_EVENT_TYPES: Final = ("session_start", "session_end")
DEFAULT_TRACKED_EVENT_TYPES: Final = (
    *CLIENT_EVENT_TYPES, EVENT_PREMIUM_UPGRADE, EVENT_GENERATION_REQUESTED,
    EVENT_GENERATION_STARTED, EVENT_GENERATION_COMPLETED, EVENT_GENERATION_FAILED,
    EVENT_GENERATION_CANCELLED,
)  # fmt: skip
DEFAULT_TRACKED_ERROR_CODES: Final = (
    "provider_timeout", "provider_5xx", "provider_unavailable", "content_policy",
    "quota_exceeded", "rate_limited", "invalid_input", "timeout", "internal_error",
)  # fmt: skip
# Error classes for recovery (analytics/recovery.py): whether trying again can help. A code not
# listed (and every untracked code) is classed by each document's own `error.retryable` flag;
# `internal_error` is left to the flag on purpose (a bug may or may not be transient).
DEFAULT_ERROR_CLASSES: Final[dict[str, Literal["retryable", "permanent"]]] = {
    "provider_timeout": "retryable", "provider_5xx": "retryable",
    "provider_unavailable": "retryable", "quota_exceeded": "retryable",
    "rate_limited": "retryable", "timeout": "retryable", "content_policy": "permanent",
    "invalid_input": "permanent",
}  # fmt: skip
DEFAULT_TRACKED_FEATURES: Final = ("custom_avatar", "voice_clone", "hd_export", "brand_kit")
