"""HTTP POSTs for the web alert channels (Slack, Twilio, signed webhooks) over requests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from video_monitoring.alerting.channels.base import DeliveryError, HttpAnswer


class RequestsTransport:
    """POSTs with requests; a timeout or a failed connection is a DeliveryError."""

    def post(
        self,
        url: str,
        timeout: float,
        what: str,
        *,
        json: Any = None,
        data: bytes | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> HttpAnswer:
        """The response, whatever its status; DeliveryError naming `what` when none came."""
        try:
            response = requests.post(
                url, timeout=timeout, json=json, data=data, headers=headers, auth=auth
            )
        except requests.Timeout:
            raise DeliveryError(f"{what}: timed out after {timeout:g} s") from None
        except requests.ConnectionError:
            raise DeliveryError(f"{what}: connection failed") from None
        return HttpAnswer(response.status_code, response.text)
