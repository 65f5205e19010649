"""One local stack for the whole test session (the integration and browser suites share it), on
ports and in a directory of its own: two sessions at once on one machine (one checkout or two)
never meet. Integration tests start on an empty database (tests/integration/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from google.cloud import firestore
from hypothesis import settings

from local_stack.auth_emulator import auth_missing
from local_stack.bigquery_emulator import BigQueryEmulator, start_bigquery_emulator
from local_stack.ports import Port, PortUnavailable, free_ports, require_free
from local_stack.receivers import Receivers
from local_stack.stack import (
    REPO_ROOT,
    StackError,
    StackPorts,
    check_java,
    emulator_jar,
    port_setting,
    start_stack,
)
from tests.integration.support import ACCOUNTS, PROJECT, Accounts, Stack
from video_monitoring.adapters.bigquery import BigQueryWarehouse, bigquery_client
from video_monitoring.config.settings import BigQuerySettings

# Property tests check answers; speed is the benchmarks' job. Hypothesis's default 200 ms per
# example fails them on a loaded machine, so no example has a deadline.
settings.register_profile("answers", deadline=None)
settings.load_profile("answers")

# Each variable pins one port; unset (the default), the session takes a free one.
PORT_SETTINGS = {
    "TEST_FIRESTORE_PORT": "Firestore emulator",
    "TEST_FUNCTIONS_PORT": "functions host",
    "TEST_BIGQUERY_PORT": "BigQuery emulator REST",
    "TEST_BIGQUERY_GRPC_PORT": "BigQuery emulator gRPC",
    "TEST_HOSTING_PORT": "console (hosting)",
    "TEST_AUTH_PORT": "Auth emulator (its hub and logging take the two ports above)",
}
START_ATTEMPTS = 3
# The marker of a module whose tests share data a module-scoped fixture seeded: no wipe per test.
SHARED_DATA = "shared_data"

WEBHOOK_SECRET = "integration-webhook-secret"
TWILIO_TOKEN = "twilio-test-token"
WEB_APP = "https://app.example"

T = TypeVar("T")


def on_ports(settings: tuple[str, ...], start: Callable[[list[int]], T]) -> T:
    """`start(ports)` with one port per setting: the variable's value where set, else a free one.
    A free port can be taken by another process (another run) before our server binds it; the
    start then refuses it and is retried on fresh ports."""
    pinned = {name: port_setting(name, 0) for name in settings if os.environ.get(name)}
    require_free(Port(pinned[name], PORT_SETTINGS[name], name) for name in pinned)
    for attempt in range(1, START_ATTEMPTS + 1):
        fresh = iter(free_ports(len(settings)))
        ports = [pinned[name] if name in pinned else next(fresh) for name in settings]
        try:
            return start(ports)
        except PortUnavailable as error:
            if error.port.number in pinned.values() or attempt == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{SHARED_DATA}: the module's tests share data seeded once; no wipe per test"
    )


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This session's logs and emulator files (pytest keeps the last few sessions')."""
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def receivers() -> Iterator[Receivers]:
    servers = Receivers.start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def bigquery_emulator(run_dir: Path) -> Iterator[BigQueryEmulator | None]:
    """The BigQuery API emulator, or None where it is not installed (never in CI)."""
    try:
        emulator = on_ports(
            ("TEST_BIGQUERY_PORT", "TEST_BIGQUERY_GRPC_PORT"),
            lambda ports: start_bigquery_emulator(
                PROJECT, ports[0], ports[1], run_dir / "bigquery"
            ),
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
def stack(
    receivers: Receivers, bigquery_emulator: BigQueryEmulator | None, run_dir: Path
) -> Iterator[Stack]:
    try:
        check_java()
        emulator_jar()
    except StackError as error:
        if os.environ.get("CI"):
            raise  # CI must run the integration suite, never skip it
        pytest.skip(reason=f"local stack unavailable: {error}")
    # The console and the Auth emulator it signs in against (firebase-tools from `npm ci`).
    no_auth = auth_missing()
    if no_auth is not None and os.environ.get("CI"):
        raise AssertionError(f"CI must run the console's tests: {no_auth}")
    local = on_ports(
        ("TEST_FIRESTORE_PORT", "TEST_FUNCTIONS_PORT", "TEST_HOSTING_PORT", "TEST_AUTH_PORT"),
        lambda ports: start_stack(
            PROJECT,
            StackPorts(ports[0], ports[1], ports[2], None if no_auth else ports[3]),
            rules_path=REPO_ROOT / "firestore.rules",
            run_schedules=False,
            log_dir=run_dir,
            env={
                **receivers.env(WEBHOOK_SECRET, TWILIO_TOKEN),
                "CORS_ORIGINS": f'["{WEB_APP}"]',
                "HEALTH_CACHE_SECONDS": "0",  # each check reads storage afresh
                # Each caller's and digest recipient's Auth account is checked, trusted 1 s.
                "AUTH_ACCOUNT_CHECKS": str(no_auth is None).lower(),
                "AUTH_ACCOUNT_CACHE_SECONDS": "1",
                # The suite calls as a few users, polling; the limits are tested on their own
                # buckets (test_rate_limits_emulator.py).
                "READ_RATE_PER_MINUTE": "1000000",
                "ACTION_RATE_PER_MINUTE": "1000000",
                **bigquery_env(bigquery_emulator),
            },
        ),
    )
    if local.auth is not None:
        ACCOUNTS.append(Accounts(local.auth.url))
    try:
        yield Stack(local, local.functions_base)
    finally:
        ACCOUNTS.clear()
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
def bq(bigquery_emulator: BigQueryEmulator | None) -> Iterator[BigQueryWarehouse]:
    """A warehouse on the BigQuery emulator with no dataset yet."""
    if bigquery_emulator is None:
        pytest.skip("BigQuery emulator not installed (make .venv-bq/.installed)")
    client = bigquery_client(
        BigQuerySettings(
            bigquery_api_endpoint=bigquery_emulator.endpoint, bigquery_project=PROJECT
        ),
        PROJECT,
    )
    client.delete_dataset(f"{PROJECT}.video_monitoring", delete_contents=True, not_found_ok=True)
    yield BigQueryWarehouse(client, "video_monitoring")


def bigquery_env(emulator: BigQueryEmulator | None) -> dict[str, str]:
    """Point the functions (host and in-process) at the emulator, when there is one."""
    if emulator is None:
        return {}
    return {"BIGQUERY_API_ENDPOINT": emulator.endpoint, "BIGQUERY_PROJECT": PROJECT}
