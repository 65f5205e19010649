"""The local stack (docs/interfaces.md §5): the Firestore emulator JVM and the functions host,
wired together."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from local_stack.auth_emulator import AuthEmulator, start_auth_emulator
from local_stack.host import FUNCTIONS_DIR, scheduler_headers
from local_stack.ports import (
    Port,
    PortUnavailable,
    owns_listener,
    require_free,
    why_unusable,
)

REPO_ROOT = FUNCTIONS_DIR.parent
EMULATOR_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
INSTALL_HINT = (
    "install Java 11+ (e.g. `apt-get install openjdk-17-jre-headless`) and the Firestore emulator "
    "(`gcloud components install cloud-firestore-emulator`), or set FIRESTORE_EMULATOR_JAR"
)


DEFAULT_FIRESTORE_PORT = 8080
DEFAULT_FUNCTIONS_PORT = 5001
DEFAULT_BIGQUERY_PORT = 9050  # REST; gRPC on the port + 10
DEFAULT_HOSTING_PORT = 5000
DEFAULT_AUTH_PORT = 9099  # the emulator hub and its logging take the two ports above
BIGQUERY_GRPC_OFFSET = 10


class StackError(RuntimeError):
    """The local stack could not start."""


def port_setting(setting: str, default: int) -> int:
    """The port in environment variable `setting`, else `default`."""
    value = os.environ.get(setting, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise StackError(f"{setting}={value!r} is not a port number (1-65535)")
    return int(value)


def firestore_port_of(firestore_port: int | None) -> Port:
    """The Firestore emulator's port: as given, else FIRESTORE_PORT, else 8080."""
    number = firestore_port or port_setting("FIRESTORE_PORT", DEFAULT_FIRESTORE_PORT)
    return Port(number, "Firestore emulator", "FIRESTORE_PORT or --firestore-port")


def functions_port_of(functions_port: int | None) -> Port:
    """The functions host's port: as given, else FUNCTIONS_PORT, else 5001."""
    number = functions_port or port_setting("FUNCTIONS_PORT", DEFAULT_FUNCTIONS_PORT)
    return Port(number, "functions host", "FUNCTIONS_PORT or --functions-port")


def hosting_port_of(hosting_port: int | None) -> Port:
    """The console's port: as given, else HOSTING_PORT, else 5000."""
    number = hosting_port or port_setting("HOSTING_PORT", DEFAULT_HOSTING_PORT)
    return Port(number, "console (hosting)", "HOSTING_PORT or --hosting-port")


def auth_ports_of(auth_port: int | None) -> tuple[Port, Port, Port]:
    """The Auth emulator's port (AUTH_PORT, else 9099) and the hub and logging ports above it."""
    number = auth_port or port_setting("AUTH_PORT", DEFAULT_AUTH_PORT)
    setting = "AUTH_PORT or --auth-port"
    return (
        Port(number, "Auth emulator", setting),
        Port(number + 1, "emulator hub, AUTH_PORT + 1", setting),
        Port(number + 2, "emulator logging, AUTH_PORT + 2", setting),
    )


def bigquery_ports_of(rest_port: int | None) -> tuple[Port, Port]:
    """The BigQuery emulator's REST and gRPC ports: REST as given, else BIGQUERY_PORT, else
    9050; gRPC 10 above it."""
    rest = rest_port or port_setting("BIGQUERY_PORT", DEFAULT_BIGQUERY_PORT)
    setting = "BIGQUERY_PORT or --bigquery-port"
    return (
        Port(rest, "BigQuery emulator REST", setting),
        Port(rest + BIGQUERY_GRPC_OFFSET, "BigQuery emulator gRPC, BIGQUERY_PORT + 10", setting),
    )


def emulator_jar() -> Path:
    """The Firestore emulator jar, or StackError naming what to install."""
    configured = os.environ.get("FIRESTORE_EMULATOR_JAR")
    if configured:
        path = Path(configured)
    else:
        if shutil.which("gcloud") is None:
            raise StackError(f"gcloud not found on PATH: {INSTALL_HINT}")
        root = subprocess.run(
            ["gcloud", "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        ).stdout.strip()
        path = Path(root) / "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
    if not path.is_file():
        raise StackError(f"Firestore emulator jar not found at {path}: {INSTALL_HINT}")
    return path


def check_java() -> str:
    """Path of java, or StackError naming what to install."""
    java = shutil.which("java")
    if java is None:
        raise StackError(f"java not found on PATH: {INSTALL_HINT}")
    return java


def local_ports(
    firestore_port: int | None,
    functions_port: int | None,
    bigquery_port: int | None,
    bigquery: bool,
    console: ConsolePorts | None = None,
    storage: Port | None = None,
) -> list[Port]:
    """Every port `make serve` and `make demo` bind (Firestore, functions, then BigQuery's REST
    and gRPC when `bigquery`, then the console's and the Auth emulator's when given, then the
    Cloud Storage emulator's when given), checked free before anything starts, so a taken one is
    refused without leaving half a stack behind."""
    ports = [firestore_port_of(firestore_port), functions_port_of(functions_port)]
    if bigquery:
        ports.extend(bigquery_ports_of(bigquery_port))
    if console is not None:
        ports.append(hosting_port_of(console.hosting))
        if console.auth is not None:
            ports.extend(auth_ports_of(console.auth))
    if storage is not None:
        ports.append(storage)
    require_free(ports)
    return ports


@dataclass(frozen=True)
class ConsolePorts:
    """The console's port and the Auth emulator's (None: no Auth emulator); 0 takes the
    setting or default."""

    hosting: int = 0
    auth: int | None = 0


def _wait(
    process: subprocess.Popen[Any],
    url: str,
    expect: str | None,
    ports: tuple[Port, ...],
    timeout: float,
    log: Path,
) -> None:
    """Wait until `url` answers from `process` itself and it listens on every one of `ports`
    (the first is the one `url` is on)."""
    deadline = time.monotonic() + timeout
    what = ports[0].what
    while time.monotonic() < deadline:
        if process.poll() is not None:
            for port in ports:
                # Free when we checked, taken now: someone bound it first and our child lost.
                reason = why_unusable(port.number)
                if reason is not None:
                    raise PortUnavailable(port, f"was taken while the stack started ({reason})")
            raise StackError(f"{what} exited with {process.returncode}; see {log}")
        try:
            response = requests.get(url, timeout=1)
        except requests.RequestException:
            response = None
        if response is not None and response.ok and (expect is None or expect in response.text):
            # An answer proves only that someone listens: it must be our child (where /proc can
            # tell), never a server another run started on the port after our check.
            owners = [owns_listener(process.pid, port.number) for port in ports]
            if owners[0] is False:
                raise PortUnavailable(ports[0], "is answered by a process the stack did not start")
            if all(owner is not False for owner in owners) and process.poll() is None:
                return
        time.sleep(0.1)
    raise StackError(f"{what} did not get ready at {url} within {timeout} s; see {log}")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class LocalStack:
    """A running emulator and functions host; stop() ends both by PID."""

    project: str
    firestore_port: int
    functions_port: int
    host_process: subprocess.Popen[bytes]
    emulator_process: subprocess.Popen[bytes] | None = None
    logs: list[IO[bytes]] = field(default_factory=list)
    # How the host was started, so a test can stop it (deliveries then fail, as when every
    # instance crashes) and start it again on the same port.
    host_command: list[str] = field(default_factory=list)
    host_env: dict[str, str] = field(default_factory=dict)
    # The operator console (served by the host) and the Auth emulator, when started.
    hosting_port: int | None = None
    auth: AuthEmulator | None = None

    @property
    def console_url(self) -> str | None:
        """The console's URL, when the host serves it."""
        return None if self.hosting_port is None else f"http://127.0.0.1:{self.hosting_port}"

    def stop_host(self) -> None:
        """Stop the functions host only (the emulator keeps running; its deliveries fail)."""
        _stop(self.host_process)

    def start_host(self) -> None:
        """Start the functions host again on its port and wait until it answers."""
        functions = functions_port_of(self.functions_port)
        require_free((functions,))
        self.host_process = subprocess.Popen(
            self.host_command,
            cwd=FUNCTIONS_DIR,
            stdout=self.logs[0],
            stderr=subprocess.STDOUT,
            env=self.host_env,
        )
        log_path = Path(self.logs[0].name)
        _wait(
            self.host_process, f"{self.functions_base}/__/health", "ok", (functions,), 60, log_path
        )

    @property
    def firestore_host(self) -> str:
        """host:port for FIRESTORE_EMULATOR_HOST."""
        return f"127.0.0.1:{self.firestore_port}"

    @property
    def functions_base(self) -> str:
        """Base URL of the functions host."""
        return f"http://127.0.0.1:{self.functions_port}"

    def functions_url(self, name: str, path: str = "") -> str:
        """URL of an HTTP function."""
        return f"{self.functions_base}/{self.project}/us-central1/{name}{path}"

    def emulator_url(self, path: str) -> str:
        """URL on the Firestore emulator."""
        return f"http://{self.firestore_host}{path}"

    def run_schedule(
        self, function: str, when: dt.datetime | None = None, timeout: float = 600
    ) -> requests.Response:
        """Run a scheduled function for the tick `when` (default now), as Cloud Scheduler does."""
        return requests.post(
            self.functions_url(function),
            headers=scheduler_headers(function, when or dt.datetime.now(dt.UTC)),
            timeout=timeout,
        )

    def stats(self) -> dict[str, Any]:
        """The functions host's counters: trigger deliveries and store operations."""
        response = requests.get(f"{self.functions_base}/__/stats", timeout=10)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def wipe(self) -> None:
        """Delete every document (the emulator fires delete events for them)."""
        url = self.emulator_url(
            f"/emulator/v1/projects/{self.project}/databases/(default)/documents"
        )
        requests.delete(url, timeout=30).raise_for_status()

    def register_triggers(self) -> list[str]:
        """Register one Eventarc trigger per Firestore-triggered function the host serves."""
        functions = requests.get(f"{self.functions_base}/__/functions.json", timeout=10).json()
        registered = []
        for function in functions:
            if function["kind"] != "event":
                continue
            self.register_trigger(function["name"], function["eventType"], function["document"])
            registered.append(function["name"])
        return registered

    def register_trigger(self, trigger_id: str, event_type: str, document: str) -> None:
        """Register one trigger (triggers last as long as the emulator)."""
        url = self.emulator_url(
            f"/emulator/v1/projects/{self.project}/eventarcTrigger?eventarcTriggerId={trigger_id}"
        )
        body = {
            "eventType": event_type,
            "database": "(default)",
            "namespace": "(default)",
            "document": {"value": document, "matchType": "PATH_PATTERN"},
        }
        # One try with a long read timeout rather than retries: a registration the emulator
        # finished after a timed-out request could register the trigger twice. A JVM starting
        # on a loaded machine has taken over 10 s to answer the first registration.
        requests.post(url, json=body, timeout=(10, 60)).raise_for_status()

    def stop(self) -> None:
        """Stop the emulator, then the host, then the Auth emulator."""
        _stop(self.emulator_process)
        _stop(self.host_process)
        if self.auth is not None:
            self.auth.stop()
        for log_file in self.logs:
            log_file.close()


@dataclass(frozen=True)
class StackPorts:
    """The ports a stack asks for: Firestore's and the functions host's (None: the configured
    ones), the console's on the host and the Auth emulator's (None: not started)."""

    firestore: int | None = None
    functions: int | None = None
    hosting: int | None = None
    auth: int | None = None


def start_stack(
    project: str = "demo-cvplus",
    ports: StackPorts = StackPorts(),
    rules_path: Path | None = None,
    run_schedules: bool = True,
    log_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> LocalStack:
    """Start the Auth emulator when `ports.auth` is given, the functions host (serving the
    console too when `ports.hosting` is given), then the Firestore emulator pointed at it, then
    register triggers; PortUnavailable, before starting anything, when a port is taken."""
    hosting_port = ports.hosting
    firestore = firestore_port_of(ports.firestore)
    functions = functions_port_of(ports.functions)
    host_ports = [functions]
    if hosting_port is not None:
        host_ports.append(hosting_port_of(hosting_port))
    auth_ports = auth_ports_of(ports.auth) if ports.auth is not None else ()
    require_free((firestore, *host_ports, *auth_ports))
    firestore_port, functions_port = firestore.number, functions.number
    java = check_java()
    jar = emulator_jar()
    log_dir = log_dir or REPO_ROOT / ".stack"
    log_dir.mkdir(parents=True, exist_ok=True)
    host_log_path = log_dir / f"functions-{functions_port}.log"
    emulator_log_path = log_dir / f"firestore-{firestore_port}.log"
    host_log = host_log_path.open("ab")
    emulator_log = emulator_log_path.open("ab")
    command = [
        sys.executable, "-m", "local_stack.host", "--project", project,
        "--port", str(functions_port), "--firestore-port", str(firestore_port),
    ]  # fmt: skip
    if not run_schedules:
        command.append("--no-schedules")
    if hosting_port is not None:
        command += ["--hosting-port", str(host_ports[1].number)]
    auth = None
    if auth_ports:
        auth = start_auth_emulator(project, auth_ports[0].number, log_dir)
        command += ["--auth-port", str(auth.port)]
    child_env = {**os.environ, **(env or {})}
    if auth is not None:
        child_env["FIREBASE_AUTH_EMULATOR_HOST"] = auth.host
    # Callers' accounts are checked only when asked for (the integration tests, with the Auth
    # emulator): the demo traffic and benchmarks call with tokens of users that do not exist.
    child_env.setdefault("AUTH_ACCOUNT_CHECKS", "false")
    # Without a BigQuery emulator to talk to, the local stack has no BigQuery (erasure skips it).
    child_env.setdefault("BIGQUERY_ENABLED", str("BIGQUERY_API_ENDPOINT" in child_env).lower())
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(FUNCTIONS_DIR), str(REPO_ROOT), child_env.get("PYTHONPATH", "")) if p
    )
    host = subprocess.Popen(
        command, cwd=FUNCTIONS_DIR, stdout=host_log, stderr=subprocess.STDOUT, env=child_env
    )
    stack = LocalStack(
        project,
        firestore_port,
        functions_port,
        host,
        logs=[host_log, emulator_log],
        host_command=command,
        host_env=child_env,
        hosting_port=host_ports[1].number if hosting_port is not None else None,
        auth=auth,
    )
    try:
        # The host must listen before the emulator starts delivering.
        _wait(host, f"{stack.functions_base}/__/health", "ok", tuple(host_ports), 60, host_log_path)
        emulator_command = [
            java, "-Duser.language=en", "-cp", str(jar), EMULATOR_MAIN, "start",
            "--host=127.0.0.1", f"--port={firestore_port}", f"--project_id={project}",
            f"--functions_emulator=127.0.0.1:{functions_port}",
        ]  # fmt: skip
        if rules_path is not None:
            emulator_command.append(f"--rules={rules_path}")
        stack.emulator_process = subprocess.Popen(
            emulator_command, stdout=emulator_log, stderr=subprocess.STDOUT
        )
        _wait(
            stack.emulator_process, stack.emulator_url("/"), "Ok", (firestore,), 60,
            emulator_log_path,
        )  # fmt: skip
        stack.register_triggers()
    except BaseException:
        stack.stop()
        raise
    return stack


def main(argv: list[str] | None = None) -> int:
    """`make serve`: start the stack, print where it is, stop everything on Ctrl-C/SIGTERM."""
    from local_stack.launch import LaunchError, add_stack_arguments, default_env, launch

    parser = argparse.ArgumentParser(description="Run the local stack (docs/interfaces.md §5)")
    add_stack_arguments(parser)
    parser.add_argument("--no-schedules", action="store_true")
    args = parser.parse_args(argv)
    try:
        launched = launch(
            args,
            lambda warehouse: default_env(warehouse, args.project),
            run_schedules=not args.no_schedules,
        )
    except LaunchError as error:
        print(f"cannot start the local stack: {error}", file=sys.stderr)
        return 1
    stack, warehouse = launched.stack, launched.warehouse
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # Ctrl-C stops the stack even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for line in launched.console_lines():
        print(line, flush=True)
    bigquery_note = f", bigquery {warehouse.endpoint}" if warehouse is not None else ""
    print(
        f"ready: firestore {stack.firestore_host}, functions "
        f"{stack.functions_base}/{stack.project}/us-central1/{bigquery_note}, console "
        f"{stack.console_url}/ (logs in .stack/; Ctrl-C stops)",
        flush=True,
    )
    try:
        while stack.host_process.poll() is None and (
            stack.emulator_process is None or stack.emulator_process.poll() is None
        ):
            time.sleep(0.5)
        print("a child process exited; stopping the stack", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        launched.stop()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
