"""The audit log's entry: who did what, when, to what, and whether it was allowed (dashboard
actions, exports, and the provider controls the rules and admins change)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when, to what, and whether it was allowed."""

    at: dt.datetime
    uid: str
    role: str | None
    action: str  # acknowledge | resolve | suppress | rule.update | export | provider.<event>
    target: str
    outcome: str  # ok | failed (refused calls are counted per minute, never recorded)
    details: Mapping[str, Any]

    def to_doc(self) -> dict[str, Any]:
        """The `audit_log` document."""
        return {
            "at": self.at,
            "uid": self.uid,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "details": dict(self.details),
        }


class AuditLog(Protocol):
    """Where audit entries go (Firestore `audit_log`; a list in unit tests)."""

    def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        ...


@dataclass(frozen=True)
class AuditPosition:
    """Where a page of the audit log stops: the last entry's time and document id (entries
    are read newest first, ties by id, so the position is total)."""

    at: dt.datetime
    entry_id: str


@dataclass(frozen=True)
class AuditFilter:
    """Which entries one page of `GET /audit-log` reads: by actor (uid), action and time
    (`start` inclusive, `end` exclusive), newest first, after `after`, at most `limit`."""

    actor: str | None = None
    action: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    after: AuditPosition | None = None
    limit: int = 50


class AuditTrail(Protocol):
    """Reads the audit log (Firestore `audit_log`; a list in unit tests)."""

    def page(self, wanted: AuditFilter) -> list[tuple[str, dict[str, Any]]]:
        """Up to `wanted.limit` entries (document id, document) newest first."""
        ...
