"""One local stack for the whole integration session, on ports of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from google.cloud import firestore

from tests.integration.support import PROJECT, Stack
from tests.receivers import HttpReceiver, SmtpInbox
from video_monitoring.local.stack import (
    REPO_ROOT,
    StackError,
    check_java,
    emulator_jar,
    start_stack,
)

FIRESTORE_PORT = int(os.environ.get("TEST_FIRESTORE_PORT", 18080))
FUNCTIONS_PORT = int(os.environ.get("TEST_FUNCTIONS_PORT", 15001))


WEBHOOK_SECRET = "integration-webhook-secret"


@dataclass
class Receivers:
    """The local servers the functions host's notification channels point at."""

    inbox: SmtpInbox
    slack: HttpReceiver
    sms: HttpReceiver
    webhook: HttpReceiver

    def env(self) -> dict[str, str]:
        """Channel settings for the functions host."""
        return {
            "SMTP_HOST": self.inbox.host,
            "SMTP_PORT": str(self.inbox.port),
            "ALERT_EMAIL_FROM": "monitor@example.com",
            "ALERT_EMAIL_TO": "ops@example.com",
            "SLACK_WEBHOOK_URL": self.slack.url + "/services/T0/B0/test",
            "TWILIO_BASE_URL": self.sms.url,
            "TWILIO_ACCOUNT_SID": "AC-test",
            "TWILIO_AUTH_TOKEN": "twilio-test-token",
            "TWILIO_FROM_NUMBER": "+15550000000",
            "ALERT_SMS_TO": "+15551111111",
            "ALERT_WEBHOOK_URL": self.webhook.url + "/alerts",
            "ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "NOTIFY_ATTEMPTS": "2",
            "NOTIFY_BASE_DELAY_SECONDS": "0.05",
            "NOTIFY_TIMEOUT_SECONDS": "1",
        }


@pytest.fixture(scope="session")
def receivers() -> Iterator[Receivers]:
    servers = Receivers(SmtpInbox(), HttpReceiver(), HttpReceiver("created"), HttpReceiver())
    try:
        yield servers
    finally:
        for server in (servers.inbox, servers.slack, servers.sms, servers.webhook):
            server.stop()


@pytest.fixture(scope="session")
def stack(receivers: Receivers) -> Iterator[Stack]:
    try:
        check_java()
        emulator_jar()
    except StackError as error:
        if os.environ.get("CI"):
            raise  # CI must run the integration suite, never skip it
        pytest.skip(reason=f"local stack unavailable: {error}")
    local = start_stack(
        PROJECT,
        FIRESTORE_PORT,
        FUNCTIONS_PORT,
        rules_path=REPO_ROOT / "firestore.rules",
        run_schedules=False,
        log_dir=REPO_ROOT / ".stack" / "tests",
        env=receivers.env(),
    )
    try:
        yield Stack(local, local.functions_base)
    finally:
        local.stop()


@pytest.fixture(scope="session")
def db(stack: Stack) -> Iterator[firestore.Client]:
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = stack.local.firestore_host
    try:
        yield firestore.Client(project=PROJECT)
    finally:
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous
