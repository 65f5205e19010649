"""Fixtures the unit tests share: an empty fake store, an environment that says nothing about
where the code runs."""

from __future__ import annotations

import pytest

from tests.unit.fakes import FakeStore

# The variables that tell the code where it runs: a deployment's, and every emulator's.
WHERE_IT_RUNS = (
    "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "GCLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT",
    "DASHBOARD_BASE_URL", "FUNCTIONS_EMULATOR", "FIRESTORE_EMULATOR_HOST",
    "FIREBASE_AUTH_EMULATOR_HOST", "FIREBASE_STORAGE_EMULATOR_HOST", "STORAGE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
)  # fmt: skip


@pytest.fixture
def store() -> FakeStore:
    """An empty in-memory store."""
    return FakeStore()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment without any variable that says where the code runs; set what a test
    needs through the monkeypatch it returns."""
    for name in WHERE_IT_RUNS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
