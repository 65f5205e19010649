"""The admin actions on one alert (acknowledge, resolve, suppress): the request body each
accepts, checked field by field, and the call to the alert manager."""

from __future__ import annotations

from typing import Any

from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.records import Instance
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.dashboard.params import json_body

MAX_NOTE = 2000
MAX_SUPPRESS_MINUTES = 7 * 24 * 60


def act_on_alert(
    manager: AlertManager,
    raw_body: bytes,
    who: str,
    alert_id: str,
    action: str,
    details: dict[str, Any],
) -> Instance:
    """Apply `action` by `who`; `details` receives what the audit log keeps of the body."""
    body = json_body(raw_body, optional=action != "suppress")
    details.update({k: body[k] for k in ("note", "minutes") if k in body})
    allowed = {"note", "minutes"} if action == "suppress" else {"note"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidArgument(f"{unknown[0]}: unknown field; accepted: {sorted(allowed)}")
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidArgument(f"note: expected a string of at most {MAX_NOTE} characters")
    if action == "acknowledge":
        return manager.acknowledge_alert(alert_id, who, note)
    if action == "resolve":
        return manager.resolve_alert(alert_id, who, note)
    minutes = body.get("minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise InvalidArgument(f"minutes: expected an integer from 1 to {MAX_SUPPRESS_MINUTES}")
    return manager.suppress_alert(alert_id, minutes, who, note)
