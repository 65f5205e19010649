"""One local stack for the whole integration session, on ports of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from google.cloud import firestore

from tests.integration.support import PROJECT, Stack
from video_monitoring.bigquery_export import BigQuerySettings
from video_monitoring.local.bigquery_emulator import BigQueryEmulator, start_bigquery_emulator
from video_monitoring.local.receivers import Receivers
from video_monitoring.local.stack import (
    REPO_ROOT,
    StackError,
    check_java,
    emulator_jar,
    start_stack,
)
from video_monitoring.warehouse import BigQueryWarehouse, bigquery_client

FIRESTORE_PORT = int(os.environ.get("TEST_FIRESTORE_PORT", 18080))
FUNCTIONS_PORT = int(os.environ.get("TEST_FUNCTIONS_PORT", 15001))
BIGQUERY_PORT = int(os.environ.get("TEST_BIGQUERY_PORT", 19050))
BIGQUERY_GRPC_PORT = int(os.environ.get("TEST_BIGQUERY_GRPC_PORT", 19060))


WEBHOOK_SECRET = "integration-webhook-secret"
TWILIO_TOKEN = "twilio-test-token"
WEB_APP = "https://app.example"


@pytest.fixture(scope="session")
def receivers() -> Iterator[Receivers]:
    servers = Receivers.start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def bigquery_emulator() -> Iterator[BigQueryEmulator | None]:
    """The BigQuery API emulator, or None where it is not installed (never in CI)."""
    try:
        emulator = start_bigquery_emulator(
            PROJECT, BIGQUERY_PORT, BIGQUERY_GRPC_PORT, REPO_ROOT / ".stack" / "tests" / "bigquery"
        )
    except StackError:
        if os.environ.get("CI"):
            raise
        yield None
        return
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def stack(receivers: Receivers, bigquery_emulator: BigQueryEmulator | None) -> Iterator[Stack]:
    try:
        check_java()
        emulator_jar()
    except StackError as error:
        if os.environ.get("CI"):
            raise  # CI must run the integration suite, never skip it
        pytest.skip(reason=f"local stack unavailable: {error}")
    local = start_stack(
        PROJECT,
        FIRESTORE_PORT,
        FUNCTIONS_PORT,
        rules_path=REPO_ROOT / "firestore.rules",
        run_schedules=False,
        log_dir=REPO_ROOT / ".stack" / "tests",
        env={
            **receivers.env(WEBHOOK_SECRET, TWILIO_TOKEN),
            "CORS_ORIGINS": f'["{WEB_APP}"]',
            **bigquery_env(bigquery_emulator),
        },
    )
    try:
        yield Stack(local, local.functions_base)
    finally:
        local.stop()


@pytest.fixture(scope="session")
def db(stack: Stack) -> Iterator[firestore.Client]:
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = stack.local.firestore_host
    try:
        yield firestore.Client(project=PROJECT)
    finally:
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous


@pytest.fixture
def bq(bigquery_emulator: BigQueryEmulator | None, stack: Stack) -> Iterator[BigQueryWarehouse]:
    """A warehouse on the BigQuery emulator with no dataset yet, and an empty Firestore."""
    if bigquery_emulator is None:
        pytest.skip("BigQuery emulator not installed (make .venv-bq/.installed)")
    client = bigquery_client(
        BigQuerySettings(bigquery_api_endpoint=bigquery_emulator.endpoint, bigquery_project=PROJECT)
    )
    client.delete_dataset(f"{PROJECT}.video_monitoring", delete_contents=True, not_found_ok=True)
    stack.wipe()
    yield BigQueryWarehouse(client, "video_monitoring")


def bigquery_env(emulator: BigQueryEmulator | None) -> dict[str, str]:
    """Point the functions (host and in-process) at the emulator, when there is one."""
    if emulator is None:
        return {}
    return {"BIGQUERY_API_ENDPOINT": emulator.endpoint, "BIGQUERY_PROJECT": PROJECT}
