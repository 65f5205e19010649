"""Ports of the local stack, on real sockets of 127.0.0.1: free ports, refusing taken ones, and
never taking someone else's server for one the stack started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from local_stack.ports import (
    Port,
    PortUnavailable,
    free_ports,
    owns_listener,
    require_free,
    why_unusable,
)
from local_stack.stack import StackError, _wait, port_setting

linux_only = pytest.mark.skipif(
    owns_listener(os.getpid(), 1) is None, reason="needs /proc to tell who listens"
)


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something listens on for the test's duration."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def child(code: str) -> subprocess.Popen[str]:
    """A Python child process running `code` (stopped by the test, by its PID)."""
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def end(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


def test_free_ports_are_distinct_and_can_be_listened_on() -> None:
    ports = free_ports(4)
    assert len(set(ports)) == 4
    for port in ports:
        assert why_unusable(port) is None
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            server.bind(("127.0.0.1", port))
            server.listen()
            assert why_unusable(port) == "is already in use on 127.0.0.1 by another process"
        assert why_unusable(port) is None


def test_a_listener_on_every_address_takes_the_port_too() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("0.0.0.0", 0))
        server.listen()
        assert why_unusable(server.getsockname()[1]) is not None


def test_a_port_bound_without_listening_is_unusable_too() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        assert why_unusable(holder.getsockname()[1]) is not None


def test_require_free_names_the_taken_port_and_the_setting_that_moves_it(taken: int) -> None:
    free = free_ports(1)[0]
    with pytest.raises(PortUnavailable) as refused:
        require_free(
            [
                Port(free, "functions host", "FUNCTIONS_PORT"),
                Port(taken, "Firestore emulator", "FIRESTORE_PORT"),
            ]
        )
    assert refused.value.port.number == taken
    message = str(refused.value)
    assert message.startswith(f"port {taken} (Firestore emulator) is already in use")
    assert "FIRESTORE_PORT" in message
    require_free([Port(free, "functions host", "FUNCTIONS_PORT")])  # a free port passes


def test_require_free_refuses_one_port_for_two_servers() -> None:
    port = free_ports(1)[0]
    with pytest.raises(PortUnavailable, match=rf"port {port} \(BigQuery.*also the Firestore"):
        require_free(
            [Port(port, "Firestore emulator", "FIRESTORE_PORT"), Port(port, "BigQuery", "BQ")]
        )


def test_port_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOME_PORT", raising=False)
    assert port_setting("SOME_PORT", 9050) == 9050
    monkeypatch.setenv("SOME_PORT", " 9100 ")
    assert port_setting("SOME_PORT", 9050) == 9100
    for bad in ("http", "0", "70000", "-1"):
        monkeypatch.setenv("SOME_PORT", bad)
        with pytest.raises(StackError, match="SOME_PORT"):
            port_setting("SOME_PORT", 9050)


@linux_only
def test_a_listener_belongs_to_the_process_that_holds_it_and_its_ancestors(taken: int) -> None:
    assert owns_listener(os.getpid(), taken) is True
    sleeper = child("import time; time.sleep(60)")
    listener = child(
        "import socket, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True); time.sleep(60)"
    )
    try:
        assert listener.stdout is not None
        port = int(listener.stdout.readline())
        assert owns_listener(sleeper.pid, taken) is False
        assert owns_listener(listener.pid, port) is True
        assert owns_listener(os.getpid(), port) is True  # a descendant's listener
        assert owns_listener(listener.pid, taken) is False
    finally:
        end(sleeper)
        end(listener)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"Ok")

    def log_message(self, format: str, *args: object) -> None:
        return


@linux_only
def test_readiness_is_never_satisfied_by_a_server_the_stack_did_not_start(
    tmp_path: Path,
) -> None:
    foreign = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    port = int(foreign.server_address[1])
    ours = child("import time; time.sleep(60)")  # started, but never listens there
    try:
        with pytest.raises(PortUnavailable, match=rf"port {port} .*did not start.*FIRESTORE_PORT"):
            _wait(
                ours,
                f"http://127.0.0.1:{port}/",
                "Ok",
                (Port(port, "Firestore emulator", "FIRESTORE_PORT"),),
                10,
                tmp_path / "log",
            )
    finally:
        end(ours)
        foreign.shutdown()
        foreign.server_close()


def test_a_child_that_lost_its_port_to_another_process_is_reported_as_such(
    taken: int, tmp_path: Path
) -> None:
    lost = child("raise SystemExit(1)")
    lost.wait(timeout=10)
    with pytest.raises(PortUnavailable, match=rf"port {taken} .*was taken"):
        _wait(
            lost,
            f"http://127.0.0.1:{taken}/",
            None,
            (Port(taken, "functions host", "FUNCTIONS_PORT"),),
            10,
            tmp_path / "log",
        )
    end(lost)
    port = free_ports(1)[0]
    crashed = child("raise SystemExit(3)")
    crashed.wait(timeout=10)
    with pytest.raises(StackError, match=rf"exited with 3; see {tmp_path / 'log'}"):
        _wait(
            crashed,
            f"http://127.0.0.1:{port}/",
            None,
            (Port(port, "functions host", "FUNCTIONS_PORT"),),
            10,
            tmp_path / "log",
        )
    end(crashed)
