"""Provider controls over HTTP: `GET /provider-controls` (readers) and
`POST /provider-controls/{provider}/pause|release` (admins), bodies checked field by field."""

from __future__ import annotations

import re
from typing import Any

from video_monitoring.alerting.responder import MAX_PAUSE_MINUTES, MAX_REASON, ProviderResponder
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import PROVIDER_PATTERN
from video_monitoring.dashboard.auth import ADMIN_ROLES, READ_ROLES, Caller, require
from video_monitoring.dashboard.http import Request, Response
from video_monitoring.dashboard.params import json_body
from video_monitoring.dashboard.routes import Admit, Audited

CONTROL_ACTIONS = ("pause", "release")


def controls_response(
    responder: ProviderResponder,
    request: Request,
    caller: Caller,
    rest: list[str],
    admit: Admit,
    audited: Audited,
) -> Response:
    """GET /provider-controls (readers); POST /provider-controls/{provider}/pause|release
    (admins, audited whatever the outcome once the provider id is valid)."""
    if not rest:
        require(caller, READ_ROLES)
        if request.params:
            raise InvalidArgument(
                f"{sorted(request.params)[0]}: /provider-controls takes no parameters"
            )
        admit()
        return Response(200, {"controls": [c.to_doc() for c in responder.controls()]})
    provider, action = rest
    require(caller, ADMIN_ROLES)
    if not re.fullmatch(PROVIDER_PATTERN, provider):
        raise InvalidArgument(f"provider: expected a provider id matching {PROVIDER_PATTERN}")
    admit()
    with audited(caller, f"provider.{action}", provider) as details:
        who = caller.uid or "unknown"
        control = act_on_provider(responder, request.body, who, provider, action, details)
    return Response(200, {"control": control})


def act_on_provider(
    responder: ProviderResponder,
    raw_body: bytes,
    who: str,
    provider: str,
    action: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Pause (optional `reason`, `minutes`) or release (optional `reason`) one provider."""
    body = json_body(raw_body, optional=True)
    allowed = {"reason", "minutes"} if action == "pause" else {"reason"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidArgument(f"{unknown[0]}: unknown field; accepted: {sorted(allowed)}")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason: expected a string of at most {MAX_REASON} characters")
    minutes = body.get("minutes")
    if minutes is not None and (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not 1 <= minutes <= MAX_PAUSE_MINUTES
    ):
        raise InvalidArgument(f"minutes: expected an integer from 1 to {MAX_PAUSE_MINUTES}")
    # Only what passed the checks reaches the audit entry (Firestore stores neither an integer
    # beyond 64 bits nor a map of arbitrary keys).
    details.update({k: body[k] for k in allowed if k in body})
    if action == "release":
        return responder.release(provider, who, reason).to_doc()
    return responder.pause(provider, who, reason, minutes).to_doc()
