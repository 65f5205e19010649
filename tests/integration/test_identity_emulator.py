"""Identity on the real Auth emulator: a revoked, disabled or deleted user's unexpired ID token
is refused within the account cache's TTL; digests re-check each recipient at send time over
real SMTP; `grant-role EMAIL none` unsubscribes the user."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from google.cloud import firestore

from local_stack.auth_emulator import AuthEmulator
from local_stack.receivers import Receivers
from tests.integration.support import ACCOUNTS, PROJECT, Accounts, Stack, wait_until
from video_monitoring.analytics.digest_content import last_complete

pytestmark = pytest.mark.integration
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
PASSWORD = "identity-test-pass"
People = dict[str, tuple[str, str]]  # name: (uid, email)


def auth_of(stack: Stack) -> tuple[AuthEmulator, Accounts]:
    if stack.local.auth is None or not ACCOUNTS:
        pytest.skip("the stack runs without the Auth emulator (firebase-tools)")
    return stack.local.auth, ACCOUNTS[0]


def call(stack: Stack, token: str, method: str = "GET", body: object = None) -> requests.Response:
    return requests.request(
        method, stack.url("video_analytics_dashboard", "/me/digests"), json=body,
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip


def user(auth: AuthEmulator, accounts: Accounts, name: str, role: str | None) -> tuple[str, str]:
    """A new user with a verified email and this role; its uid and email."""
    email = f"{name}-{time.time_ns()}@example.com"
    uid = auth.create_user(email, PASSWORD, role)
    accounts.update(uid, emailVerified=True)
    return uid, email


@pytest.mark.parametrize(
    ("change", "refusal"),
    [("revoke", "the ID token was revoked; sign in again"),
     ("disable", "this account is disabled"),
     ("delete", "the account behind this ID token no longer exists")],
)  # fmt: skip
def test_an_unexpired_token_is_refused_once_its_user_is_revoked_disabled_or_deleted(
    stack: Stack, change: str, refusal: str
) -> None:
    auth, accounts = auth_of(stack)
    uid, email = user(auth, accounts, change, "analytics")
    token = auth.sign_in(email, PASSWORD)
    assert call(stack, token).status_code == 200
    time.sleep(1.1)  # revocation is to the second: tokens issued before validSince fall
    if change == "revoke":
        accounts.update(uid, validSince=str(int(time.time())))
    elif change == "disable":
        accounts.update(uid, disableUser=True)
    else:
        accounts.delete(uid)
    started = time.monotonic()
    wait_until(lambda: call(stack, token).status_code == 401, timeout=10)
    assert time.monotonic() - started < 5  # the stack trusts an account lookup for 1 s
    response = call(stack, token)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == f"Authorization: {refusal}"
    assert token not in response.text
    if change == "revoke":  # signing in again gives a token that stands
        assert call(stack, auth.sign_in(email, PASSWORD)).status_code == 200


def subscribe(stack: Stack, auth: AuthEmulator, accounts: Accounts, *names: str) -> People:
    """New users with a role and a verified email, each opted in to the weekly digest."""
    people = {name: user(auth, accounts, name, "analytics") for name in names}
    for name, (_, email) in people.items():
        answer = call(stack, auth.sign_in(email, PASSWORD), "PUT", {"weekly": True})
        assert answer.status_code == 200 and answer.json()["email"] == email, name
    return people


def grant_role(stack: Stack, auth: AuthEmulator, email: str, role: str) -> str:
    """`python -m video_monitoring grant-role EMAIL ROLE` against the emulators; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "video_monitoring", "grant-role", email, role],
        cwd=FUNCTIONS, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(FUNCTIONS), "GCLOUD_PROJECT": PROJECT,
             "FIREBASE_AUTH_EMULATOR_HOST": auth.host,
             "FIRESTORE_EMULATOR_HOST": stack.local.firestore_host},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_digest_goes_only_to_recipients_whose_account_still_qualifies(
    stack: Stack, db: firestore.Client, receivers: Receivers
) -> None:
    auth, accounts = auth_of(stack)
    week = last_complete("weekly", dt.datetime.now(dt.UTC))
    tick = week.end + dt.timedelta(hours=7, minutes=5)
    # A warm tick, as in a running deployment, reaches the digests soon after the API last
    # looked these users up (a cold one took longer than the API's account cache trusts them).
    assert stack.run_schedule("aggregate_and_alert", tick - dt.timedelta(minutes=10)) == 200
    people = subscribe(
        stack, auth, accounts, "kept", "disabled", "roleless", "unverified", "deleted"
    )
    accounts.update(people["disabled"][0], disableUser=True)
    accounts.set_role(people["roleless"][0], None)  # claims edited elsewhere than the CLI
    accounts.update(people["unverified"][0], emailVerified=False)
    accounts.delete(people["deleted"][0])

    before = len(receivers.inbox.messages)
    for when in (tick, tick + dt.timedelta(minutes=5)):  # the rerun skips nobody again
        assert stack.run_schedule("aggregate_and_alert", when) == 200
    ours = {email for _, email in people.values()}
    wait_until(lambda: any(m["To"] in ours for m in receivers.inbox.messages[before:]), 20)
    time.sleep(0.5)  # any stray message would have landed with the first
    mailed = [m["To"] for m in receivers.inbox.messages[before:] if m["To"] in ours]
    assert mailed == [people["kept"][1]]
    deliveries = {
        d.get("recipient"): d for d in (s.to_dict() or {} for s in
                                        db.collection("digest_deliveries").stream())
    }  # fmt: skip
    outcome = {name: (deliveries[uid]["status"], deliveries[uid].get("reason"))
               for name, (uid, _) in people.items()}  # fmt: skip
    assert outcome == {
        "kept": ("sent", None), "disabled": ("skipped", "user-disabled"),
        "roleless": ("skipped", "no-role"), "unverified": ("skipped", "email-unverified"),
        "deleted": ("skipped", "user-deleted"),
    }  # fmt: skip
    assert all(d["attempts"] == 1 for d in deliveries.values())


def test_removing_a_role_with_the_cli_deletes_the_digest_subscription(
    stack: Stack, db: firestore.Client
) -> None:
    auth, accounts = auth_of(stack)
    people = subscribe(stack, auth, accounts, "stays", "leaver")
    subscriptions = db.collection("digest_subscriptions")
    assert grant_role(stack, auth, people["stays"][1], "admin").endswith("role admin")
    out = grant_role(stack, auth, people["leaver"][1], "none")
    assert out.endswith("role none; digests unsubscribed")
    assert {s.id for s in subscriptions.stream()} == {people["stays"][0]}
    record = accounts.call("accounts:lookup", {"localId": [people["leaver"][0]]})["users"][0]
    assert "role" not in record.get("customAttributes", "{}")
