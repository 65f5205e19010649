"""Helpers for integration tests: a handle on the running local stack and bounded waits."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token

PROJECT = "demo-cvplus"


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
        passed them. The second wipe fires no trigger (no source documents are left)."""
        self.local.wipe()
        self.settle()
        self.local.wipe()
        self.settle()

    def settle(self, quiet: float = 0.5, timeout: float = 60) -> None:
        """Wait until no trigger delivery has arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last = self.stats()["triggers"]
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.stats()["triggers"]
            if now != last:
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


def token(role: str | None = "analytics", uid: str = "tester", **claims: Any) -> str:
    """An emulator ID token (with any other claims, e.g. `email`)."""
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
