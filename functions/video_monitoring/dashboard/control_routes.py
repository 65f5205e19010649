"""Provider controls over HTTP: `GET /provider-controls` (readers) and
`POST /provider-controls/{provider}/pause|release` (admins), bodies checked field by field."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from video_monitoring.alerting.responder import MAX_PAUSE_MINUTES, MAX_REASON, ProviderResponder
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import PROVIDER_PATTERN
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import BodyModel, Call


class ReleaseBody(BodyModel):
    """Release: an optional reason."""

    reason: str = Field(
        "", max_length=MAX_REASON, description=f"a string of at most {MAX_REASON} characters"
    )


class PauseBody(ReleaseBody):
    """Pause: an optional reason, and for how many minutes (none: until released)."""

    minutes: int | None = Field(
        None, ge=1, le=MAX_PAUSE_MINUTES, description=f"an integer from 1 to {MAX_PAUSE_MINUTES}"
    )


def check_provider(provider: str) -> None:
    """A 400 naming `provider` for a path segment no provider id can be."""
    if not re.fullmatch(PROVIDER_PATTERN, provider):
        raise InvalidArgument(f"provider: expected a provider id matching {PROVIDER_PATTERN}")


def controls(responder: ProviderResponder, call: Call) -> Prepared:
    """GET /provider-controls."""
    return lambda: {"controls": [c.to_doc() for c in responder.controls()]}


def pause(responder: ProviderResponder, call: Call) -> Prepared:
    """POST /provider-controls/{provider}/pause (admins)."""

    def run() -> dict[str, Any]:
        body: PauseBody = call.body
        control = responder.pause(call.path["provider"], call.who, body.reason, body.minutes)
        return {"control": control.to_doc()}

    return run


def release(responder: ProviderResponder, call: Call) -> Prepared:
    """POST /provider-controls/{provider}/release (admins)."""

    def run() -> dict[str, Any]:
        body: ReleaseBody = call.body
        return {"control": responder.release(call.path["provider"], call.who, body.reason).to_doc()}

    return run
