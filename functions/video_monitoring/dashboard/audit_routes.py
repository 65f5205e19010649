"""`GET /audit-log` (admins): the audit trail newest first, filtered by actor, action and time,
paged by an opaque cursor (the last entry's time and id), each parameter checked and named."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from video_monitoring.core.audit_log import AuditFilter, AuditPosition, AuditTrail
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.dashboard.params import Prepared, int_param, parse_time
from video_monitoring.dashboard.routes import Call

DEFAULT_PAGE = 50
MAX_PAGE = 200
ACTION = re.compile(r"[a-z][a-z_.]{0,63}")
# A uid as Firebase Auth issues it (1 to 128 characters), without control characters.
ACTOR = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
CURSOR = re.compile(r"[A-Za-z0-9_-]{1,400}")
ENTRY_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
BAD_CURSOR = "cursor: not a cursor this endpoint gave; pass `next` from the previous page as is"


class AuditLogQuery(BaseModel):
    """GET /audit-log's filters and paging."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    actor: str | None = None
    action: str | None = None
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    limit: str | None = None
    cursor: str | None = None


def encode_cursor(at: dt.datetime, entry_id: str) -> str:
    """The opaque cursor after an entry (URL-safe base64 of its time and id)."""
    raw = json.dumps({"at": at.astimezone(dt.UTC).isoformat(), "id": entry_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> AuditPosition:
    """The position a cursor names, or a 400 naming `cursor`."""
    if not CURSOR.fullmatch(text):
        raise InvalidArgument(BAD_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        at = dt.datetime.fromisoformat(data["at"])
        entry_id = data["id"]
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise InvalidArgument(BAD_CURSOR) from None
    if at.tzinfo is None or not isinstance(entry_id, str) or not ENTRY_ID.fullmatch(entry_id):
        raise InvalidArgument(BAD_CURSOR)
    return AuditPosition(at.astimezone(dt.UTC), entry_id)


def _matching(
    params: Mapping[str, str], name: str, pattern: re.Pattern[str], accepts: str
) -> str | None:
    value = params.get(name)
    if value is not None and not pattern.fullmatch(value):
        raise InvalidArgument(f"{name}: expected {accepts}; got {value[:80]!r}")
    return value


def audit_filter(params: Mapping[str, str]) -> AuditFilter:
    """The request's filters and page, each bad one a 400 naming it."""
    actor = _matching(params, "actor", ACTOR, "a user id (1 to 128 characters)")
    action = _matching(
        params, "action", ACTION, "an action name such as rule.update (a-z, '.', '_')"
    )
    start = parse_time("from", params["from"]) if "from" in params else None
    end = parse_time("to", params["to"]) if "to" in params else None
    if start is not None and end is not None and end <= start:
        raise InvalidArgument("to: must be later than from")
    limit = int_param(params, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    cursor = params.get("cursor")
    after = None if cursor is None else decode_cursor(cursor)
    return AuditFilter(actor, action, start, end, after, limit)


def entry_json(entry_id: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """One entry as the API answers it (the stored `uid` is the actor)."""
    return {
        "id": entry_id,
        "at": doc.get("at"),
        "actor": doc.get("uid"),
        "role": doc.get("role"),
        "action": doc.get("action"),
        "target": doc.get("target"),
        "outcome": doc.get("outcome"),
        "details": dict(doc.get("details") or {}),
    }


def audit_log(trail: AuditTrail, call: Call) -> Prepared:
    """GET /audit-log: one page, and the cursor of the next when there is one."""
    wanted = audit_filter(call.request.params)

    def run() -> dict[str, Any]:
        # One more than the page: whether a next page exists, without a count query.
        rows = trail.page(replace(wanted, limit=wanted.limit + 1))
        page = rows[: wanted.limit]
        last = page[-1] if len(rows) > wanted.limit else None
        return {
            "entries": [entry_json(entry_id, doc) for entry_id, doc in page],
            "next": None if last is None else encode_cursor(last[1]["at"], last[0]),
        }

    return run
