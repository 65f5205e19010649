"""Digests over HTTP: `GET /digest?period=daily|weekly` (the last whole period's digest, as it
is sent) and `GET|PUT /me/digests` (a user's own opt-in to the digests and the monthly and
quarterly reviews)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from video_monitoring.analytics.digest_content import PeriodKind, last_complete
from video_monitoring.analytics.digest_service import DigestService
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import BodyModel, Call

PERIODS = ("daily", "weekly")


class DigestQuery(BaseModel):
    """`GET /digest`: which period (default weekly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: Literal["daily", "weekly"] | None = None


class DigestChoice(BodyModel):
    """`PUT /me/digests`: which digests and reviews the caller receives."""

    daily: bool | None = Field(None, description="true or false")
    weekly: bool | None = Field(None, description="true or false")
    monthly: bool | None = Field(None, description="true or false")
    quarterly: bool | None = Field(None, description="true or false")


def digest(service: DigestService, call: Call) -> Prepared:
    """GET /digest: the digest of the last whole day or week."""
    query: DigestQuery = call.query
    period = query.period or "weekly"
    return lambda: service.digest(last_complete(period, call.api.clock()))


def my_digests(service: DigestService, call: Call) -> Prepared:
    """GET /me/digests: the caller's choice."""
    uid = call.caller.uid if call.caller else ""
    return lambda: service.subscription(uid)


def choose_digests(service: DigestService, call: Call) -> Prepared:
    """PUT /me/digests {"daily", "weekly", "monthly", "quarterly": bool}: change the caller's
    choice of the kinds named."""
    choice: DigestChoice = call.body
    caller = call.caller
    assert caller is not None
    named: dict[PeriodKind, bool | None] = {
        "daily": choice.daily, "weekly": choice.weekly, "monthly": choice.monthly,
        "quarterly": choice.quarterly,
    }  # fmt: skip
    # A kind left out keeps its choice: a page that offers only some kinds changes only those.
    chosen = {kind: on for kind, on in named.items() if on is not None}
    return lambda: service.subscribe(caller.uid, caller.email, chosen, call.api.clock())
