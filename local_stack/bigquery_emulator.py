"""The BigQuery API emulator (`bqemulator`, DuckDB-backed) for the export's tests and the
local stack. It lives in its own virtualenv (`.venv-bq`, `make .venv-bq/.installed`) because its
pins must not leak into the functions'; it starts offline once the `spatial` extension shipped
by `duckdb-extension-spatial` sits where DuckDB looks for it, under a HOME the caller owns
(EMULATOR-NOTES).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from local_stack.ports import Port, require_free
from local_stack.stack import REPO_ROOT, StackError, _stop, _wait

BQ_VENV = Path(os.environ.get("BQ_EMULATOR_VENV", REPO_ROOT / ".venv-bq"))
DUCKDB_VERSION = "v1.5.5"
INSTALL_HINT = "run `make .venv-bq/.installed` (installs requirements-bqemulator.txt)"


@dataclass
class BigQueryEmulator:
    """A running emulator; stop() ends it by PID."""

    process: subprocess.Popen[bytes]
    rest_port: int
    project: str

    @property
    def endpoint(self) -> str:
        """The REST endpoint for BIGQUERY_API_ENDPOINT / client_options."""
        return f"http://127.0.0.1:{self.rest_port}"

    def stop(self) -> None:
        """Stop the emulator process."""
        _stop(self.process)

    def __enter__(self) -> BigQueryEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def executable() -> Path:
    """The `bqemulator` script, or StackError naming how to install it."""
    path = BQ_VENV / "bin" / "bqemulator"
    if not path.is_file():
        raise StackError(f"BigQuery emulator not found at {path}: {INSTALL_HINT}")
    return path


def bigquery_missing() -> str | None:
    """Why the emulator cannot run here (not installed), or None."""
    try:
        executable()
    except StackError as error:
        return str(error)
    return None


def _prepare_home(home: Path) -> None:
    """Put the spatial extension where DuckDB looks, so the server never downloads it."""
    shipped = list(
        BQ_VENV.glob(
            f"lib/python3*/site-packages/duckdb_extension_spatial/extensions/{DUCKDB_VERSION}/spatial.duckdb_extension"
        )
    )
    if not shipped:
        raise StackError(f"duckdb-extension-spatial {DUCKDB_VERSION} missing: {INSTALL_HINT}")
    target = home / ".duckdb" / "extensions" / DUCKDB_VERSION / "linux_amd64"
    target.mkdir(parents=True, exist_ok=True)
    if (target / shipped[0].name).is_file():
        return
    # Linked (no copy where the file system allows) or copied under a temporary name, then
    # renamed: a second run preparing the same HOME at once never shows DuckDB half a file.
    part = target / f".{shipped[0].name}.{os.getpid()}.part"
    part.unlink(missing_ok=True)
    try:
        try:
            os.link(shipped[0], part)
        except OSError:
            shutil.copy2(shipped[0], part)
        part.replace(target / shipped[0].name)
    finally:
        part.unlink(missing_ok=True)


def start_bigquery_emulator(
    project: str, rest_port: int, grpc_port: int, work_dir: Path, timeout: float = 60
) -> BigQueryEmulator:
    """Start the emulator in memory on 127.0.0.1 and wait until it answers on both ports;
    PortUnavailable, before starting it, when either is taken."""
    setting = "BIGQUERY_PORT or --bigquery-port"
    ports = (
        Port(rest_port, "BigQuery emulator REST", setting),
        Port(grpc_port, "BigQuery emulator gRPC", setting),
    )
    require_free(ports)
    binary = executable()
    home = work_dir / "home"
    _prepare_home(home)
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / f"bqemulator-{rest_port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            str(binary), "start",
            "--rest-host", "127.0.0.1", "--rest-port", str(rest_port),
            "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc_port),
            "--project", project, "--ephemeral", "--log-level", "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    log.close()  # the child holds its own descriptor
    emulator = BigQueryEmulator(process, rest_port, project)
    try:
        url = f"{emulator.endpoint}/bigquery/v2/projects/{project}/datasets"
        _wait(process, url, None, ports, timeout, log_path)
    except BaseException:
        emulator.stop()
        raise
    return emulator


def optional_bigquery_emulator(
    project: str, rest_port: int, grpc_port: int, work_dir: Path
) -> BigQueryEmulator | None:
    """The emulator when it is installed (`make` installs it), else None with a note on stderr:
    the local stack then runs without BigQuery (BIGQUERY_ENABLED=false)."""
    try:
        return start_bigquery_emulator(project, rest_port, grpc_port, work_dir)
    except StackError as error:
        print(f"no BigQuery emulator ({error}); running without BigQuery", file=sys.stderr)
        return None


def bigquery_env(emulator: BigQueryEmulator | None, project: str) -> dict[str, str]:
    """Settings that point the functions at the emulator (none without one)."""
    if emulator is None:
        return {}
    return {"BIGQUERY_API_ENDPOINT": emulator.endpoint, "BIGQUERY_PROJECT": project}
