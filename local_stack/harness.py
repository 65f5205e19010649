"""A handle on a running local stack for tests and benchmarks: trigger quiescence, wipes,
replays, test users and tokens, bounded waits."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from google.cloud import firestore

from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token

PROJECT = "demo-cvplus"


def client_of(local: LocalStack) -> firestore.Client:
    """A Firestore client of a stack's emulator, leaving this process's FIRESTORE_EMULATOR_HOST
    (the session stack's) as it was."""
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = local.firestore_host
    try:
        return firestore.Client(project=PROJECT)
    finally:
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous


@dataclass
class Stack:
    """The running local stack, seen the way the generation service and an operator see it."""

    local: LocalStack
    functions_base: str

    def url(self, function: str, path: str = "") -> str:
        """HTTP URL of a function (Firebase emulator convention)."""
        return f"{self.functions_base}/{PROJECT}/us-central1/{function}{path}"

    def wipe(self) -> None:
        """Delete every document, wait for the delete events it fires to be handled, and wipe
        again: the emulator deletes document by document, so a handler of one delete event can
        still see (and undo) another generation's metrics and write rollups after the first wipe
        passed them. The second wipe fires no trigger (no source documents are left). The
        host's runtime series start afresh too, so a test counts only the invocations it made."""
        self.local.wipe()
        self.settle()
        self.local.wipe()
        self.settle()
        requests.post(f"{self.functions_base}/__/runtime/reset", timeout=10).raise_for_status()

    def settle(self, quiet: float = 0.5, timeout: float = 60) -> None:
        """Wait until no handler is running and no trigger delivery has finished for `quiet`
        seconds. Handlers that run in threads of their own (LOCAL_CONCURRENT_TRIGGERS) can
        outlast a quiet spell on a loaded machine, so the host's running count must be 0 too."""
        deadline = time.monotonic() + timeout
        last = self.stats()["triggers"]
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            stats = self.stats()
            now = stats["triggers"]
            if now != last or stats.get("running", 0) > 0:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet:
                return
        raise AssertionError(f"trigger deliveries still arriving after {timeout} s")

    def stats(self) -> dict[str, Any]:
        """The host's delivery counters."""
        return self.local.stats()

    def trigger_successes(self, name: str = "on_generation_written") -> int:
        """Trigger deliveries the function handled without error."""
        return int(self.stats()["triggers"].get(name, {}).get("ok", 0))

    def trigger_failures(self, name: str = "on_generation_written") -> int:
        """Trigger deliveries that ended in an error."""
        return int(self.stats()["triggers"].get(name, {}).get("failed", 0))

    def recorded(self, document_id: str) -> list[dict[str, Any]]:
        """Raw trigger requests the host received for a document, oldest first."""
        response = requests.get(
            f"{self.functions_base}/__/recorded", params={"document": document_id}, timeout=10
        )
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()
        return events

    def replay(self, event: dict[str, Any]) -> int:
        """POST a recorded CloudEvent again, byte for byte, as a redelivery would."""
        response = requests.post(
            f"{self.functions_base}{event['path']}",
            data=event["body"].encode(),
            headers=event["headers"],
            timeout=30,
        )
        return response.status_code

    def run_schedule(self, function: str, at: dt.datetime | None = None) -> int:
        """Run a scheduled function as Cloud Scheduler would for the tick `at` (default now)."""
        return self.local.run_schedule(function, at, timeout=120).status_code


def whole_day(days_ago: int) -> tuple[dt.datetime, dict[str, str]]:
    """The UTC day `days_ago` days before today, and its window parameters (from, to)."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today - dt.timedelta(days=days_ago)
    return day, {"from": day.isoformat(), "to": (day + dt.timedelta(days=1)).isoformat()}


class Accounts:
    """Users in the stack's Auth emulator, edited as an admin would (`Bearer owner`)."""

    def __init__(self, url: str, project: str = PROJECT) -> None:
        self.base = f"{url}/identitytoolkit.googleapis.com/v1/projects/{project}"
        self.ensured: dict[str, tuple[str | None, str | None]] = {}

    def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """One admin call; its JSON answer."""
        response = requests.post(
            f"{self.base}/{method}", json=body, headers={"Authorization": "Bearer owner"},
            timeout=10,
        )  # fmt: skip
        assert response.ok, f"Auth emulator refused {method}: {response.text[:300]}"
        answer: dict[str, Any] = response.json()
        return answer

    def create(self, uid: str, email: str | None = None) -> None:
        """A user with this uid (and email), unless one exists."""
        found = self.call("accounts:lookup", {"localId": [uid]}).get("users")
        if not found:
            self.call("accounts", {"localId": uid, **({"email": email} if email else {})})

    def update(self, uid: str, **fields: Any) -> None:
        """accounts:update, e.g. disableUser, validSince, emailVerified, email."""
        self.call("accounts:update", {"localId": uid, **fields})

    def set_role(self, uid: str, role: str | None) -> None:
        """Replace the user's custom claims with this role (none: no claims)."""
        self.update(uid, customAttributes=json.dumps({"role": role} if role else {}))

    def delete(self, uid: str) -> None:
        """Delete the user."""
        self.call("accounts:delete", {"localId": uid})

    def ensure(self, uid: str, role: str | None, email: str | None) -> None:
        """The user behind a test token exists, with this role and (verified) email."""
        if self.ensured.get(uid) == (role, email):
            return
        self.create(uid, email)
        self.set_role(uid, role)
        if email:
            self.update(uid, email=email, emailVerified=True)
        self.ensured[uid] = (role, email)


# The running stack's Auth emulator, when it has one (set by the stack fixture): every test
# token's user then exists there, as the dashboard checks each caller's account.
ACCOUNTS: list[Accounts] = []


def token(role: str | None = "analytics", uid: str = "tester", **claims: Any) -> str:
    """An emulator ID token (with any other claims, e.g. `email`) of a user that exists."""
    for accounts in ACCOUNTS:
        accounts.ensure(uid, role, claims.get("email"))
    return emulator_token(uid, role, PROJECT, **claims)


def api(
    stack: Stack, method: str, path: str, body: Any = None, role: str = "admin", **claims: Any
) -> tuple[int, Any]:
    """Any dashboard call as a user of `role` (uid `<role>-uid`, any other claims): the status
    and the JSON body."""
    response = requests.request(
        method,
        stack.url("video_analytics_dashboard", path),
        json=body,
        headers={"Authorization": f"Bearer {token(role, uid=f'{role}-uid', **claims)}"},
        timeout=60,
    )
    return response.status_code, response.json()


def summary(stack: Stack, params: dict[str, str], path: str = "/summary") -> dict[str, Any]:
    """GET /summary (or another dashboard endpoint) as an analytics user."""
    response = requests.get(
        stack.url("video_analytics_dashboard", path),
        params=params,
        headers={"Authorization": f"Bearer {token()}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until the condition holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition still false after {timeout} s")
