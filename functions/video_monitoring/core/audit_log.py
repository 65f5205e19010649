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
