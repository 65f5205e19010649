"""`make serve` and start_stack refuse a taken port, naming it and the setting that moves it,
before starting anything (so they never attach to a server they did not start)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from local_stack.auth_emulator import auth_missing
from local_stack.bigquery_emulator import bigquery_missing
from local_stack.host import FUNCTIONS_DIR
from local_stack.ports import Port, PortUnavailable, free_ports, why_unusable
from local_stack.stack import StackPorts, main, start_stack
from tests.conftest import on_ports
from tests.integration.support import PROJECT

pytestmark = pytest.mark.integration

needs_bigquery = pytest.mark.skipif(
    bigquery_missing() is not None, reason="BigQuery emulator not installed"
)

needs_auth = pytest.mark.skipif(auth_missing() is not None, reason="firebase-tools not installed")


@pytest.fixture
def listen() -> Iterator[Callable[[int], int]]:
    """Listen on a port (0: any free one) until the test ends; returns the port."""
    servers: list[socket.socket] = []

    def on(port: int) -> int:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        servers.append(server)
        server.bind(("127.0.0.1", port))
        server.listen()
        return int(server.getsockname()[1])

    yield on
    for server in servers:
        server.close()


def serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`make serve`'s command with these settings; it must give up at once."""
    return subprocess.run(
        [sys.executable, "-m", "local_stack.stack", "--no-schedules"],
        cwd=FUNCTIONS_DIR,
        env={
            **os.environ,
            "PYTHONPATH": f"{FUNCTIONS_DIR}{os.pathsep}{FUNCTIONS_DIR.parent}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_settings() -> dict[str, str]:
    """FIRESTORE_PORT, FUNCTIONS_PORT, BIGQUERY_PORT (and its + 10), HOSTING_PORT and AUTH_PORT
    (and its + 1 and + 2) all on free ports."""
    while True:
        firestore, functions, bigquery, hosting, auth = ports = free_ports(5)
        extra = (bigquery + 10, auth + 1, auth + 2)
        if all(why_unusable(p) is None and p not in ports for p in extra):
            return {
                "FIRESTORE_PORT": str(firestore),
                "FUNCTIONS_PORT": str(functions),
                "BIGQUERY_PORT": str(bigquery),
                "HOSTING_PORT": str(hosting),
                "AUTH_PORT": str(auth),
            }


@pytest.mark.parametrize(
    ("setting", "offset"),
    [
        ("FIRESTORE_PORT", 0),
        ("FUNCTIONS_PORT", 0),
        pytest.param("BIGQUERY_PORT", 0, marks=needs_bigquery),
        pytest.param("BIGQUERY_PORT", 10, marks=needs_bigquery, id="BIGQUERY_PORT-grpc"),
        ("HOSTING_PORT", 0),
        pytest.param("AUTH_PORT", 0, marks=needs_auth),
        pytest.param("AUTH_PORT", 1, marks=needs_auth, id="AUTH_PORT-hub"),
    ],
)
def test_make_serve_refuses_a_taken_port_and_names_it(
    listen: Callable[[int], int], setting: str, offset: int
) -> None:
    env = free_settings()
    taken = listen(int(env[setting]) + offset)
    started = time.monotonic()
    done = serve(env)
    assert done.returncode == 1, done.stderr
    assert f"cannot start the local stack: port {taken} (" in done.stderr
    assert (
        "is already in use on 127.0.0.1 by another process; stop whatever holds it or choose "
        f"another port with {setting}"
    ) in done.stderr
    assert "ready:" not in done.stdout
    assert time.monotonic() - started < 30
    # Nothing was left running on the other ports.
    assert all(why_unusable(int(port)) is None for name, port in env.items() if name != setting)


def test_main_refuses_a_taken_port_given_as_a_flag(
    listen: Callable[[int], int], capsys: pytest.CaptureFixture[str]
) -> None:
    taken = listen(0)
    functions, bigquery, hosting = free_ports(3)
    argv = ["--firestore-port", str(taken), "--functions-port", str(functions)]
    argv += ["--hosting-port", str(hosting)]
    assert main([*argv, "--bigquery-port", str(bigquery), "--no-schedules"]) == 1
    error = capsys.readouterr().err
    assert f"port {taken} (Firestore emulator) is already in use" in error
    assert "--firestore-port" in error


def test_start_stack_refuses_a_taken_port_before_starting_anything(
    listen: Callable[[int], int],
) -> None:
    taken = listen(0)
    firestore = free_ports(1)[0]
    with pytest.raises(PortUnavailable, match=rf"port {taken} \(functions host\).*FUNCTIONS_PORT"):
        start_stack(PROJECT, StackPorts(firestore, taken), run_schedules=False)
    assert why_unusable(firestore) is None


def test_the_suite_picks_free_ports_again_when_one_is_lost_to_another_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_FIRESTORE_PORT", raising=False)
    tried: list[int] = []

    def start(ports: list[int]) -> int:
        tried.append(ports[0])
        if len(tried) == 1:  # another run bound it between our pick and our bind
            raise PortUnavailable(Port(ports[0], "Firestore emulator", "x"), "was taken")
        return ports[0]

    assert on_ports(("TEST_FIRESTORE_PORT",), start) == tried[-1]
    assert len(tried) == 2


def test_a_pinned_test_port_that_is_taken_is_refused_by_its_setting(
    listen: Callable[[int], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = listen(0)
    monkeypatch.setenv("TEST_FUNCTIONS_PORT", str(taken))
    monkeypatch.delenv("TEST_FIRESTORE_PORT", raising=False)

    def start(ports: list[int]) -> None:
        raise AssertionError(f"started on {ports}")

    with pytest.raises(PortUnavailable, match=rf"port {taken} .*TEST_FUNCTIONS_PORT"):
        on_ports(("TEST_FIRESTORE_PORT", "TEST_FUNCTIONS_PORT"), start)
