"""A deployed function refuses emulator variables, and only variables a deploy cannot set tell a
deployed instance from an emulated one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from video_monitoring.config import settings
from video_monitoring.core.errors import ConfigError

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
# What Cloud Run gives a gen2 function's instance (the runtime contract's reserved variables).
CLOUD_RUN = {
    "K_SERVICE": "fold-rollups",
    "K_REVISION": "fold-rollups-00007-vob",
    "K_CONFIGURATION": "fold-rollups",
    "PORT": "8080",
    "FUNCTION_TARGET": "fold_rollups",
    "FUNCTION_SIGNATURE_TYPE": "cloudevent",
}
# What the Firebase CLI's functions emulator gives each function it runs (functionsEmulator.js
# getSystemEnvs/getEmulatorEnvs), and what the project's local stack host sets.
CLI_EMULATOR = {
    "K_SERVICE": "fold_rollups",
    "K_REVISION": "1",
    "PORT": "80",
    "FUNCTION_TARGET": "fold_rollups",
    "FUNCTIONS_EMULATOR": "true",
    "FIREBASE_DEBUG_MODE": "true",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080",
    "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
}
LOCAL_STACK = {
    "FUNCTIONS_EMULATOR": "true",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080",
    "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
}
EMULATOR_VARIABLES = (
    "FIREBASE_AUTH_EMULATOR_HOST",
    "FIRESTORE_EMULATOR_HOST",
    "FUNCTIONS_EMULATOR",
    "FIREBASE_STORAGE_EMULATOR_HOST",
    "STORAGE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "local"),  # a test or a CLI run
        (LOCAL_STACK, "local"),  # the local stack's host sets no K_SERVICE
        (CLI_EMULATOR, "cli-emulator"),
        (CLOUD_RUN, "deployed"),
        # A stray line can only add variables; none of them turns a deployment into a local run.
        ({**CLOUD_RUN, **LOCAL_STACK}, "deployed"),
        ({**CLOUD_RUN, "FUNCTIONS_EMULATOR": "true", "FIREBASE_DEBUG_MODE": "true"}, "deployed"),
        # An unknown revision form is a deployment: refusing a local run is the safe mistake.
        ({"K_SERVICE": "fold_rollups", "FUNCTIONS_EMULATOR": "true"}, "deployed"),
        ({"K_SERVICE": "fold_rollups", "K_REVISION": "2", **LOCAL_STACK}, "deployed"),
    ],
)
def test_where_a_process_runs(environ: dict[str, str], expected: str) -> None:
    assert settings.deployment(environ) == expected
    assert settings.in_production(environ) is (expected == "deployed")


def test_emulator_variables_are_every_emulator_host_and_functions_emulator() -> None:
    environ = {**CLOUD_RUN, **{name: "x" for name in EMULATOR_VARIABLES}, "EMULATOR": "x",
               "FIREBASE_EMULATOR_HUB": "x", "MY_EMULATOR_HOSTNAME": "x"}  # fmt: skip
    assert settings.emulator_variables(environ) == sorted(EMULATOR_VARIABLES)


@pytest.mark.parametrize("name", EMULATOR_VARIABLES)
def test_a_deployed_function_refuses_each_emulator_variable(name: str) -> None:
    with pytest.raises(ConfigError, match=f"deployed function \\(fold-rollups\\): {name};"):
        settings.refuse_emulators({**CLOUD_RUN, name: "127.0.0.1:9"})
    settings.refuse_emulators({**CLI_EMULATOR, name: "127.0.0.1:9"})  # emulated: allowed
    settings.refuse_emulators({**LOCAL_STACK, name: "127.0.0.1:9"})


def test_every_emulator_variable_is_named() -> None:
    with pytest.raises(
        ConfigError,
        match="variables set in a deployed function \\(fold-rollups\\): "
        "FIREBASE_AUTH_EMULATOR_HOST, FUNCTIONS_EMULATOR; remove them",
    ):
        settings.refuse_emulators({**CLOUD_RUN, "FUNCTIONS_EMULATOR": "false",
                            "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"})  # fmt: skip


def test_emulator_variables_no_longer_switch_the_required_settings_off(
    clean_env: pytest.MonkeyPatch,
) -> None:
    for name, value in CLOUD_RUN.items():
        clean_env.setenv(name, value)
    clean_env.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8080")
    with pytest.raises(ConfigError, match="FIRESTORE_EMULATOR_HOST"):
        settings.load_settings()
    clean_env.delenv("FIRESTORE_EMULATOR_HOST")
    with pytest.raises(ConfigError, match="GCLOUD_PROJECT, DASHBOARD_BASE_URL"):
        settings.load_settings()


def cold_start(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`import main` as an instance starts, in a clean environment plus `extra`."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.endswith("_EMULATOR_HOST") and not k.startswith(("K_", "FUNCTION"))
    }  # fmt: skip
    env.update(PYTHONPATH=str(FUNCTIONS_DIR), **extra)
    return subprocess.run(
        [sys.executable, "-c", "import main"], cwd=FUNCTIONS_DIR, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


PRODUCTION = {**CLOUD_RUN, "GCLOUD_PROJECT": "acme-video",
              "DASHBOARD_BASE_URL": "https://monitor.acme.example"}  # fmt: skip


def test_a_production_cold_start_fails_naming_each_emulator_variable() -> None:
    started = cold_start(PRODUCTION)
    assert started.returncode == 0, started.stderr
    for name in EMULATOR_VARIABLES:
        started = cold_start({**PRODUCTION, name: "127.0.0.1:9099"})
        assert started.returncode != 0, name
        assert (
            f"ConfigError: emulator variable set in a deployed function (fold-rollups): {name};"
            in (started.stderr)
        ), started.stderr[-2000:]


def test_emulated_cold_starts_still_start() -> None:
    for extra in (CLI_EMULATOR, LOCAL_STACK):
        started = cold_start({**extra, "GCLOUD_PROJECT": "demo-cvplus"})
        assert started.returncode == 0, started.stderr
