"""Erasing one user's analytics data (GDPR Art. 17), as an admin action on the dashboard.

What goes, per collection (docs/interfaces.md §3) and BigQuery table (docs/interfaces.md §8):
- `analytics_events` with the user's id: each counted app event rewritten as its anonymous
  counted part (an allow-list of fields, `userId: "erased"`, no session, `properties` reduced to
  the feature name), so a later re-export of its day to BigQuery still holds what the rollups
  count; every other event of the user deleted (the monitor's lifecycle events of their
  generations, and app events never counted: rejected or not yet recorded, which clearing the
  session would otherwise turn into valid, newly counted ones);
- `event_contributions` and `video_generation_metrics` with the user's id: kept as anonymous
  ledger records (`userId: "erased"`, no user-day) so every aggregate stays exact and a later
  change of the same source document is ignored rather than counted twice;
- `user_days` of the user: deleted (user-behaviour figures of days not yet snapshotted no longer
  include them);
- BigQuery `generation_metrics` and `analytics_events` rows whose `userId` is the user's id or
  its pseudonym under the configured key: anonymised the same way (`userId: "erased"`, an event's
  `sessionId` cleared and its `properties` reduced to the feature name it counted for), so
  BigQuery's totals, and the figures rebuilt from it, keep matching the rollups; first the
  digests of both ids go into the erasure ledger, so an export in flight cannot bring the raw
  rows back, and the staging tables of exports in flight are anonymised too
  (warehouse/erasures.py has the order and why it is race-free).
The anonymised records carry `erasedAt`: the next nightly export exports their days again from
them (those Firestore still keeps), which also finishes an erasure whose BigQuery part failed.
Aggregates (rollups, daily snapshots, system metrics) hold no user ids and stay as they are. The
user's opt-out record, if any, is kept: it is their standing instruction. The source documents
of the generation service are that service's to erase.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from video_monitoring.core.errors import InvalidArgument, Unavailable
from video_monitoring.privacy.pseudonyms import ANONYMOUS

USER_ID = re.compile(r"[^/\x00-\x1f\x7f]{1,128}")


def check_user_id(user_id: str) -> str:
    """A user id as the dashboard accepts it in a path (1-128 characters, no slash)."""
    if not USER_ID.fullmatch(user_id):
        raise InvalidArgument("userId: expected 1-128 characters without '/' or control codes")
    if user_id in ANONYMOUS:
        raise InvalidArgument(f"userId: {user_id!r} is the placeholder of anonymised records")
    return user_id


def subject(user_id: str) -> str:
    """How the audit log names an erased user: a digest, never the id itself."""
    return "sha256:" + hashlib.sha256(user_id.encode()).hexdigest()[:16]


@dataclass
class ErasureReport:
    """What an erasure removed or anonymised, by collection and by BigQuery table."""

    firestore: dict[str, dict[str, int]] = field(default_factory=dict)
    bigquery: dict[str, int] | None = None

    def to_json(self, user_id: str) -> dict[str, Any]:
        """The response body of the erase action."""
        return {
            "userId": user_id,
            "firestore": self.firestore,
            "bigquery": self.bigquery,
            "aggregatesKept": True,
        }


class UserDataStore(Protocol):
    """Firestore side of an erasure."""

    def erase_user(self, user_id: str) -> dict[str, dict[str, int]]:
        """Delete or anonymise the user's records; counts by collection and what was done."""
        ...


class UserDataWarehouse(Protocol):
    """BigQuery side of an erasure."""

    def erase_user(self, user_ids: list[str]) -> dict[str, int]:
        """Anonymise rows with any of these user ids; rows anonymised by table."""
        ...


def erase_user(
    user_id: str,
    store: UserDataStore,
    warehouse: UserDataWarehouse | None,
    pseudonym: str | None = None,
) -> ErasureReport:
    """Erase everywhere: Firestore first (the live system), then BigQuery (raw id and, when
    exports are pseudonymised, the pseudonym)."""
    check_user_id(user_id)
    report = ErasureReport(firestore=store.erase_user(user_id))
    if warehouse is not None:
        ids = [user_id] + ([pseudonym] if pseudonym else [])
        try:
            report.bigquery = warehouse.erase_user(ids)
        except Exception as error:
            raise Unavailable(
                f"bigquery: Firestore data erased ({report.firestore}) but BigQuery failed "
                f"({type(error).__name__}); run the erasure again to finish it"
            ) from error
    return report
