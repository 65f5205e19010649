"""HTTP POSTs for the web alert channels (Slack, Twilio, signed webhooks) over requests."""

from __future__ import annotations

import requests

from video_monitoring.alerting.channels.base import DeliveryError, HttpAnswer, HttpPost


class RequestsTransport:
    """POSTs with requests; a timeout or a failed connection is a DeliveryError."""

    def post(self, request: HttpPost) -> HttpAnswer:
        """The response, whatever its status; DeliveryError naming `what` when none came."""
        what, timeout = request.what, request.timeout
        try:
            response = requests.post(
                request.url, timeout=timeout, json=request.json, data=request.data,
                headers=request.headers, auth=request.auth,
            )  # fmt: skip
        except requests.Timeout:
            raise DeliveryError(f"{what}: timed out after {timeout:g} s") from None
        except requests.ConnectionError:
            raise DeliveryError(f"{what}: connection failed") from None
        return HttpAnswer(response.status_code, response.text)
