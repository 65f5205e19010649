"""The local stack (CONTRACT §5): Firestore emulator JVM + functions host, wired together."""

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

from video_monitoring.local.host import FUNCTIONS_DIR, scheduler_headers

REPO_ROOT = FUNCTIONS_DIR.parent
EMULATOR_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
INSTALL_HINT = (
    "install Java 11+ (e.g. `apt-get install openjdk-17-jre-headless`) and the Firestore emulator "
    "(`gcloud components install cloud-firestore-emulator`), or set FIRESTORE_EMULATOR_JAR"
)


class StackError(RuntimeError):
    """The local stack could not start."""


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


def _wait(url: str, expect: str | None, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"process for {url} exited with {process.returncode}; see its log")
        try:
            response = requests.get(url, timeout=1)
            if response.ok and (expect is None or expect in response.text):
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise StackError(f"{url} did not answer within {timeout} s")


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
        requests.post(url, json=body, timeout=10).raise_for_status()

    def stop(self) -> None:
        """Stop the emulator, then the host."""
        _stop(self.emulator_process)
        _stop(self.host_process)
        for log_file in self.logs:
            log_file.close()


def start_stack(
    project: str = "demo-cvplus",
    firestore_port: int | None = None,
    functions_port: int | None = None,
    rules_path: Path | None = None,
    run_schedules: bool = True,
    log_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> LocalStack:
    """Start the functions host, then the emulator pointed at it, then register triggers."""
    java = check_java()
    jar = emulator_jar()
    firestore_port = firestore_port or int(os.environ.get("FIRESTORE_PORT", 8080))
    functions_port = functions_port or int(os.environ.get("FUNCTIONS_PORT", 5001))
    log_dir = log_dir or REPO_ROOT / ".stack"
    log_dir.mkdir(parents=True, exist_ok=True)
    host_log = open(log_dir / f"functions-{functions_port}.log", "ab")  # noqa: SIM115
    emulator_log = open(log_dir / f"firestore-{firestore_port}.log", "ab")  # noqa: SIM115
    command = [
        sys.executable, "-m", "video_monitoring.local.host", "--project", project,
        "--port", str(functions_port), "--firestore-port", str(firestore_port),
    ]  # fmt: skip
    if not run_schedules:
        command.append("--no-schedules")
    child_env = {**os.environ, **(env or {})}
    # Without a BigQuery emulator to talk to, the local stack has no BigQuery (erasure skips it).
    child_env.setdefault("BIGQUERY_ENABLED", str("BIGQUERY_API_ENDPOINT" in child_env).lower())
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(FUNCTIONS_DIR), child_env.get("PYTHONPATH", "")) if p
    )
    host = subprocess.Popen(
        command, cwd=FUNCTIONS_DIR, stdout=host_log, stderr=subprocess.STDOUT, env=child_env
    )
    stack = LocalStack(project, firestore_port, functions_port, host, logs=[host_log, emulator_log])
    try:
        # The host must listen before the emulator starts delivering.
        _wait(f"{stack.functions_base}/__/health", "ok", 60, host)
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
        _wait(stack.emulator_url("/"), "Ok", 60, stack.emulator_process)
        stack.register_triggers()
    except BaseException:
        stack.stop()
        raise
    return stack


def main(argv: list[str] | None = None) -> int:
    """`make serve`: start the stack, print one ready line, stop everything on Ctrl-C/SIGTERM."""
    parser = argparse.ArgumentParser(description="Run the local stack (CONTRACT §5)")
    parser.add_argument("--project", default="demo-cvplus")
    parser.add_argument("--firestore-port", type=int, default=None)
    parser.add_argument("--functions-port", type=int, default=None)
    parser.add_argument("--no-schedules", action="store_true")
    parser.add_argument("--bigquery-port", type=int, default=9050)
    args = parser.parse_args(argv)
    from video_monitoring.local.bigquery_emulator import bigquery_env, optional_bigquery_emulator

    warehouse = optional_bigquery_emulator(
        args.project, args.bigquery_port, args.bigquery_port + 10, REPO_ROOT / ".stack" / "bigquery"
    )
    try:
        stack = start_stack(
            args.project,
            args.firestore_port,
            args.functions_port,
            rules_path=REPO_ROOT / "firestore.rules",
            run_schedules=not args.no_schedules,
            env=bigquery_env(warehouse, args.project),
        )
    except StackError as error:
        if warehouse is not None:
            warehouse.stop()
        print(f"cannot start the local stack: {error}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # Ctrl-C stops the stack even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    bigquery = f", bigquery {warehouse.endpoint}" if warehouse is not None else ""
    print(
        f"ready: firestore {stack.firestore_host}, functions "
        f"{stack.functions_base}/{stack.project}/us-central1/{bigquery} (logs in .stack/; "
        "Ctrl-C stops)",
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
        stack.stop()
        if warehouse is not None:
            warehouse.stop()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
