"""Settings, read once from the environment on first use."""

from __future__ import annotations

import functools
import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from video_monitoring.config.constants import DEFAULT_SOURCE_COLLECTION


class Settings(BaseSettings):
    """Every setting of the system; environment variables of the same name (upper case) set them."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    source_collection: str = DEFAULT_SOURCE_COLLECTION
    project_id: str = Field(
        default_factory=lambda: (
            os.environ.get("GCLOUD_PROJECT")
            or os.environ.get("GOOGLE_CLOUD_PROJECT")
            or "demo-cvplus"
        )
    )
    # Journal documents per arrival minute (hash shards of the generation id); see README
    # "Capacity" for the arithmetic behind the default.
    rollup_shards: int = Field(default=16, ge=1, le=4096)
    # Memory per function instance for folded rollup documents already read (0: no cache).
    rollup_cache_mb: int = Field(default=32, ge=0, le=1024)
    max_window_days: int = Field(default=400, ge=1)
    dashboard_base_url: str = (
        "http://127.0.0.1:5001/demo-cvplus/us-central1/video_analytics_dashboard"
    )
    # Processing longer than this counts as stuck in the system metrics.
    stuck_after_minutes: int = Field(default=30, ge=1)
    # Feature names counted one by one in the rollups; any other name counts as "other".
    tracked_features: list[str] = Field(
        default_factory=lambda: ["custom_avatar", "voice_clone", "hd_export", "brand_kit"]
    )
    # Web app origins allowed to call the dashboard from a browser (JSON list; none by default).
    cors_origins: list[str] = Field(default_factory=list)
    # Exports per user per hour (a token bucket: bursts up to this, refilled evenly).
    export_rate_per_hour: int = Field(default=30, ge=1)
    # Most rows one /export may return (a larger window gets a 400 naming the cap).
    export_max_rows: int = Field(default=100_000, ge=1)
    # Firestore TTL (privacy/retention.py): raw per-item records, and the aggregates kept longer.
    raw_retention_days: int = Field(default=90, ge=1)
    rollup_retention_days: int = Field(default=760, ge=1)
    # Settled UTC days the nightly drift audit re-reconciles (yesterday and the days before).
    audit_days: int = Field(default=2, ge=1, le=31)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return Settings()


def source_collection() -> str:
    """The generation service's collection (read at import time by the trigger decorator)."""
    return os.environ.get("SOURCE_COLLECTION", DEFAULT_SOURCE_COLLECTION)
