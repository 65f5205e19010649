"""The Firebase Auth emulator (from the project's pinned firebase-tools, `npm ci`), its demo users,
and sign-in through its REST API (docs/interfaces.md §9).

The emulator issues unsigned ID tokens (`alg: none`) that the functions accept because the stack
sets FIREBASE_AUTH_EMULATOR_HOST. Users get their role as the custom claim `role`, set with
`accounts:update` and the emulator's `Bearer owner` credential.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
FIREBASE_CLI = REPO_ROOT / "node_modules" / ".bin" / "firebase"
API_KEY = "demo-api-key"  # the emulator accepts any key
INSTALL_HINT = "run `npm ci` in the repository root (make does it), which installs firebase-tools"


class AuthEmulatorError(RuntimeError):
    """The Auth emulator could not start or refused a request."""


@dataclass(frozen=True)
class DemoUser:
    """A user the local stack creates: email, password and role (None: signed in, no role)."""

    email: str
    password: str
    role: str | None


DEMO_USERS = (
    DemoUser("admin@example.com", "admin-demo-pass", "admin"),
    DemoUser("analyst@example.com", "analyst-demo-pass", "analytics"),
    DemoUser("visitor@example.com", "visitor-demo-pass", None),
)


def auth_missing() -> str | None:
    """Why the Auth emulator cannot start here, or None."""
    if shutil.which("node") is None:
        return "node not found on PATH (apt-get install nodejs npm)"
    if not FIREBASE_CLI.exists():
        return f"{FIREBASE_CLI} not found: {INSTALL_HINT}"
    return None


def support_ports(port: int) -> tuple[int, int]:
    """The emulator hub's and logging ports the CLI also binds: the two above the Auth port."""
    return port + 1, port + 2


@dataclass
class AuthEmulator:
    """A running Auth emulator; stop() ends it by PID."""

    project: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def host(self) -> str:
        """host:port for FIREBASE_AUTH_EMULATOR_HOST."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{self.host}"

    def stop(self) -> None:
        """Stop the CLI (it stops its emulator) and close the log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    def create_user(self, email: str, password: str, role: str | None) -> str:
        """Sign up a user and set its role claim; its uid."""
        body = self._call("accounts:signUp", f"sign up {email}", email, password)
        uid = str(body["localId"])
        if role is not None:
            self.set_claims(uid, {"role": role})
        return uid

    def set_claims(self, uid: str, claims: dict[str, Any]) -> None:
        """Replace a user's custom claims."""
        response = requests.post(
            f"{self.url}/identitytoolkit.googleapis.com/v1/projects/{self.project}/accounts:update",
            headers={"Authorization": "Bearer owner"},
            json={"localId": uid, "customAttributes": json.dumps(claims)},
            timeout=10,
        )
        _check(response, f"set claims of {uid}")

    def sign_in(self, email: str, password: str) -> str:
        """An ID token for the user, as the console's sign-in gets it."""
        body = self._call("accounts:signInWithPassword", f"sign in {email}", email, password)
        return str(body["idToken"])

    def _call(self, method: str, what: str, email: str, password: str) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/identitytoolkit.googleapis.com/v1/{method}",
            params={"key": API_KEY},
            json={"email": email, "password": password, "returnSecureToken": True},
            timeout=10,
        )
        _check(response, what)
        body: dict[str, Any] = response.json()
        return body

    def seed_demo_users(self) -> list[DemoUser]:
        """Create the demo users (the emulator starts empty every time)."""
        for user in DEMO_USERS:
            self.create_user(user.email, user.password, user.role)
        return list(DEMO_USERS)


def _check(response: requests.Response, what: str) -> None:
    if not response.ok:
        raise AuthEmulatorError(f"Auth emulator refused to {what}: {response.text[:300]}")


def start_auth_emulator(
    project: str, port: int, log_dir: Path, timeout: float = 90
) -> AuthEmulator:
    """Start `firebase emulators:start --only auth` on `port` (hub and logging on the two ports
    above it) with a config of its own in `log_dir`, and wait until it answers."""
    missing = auth_missing()
    if missing is not None:
        raise AuthEmulatorError(missing)
    hub, logging_port = support_ports(port)
    log_dir.mkdir(parents=True, exist_ok=True)
    config = log_dir / f"firebase-auth-{port}.json"
    config.write_text(
        json.dumps(
            {
                "emulators": {
                    "auth": {"host": "127.0.0.1", "port": port},
                    "hub": {"host": "127.0.0.1", "port": hub},
                    "logging": {"host": "127.0.0.1", "port": logging_port},
                    "ui": {"enabled": False},
                    "singleProjectMode": True,
                }
            }
        )
    )
    log = (log_dir / f"auth-{port}.log").open("ab")
    env = {**os.environ, "NO_UPDATE_NOTIFIER": "1", "FIREBASE_CLI_DISABLE_UPDATE_CHECK": "true"}
    env.pop("FIREBASE_AUTH_EMULATOR_HOST", None)
    process = subprocess.Popen(
        [str(FIREBASE_CLI), "emulators:start", "--only", "auth", "--project", project,
         "--config", str(config)],
        cwd=log_dir, stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    emulator = AuthEmulator(project, port, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            emulator.stop()
            raise AuthEmulatorError(f"the Auth emulator exited; see {log.name}")
        try:
            if requests.get(emulator.url, timeout=1).json().get("authEmulator", {}).get("ready"):
                return emulator
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.2)
    emulator.stop()
    raise AuthEmulatorError(f"the Auth emulator did not answer within {timeout} s; see {log.name}")
