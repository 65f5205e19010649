"""A Cloud Storage emulator for background exports: `gcp-storage-emulator` (pure Python, the GCS
JSON API the real google-cloud-storage client speaks through STORAGE_EMULATOR_HOST), in memory on
127.0.0.1 with the exports bucket created.

Not the Firebase Storage emulator: firebase-tools starts a storage rules runtime (a jar it
downloads on first use) with it, and nothing may download at run time (docs/exports.md).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from local_stack.ports import Port, require_free
from local_stack.stack import StackError, _stop, _wait, port_setting

DEFAULT_STORAGE_PORT = 9199  # the Firebase Storage emulator's default
BUCKET = "demo-cvplus-exports"
INSTALL_HINT = "install the development requirements (requirements.txt: gcp-storage-emulator)"


@dataclass
class StorageEmulator:
    """A running emulator; stop() ends it by PID."""

    process: subprocess.Popen[bytes]
    port: int
    bucket: str

    @property
    def host(self) -> str:
        """STORAGE_EMULATOR_HOST (with its scheme, as the client expects)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Settings pointing the functions at the emulator and its bucket."""
        return {"STORAGE_EMULATOR_HOST": self.host, "EXPORT_BUCKET": self.bucket}

    def stop(self) -> None:
        """Stop the emulator process."""
        _stop(self.process)


def storage_port_of(storage_port: int | None) -> Port:
    """The emulator's port: as given, else STORAGE_PORT, else 9199."""
    number = storage_port or port_setting("STORAGE_PORT", DEFAULT_STORAGE_PORT)
    return Port(number, "Cloud Storage emulator", "STORAGE_PORT or --storage-port")


def storage_missing() -> str | None:
    """Why the emulator cannot run here (not installed), or None."""
    if importlib.util.find_spec("gcp_storage_emulator") is None:
        return f"gcp-storage-emulator not installed: {INSTALL_HINT}"
    return None


def start_storage_emulator(
    port: Port, log_dir: Path, bucket: str = BUCKET, timeout: float = 30
) -> StorageEmulator:
    """Start the emulator on 127.0.0.1 and wait until it answers; PortUnavailable, before
    starting it, when the port is taken; StackError when it is not installed."""
    missing = storage_missing()
    if missing is not None:
        raise StackError(missing)
    require_free((port,))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"storage-{port.number}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gcp_storage_emulator", "start",
                "--host", "127.0.0.1", "--port", str(port.number),
                "--in-memory", "--default-bucket", bucket, "--quiet",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    emulator = StorageEmulator(process, port.number, bucket)
    try:
        _wait(process, f"{emulator.host}/", "OK", (port,), timeout, log_path)
    except BaseException:
        emulator.stop()
        raise
    return emulator
