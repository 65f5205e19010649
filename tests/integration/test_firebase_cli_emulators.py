"""The same codebase under the Firebase CLI's own emulators (firebase-tools pinned in
package-lock.json): `firebase emulators:start --only functions,firestore,auth` discovers the
functions from functions/ (with functions/venv), delivers the Firestore trigger, and the
dashboard answers with the Auth emulator's tokens. Java 17 runs the gcloud Firestore emulator
through a one-file wrapper jar (its manifest names the main class and puts the gcloud jar on the
class path), so nothing is downloaded."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore

from local_stack.ports import free_ports
from local_stack.stack import EMULATOR_MAIN, REPO_ROOT, StackError, emulator_jar
from local_stack.tokens import emulator_token
from tests.integration.support import Accounts

pytestmark = pytest.mark.integration
FIREBASE = REPO_ROOT / "node_modules" / ".bin" / "firebase"
VENV_PYTHON = REPO_ROOT / "functions" / "venv" / "bin" / "python"
PROJECT = "demo-cvplus"


def wrapper_jar(folder: Path) -> Path:
    """A jar whose manifest starts the gcloud emulator jar's main class."""
    jar = folder / "firestore-emulator-wrapper.jar"
    manifest = (
        "Manifest-Version: 1.0\r\n"
        f"Main-Class: {EMULATOR_MAIN}\r\n"
        f"Class-Path: {emulator_jar().as_uri()}\r\n\r\n"
    )
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", manifest)
    return jar


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    missing = [p for p in (FIREBASE, VENV_PYTHON) if not p.exists()]
    try:
        emulator_jar()
    except StackError as error:
        missing.append(Path(str(error)))
    if missing:
        if os.environ.get("CI"):
            raise AssertionError(f"CI must run the Firebase CLI test; missing {missing}")
        pytest.skip(f"needs `make test`'s installs: missing {missing}")
    folder = tmp_path_factory.mktemp("firebase-cli")
    ports = free_ports(8)
    firestore_port, functions_port, auth_port = ports[:3]
    # firebase.json's own sections, on free ports (the CLI wants the config in the project
    # folder, so this copy sits beside it for the test's duration).
    config = json.loads((REPO_ROOT / "firebase.json").read_text())
    config.pop("hosting", None)
    config["emulators"] = {
        name: {"host": "127.0.0.1", "port": port}
        for name, port in zip(
            ("firestore", "functions", "auth", "hub", "logging", "eventarc", "tasks"), ports[:7],
            strict=True,
        )
    } | {"ui": {"enabled": False}, "singleProjectMode": True}  # fmt: skip
    config["emulators"]["firestore"]["websocketPort"] = ports[7]
    config_path = REPO_ROOT / f".firebase-cli-test-{os.getpid()}.json"
    config_path.write_text(json.dumps(config))
    log = (folder / "emulators.log").open("wb")
    env = {
        **os.environ,
        "FIRESTORE_EMULATOR_BINARY_PATH": str(wrapper_jar(folder)),
        "NO_UPDATE_NOTIFIER": "1",
        "FIREBASE_CLI_DISABLE_UPDATE_CHECK": "true",
    }
    for name in ("FIRESTORE_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST", "GCLOUD_PROJECT"):
        env.pop(name, None)
    process = subprocess.Popen(
        [str(FIREBASE), "emulators:start", "--only", "functions,firestore,auth",
         "--project", PROJECT, "--config", str(config_path)],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while "All emulators ready" not in (folder / "emulators.log").read_text(errors="ignore"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "the Firebase CLI's emulators did not start: "
                    + (folder / "emulators.log").read_text(errors="ignore")[-3000:]
                )
            time.sleep(0.5)
        yield {"firestore": firestore_port, "functions": functions_port, "auth": auth_port}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)  # the CLI stops its emulators on SIGINT
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
        config_path.unlink(missing_ok=True)


def test_a_generation_written_under_the_cli_emulators_reaches_the_summary(
    cli: dict[str, int],
) -> None:
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{cli['firestore']}"
    try:
        db = firestore.Client(project=PROJECT)
        now = dt.datetime.now(dt.UTC)
        db.collection("video_generations").document("cli-1").set(
            {"userId": "cli-user", "provider": "runway", "status": "completed",
             "createdAt": now - dt.timedelta(seconds=90),
             "startedAt": now - dt.timedelta(seconds=80), "completedAt": now,
             "userTier": "free"}
        )  # fmt: skip
    finally:
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous
    url = (
        f"http://127.0.0.1:{cli['functions']}/{PROJECT}/us-central1/video_analytics_dashboard"
        "/summary"
    )
    # The dashboard checks the caller's account: the token's user exists in the Auth emulator.
    Accounts(f"http://127.0.0.1:{cli['auth']}").ensure("cli-tester", "analytics", None)
    token = emulator_token("cli-tester", "analytics", PROJECT)
    deadline = time.monotonic() + 120
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = requests.get(
            url, params={"window": "1h"}, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        if response.status_code == 200:
            body = response.json()
            if body["generations"]["total"] == 1:
                break
        time.sleep(1)
    assert body.get("generations", {}).get("completed") == 1, body
    # The framework's router refuses a newline in a path; main.py hands it to the API's JSON.
    auth = {"Authorization": f"Bearer {token}"}
    odd = requests.get(url.replace("/summary", "/alerts/a%0A"), headers=auth, timeout=60)
    assert odd.status_code == 404 and odd.headers["Content-Type"] == "application/json", odd.text
    refused = requests.delete(url, headers=auth, timeout=60)
    assert (refused.status_code, refused.headers["Allow"]) == (405, "GET"), refused.text
