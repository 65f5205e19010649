"""One settings object in groups: read from the environment once, required settings enforced in
production, no production default pointing at a demo project or at this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from video_monitoring.config import settings
from video_monitoring.core.errors import ConfigError

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
PRODUCTION = {"K_SERVICE": "video-analytics-dashboard"}
LOCAL_ENV = ("FUNCTIONS_EMULATOR", "FIRESTORE_EMULATOR_HOST")


def test_each_group_reads_its_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ROLLUP_SHARDS", "64")
    clean_env.setenv("STUCK_AFTER_MINUTES", "12")
    clean_env.setenv("EXPORT_RESETTLE_DAYS", "3")
    clean_env.setenv("NOTIFY_ATTEMPTS", "5")
    clean_env.setenv("GOOGLE_CLOUD_PROJECT", "acme-video")
    loaded = settings.load_settings()
    assert loaded.rollups.rollup_shards == 64
    assert loaded.pipeline.stuck_after_minutes == 12
    assert loaded.bigquery.export_resettle_days == 3
    assert loaded.notifications.notify_attempts == 5
    assert loaded.runtime.project == "acme-video"


def test_a_production_start_without_a_required_setting_names_it(
    clean_env: pytest.MonkeyPatch,
) -> None:
    for name, value in PRODUCTION.items():
        clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match="GCLOUD_PROJECT, DASHBOARD_BASE_URL"):
        settings.load_settings()
    clean_env.setenv("GCLOUD_PROJECT", "acme-video")
    with pytest.raises(ConfigError, match=r"setting: DASHBOARD_BASE_URL \(set as"):
        settings.load_settings()
    clean_env.setenv("DASHBOARD_BASE_URL", "https://monitor.acme.example")
    loaded = settings.load_settings()
    assert loaded.runtime.project == "acme-video"
    assert loaded.dashboard.dashboard_base_url == "https://monitor.acme.example"


def test_emulators_and_tests_are_not_production(clean_env: pytest.MonkeyPatch) -> None:
    assert not settings.in_production({})
    assert settings.in_production(PRODUCTION)
    for name in LOCAL_ENV:  # an emulator variable alone no longer says "not production"
        assert settings.in_production({**PRODUCTION, name: "true"})
    clean_env.setenv("FUNCTIONS_EMULATOR", "true")
    clean_env.setenv("K_SERVICE", "x")
    clean_env.setenv("K_REVISION", settings.CLI_EMULATOR_REVISION)  # the Firebase CLI's emulator
    assert (
        settings.load_settings().runtime.project == settings.LOCAL_PROJECT
    )  # only outside production


def test_no_default_points_at_a_demo_project_or_this_machine() -> None:
    groups = [f.default_factory for f in settings.Settings.model_fields.values()]
    assert len(groups) == 7
    for group in groups:
        assert isinstance(group, type) and issubclass(group, BaseSettings)
        for name, info in group.model_fields.items():
            default = info.get_default(call_default_factory=True)
            text = str(default).lower()
            assert "demo" not in text and "127.0.0.1" not in text and "localhost" not in text, (
                f"{group.__name__}.{name} defaults to {default!r}"
            )


def test_a_production_cold_start_fails_naming_the_missing_setting() -> None:
    env = {k: v for k, v in os.environ.items() if k not in (*LOCAL_ENV, "DASHBOARD_BASE_URL")}
    env.update(PRODUCTION, GCLOUD_PROJECT="acme-video", PYTHONPATH=str(FUNCTIONS_DIR))
    started = subprocess.run(
        [sys.executable, "-c", "import main"],
        cwd=FUNCTIONS_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode != 0
    assert "ConfigError: missing required setting: DASHBOARD_BASE_URL" in started.stderr
    env["DASHBOARD_BASE_URL"] = "https://monitor.acme.example"
    started = subprocess.run(
        [sys.executable, "-c", "import main"],
        cwd=FUNCTIONS_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
