"""A signed JSON webhook: HMAC-SHA256 over "{timestamp}.{body}" in X-Monitor-Signature, the
timestamp in X-Monitor-Timestamp; receivers check both with verify_signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

from pydantic import SecretStr

from video_monitoring.alerting.channels.base import HttpPost, HttpTransport, Notification, http_post

SIGNATURE_HEADER = "X-Monitor-Signature"


TIMESTAMP_HEADER = "X-Monitor-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `timestamp.body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance_seconds: float = 300,
) -> bool:
    """For receivers: the signature matches and the timestamp is recent (replay protection)."""
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(
        sign(secret, timestamp, body), signature
    )


class WebhookChannel:
    """Generic signed JSON webhook."""

    name = "webhook"

    def __init__(
        self,
        url: SecretStr,
        secret: SecretStr,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        *,
        http: HttpTransport,
    ) -> None:
        self._url, self._secret, self.timeout, self._clock = url, secret, timeout, clock
        self._http = http

    def send(self, notification: Notification) -> None:
        """POST the payload with timestamp and signature headers."""
        body = json.dumps(notification.to_json(), separators=(",", ":")).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret.get_secret_value(), timestamp, body),
        }
        http_post(self._http, HttpPost(
            self._url.get_secret_value(), "webhook", self.timeout, data=body, headers=headers,
        ))  # fmt: skip
