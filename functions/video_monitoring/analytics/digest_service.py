"""The digest service: who asked for which digest, building it from the dashboard's figures,
and sending it once per period and recipient, whatever the retries and overlapping runs.

Each scheduled tick asks `send_due(now)`: for the daily and the weekly digest whose period
ended (from `SEND_HOUR` UTC the day after), every opted-in recipient (`digest_subscriptions`,
and the team's Slack webhook when `DIGEST_SLACK` names the kind) is claimed in a transaction on
`digest_deliveries/{periodKey}__{recipient}`: a run takes a recipient only if nobody sent it
and no other run holds an unexpired lease; it sends, then marks it sent. A failed send is
retried by later runs (at most MAX_ATTEMPTS). A crash between sending and marking can repeat
one message after the lease (3 minutes); nothing else can.

At send time each email recipient's account is looked up again, from the identity provider and
never from the API's account cache (one lookup per email recipient and period): a user who was
deleted or disabled, lost their role or has no verified email is skipped, and the delivery
records why (`status: skipped`, `reason`) so the period is not retried for them; the digest
goes to the account's current verified address.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

from video_monitoring.analytics import digest_render as render
from video_monitoring.analytics import recommend
from video_monitoring.analytics.digest_content import (
    MONTHS,
    DigestFigures,
    Period,
    PeriodKind,
    alert_summary,
    build_digest,
    due,
)
from video_monitoring.analytics.performance import system_metrics_json
from video_monitoring.analytics.review import build_review, file_name
from video_monitoring.config import constants
from video_monitoring.config.settings import Target
from video_monitoring.core.budget import Budget
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.identity import Accounts
from video_monitoring.core.models import Window
from video_monitoring.ingest.rollup import merge_cells

log = logging.getLogger(__name__)
KINDS: tuple[PeriodKind, ...] = ("daily", "weekly", "monthly", "quarterly")
LEASE = dt.timedelta(minutes=3)
MAX_ATTEMPTS = 12
SLACK = "slack"
# Roles that read the figures a digest carries.
DIGEST_ROLES = frozenset({constants.ROLE_ANALYTICS, constants.ROLE_ADMIN})


@dataclasses.dataclass(frozen=True)
class Recipient:
    """Someone who opted in: a user's email address, or the team's Slack channel."""

    key: str  # the user's uid, or "slack"
    channel: Literal["email", "slack"]
    address: str | None = None


class DigestStore(Protocol):
    """Subscriptions, deliveries and the control changes a digest reports."""

    def subscribers(self, kind: PeriodKind) -> list[Recipient]:
        """Users who opted in to this digest."""
        ...

    def claim(self, period: str, recipient: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Take one delivery: False when it was sent, given up, or another run holds it."""
        ...

    def finish(self, period: str, recipient: str, now: dt.datetime, error: str | None) -> None:
        """Record the outcome (sent, or failed to be retried)."""
        ...

    def skip(self, period: str, recipient: str, now: dt.datetime, reason: str) -> None:
        """Record that this delivery will not be made, and why (never claimed again)."""
        ...

    def control_changes(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """Provider control changes in [start, end) from the audit log, oldest first."""
        ...

    def subscription(self, uid: str) -> dict[str, Any] | None:
        """One user's choice (email, and each kind of KINDS)."""
        ...

    def subscribe(
        self, uid: str, email: str, choice: Mapping[PeriodKind, bool], now: dt.datetime
    ) -> None:
        """Set one user's choice (every kind of KINDS, on or off)."""
        ...


class Figures(Protocol):
    """The dashboard's figures the digest reports (AnalyticsEngine and AlertManager)."""

    def summary(self, window: Window) -> dict[str, Any]: ...

    def provider_comparison(self, window: Window) -> dict[str, Any]: ...

    def cells(self, window: Window) -> Any: ...

    def trends(
        self, window: Window, granularity: Any, metric: str, horizon: int
    ) -> dict[str, Any]: ...


Send = Callable[[Recipient, Mapping[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class DigestSources:
    """Where a digest's figures come from: the API's figures, the alerts opened in a span, a
    rule's backtest (for retuning suggestions), and the objectives' status (None: no SLOs)."""

    figures: Figures
    alerts: Callable[[dt.datetime, dt.datetime], list[dict[str, Any]]]
    backtest: Callable[[str, dt.datetime, dt.datetime, float], dict[str, Any]]
    slos: Callable[[dt.datetime], Mapping[str, Any]] | None = None
    # GET /capacity's provider rows as of a time (None: no capacity section).
    capacity: Callable[[dt.datetime], Sequence[Mapping[str, Any]]] | None = None


class DigestService:
    """Builds and sends digests."""

    def __init__(
        self,
        sources: DigestSources,
        store: DigestStore,
        targets: Mapping[str, Target],
        send: Send,
        slack_kinds: Sequence[str] = (),
        *,
        accounts: Accounts | None,
    ) -> None:
        self._figures = sources.figures
        self._alerts = sources.alerts
        self._backtest = sources.backtest
        self._store = store
        self._targets = targets
        self._send = send
        self._slack_kinds = frozenset(slack_kinds)
        self._slos = sources.slos
        self._capacity = sources.capacity
        self._accounts = accounts  # None: recipients are not checked (no identity provider)

    def digest(self, period: Period) -> dict[str, Any]:
        """The digest of a period (the API's preview and what is sent)."""
        return self._compose(period, review=False)

    def review(self, period: Period) -> dict[str, Any]:
        """The monthly or quarterly review: the period's digest with cost per output second,
        every provider and the daily series (GET /reports draws it as a PDF)."""
        return self._compose(period, review=True)

    def _compose(self, period: Period, review: bool) -> dict[str, Any]:
        """The period's digest from the figures of it and of the period before; with `review`,
        the review's additions too."""
        window = Window(start=period.start, end=period.end)
        before = period.previous()
        previous = Window(start=before.start, end=before.end)
        summary = self._figures.summary(window)
        summary_before = self._figures.summary(previous)
        providers = self._figures.provider_comparison(window)["providers"]
        providers_before = self._figures.provider_comparison(previous)["providers"]
        cells = self._figures.cells(window)
        premium = {p["provider"]: merge_cells(cells, provider=p["provider"], tier="premium").count()
                   for p in providers}  # fmt: skip
        alerts = self._alerts(period.start, period.end)
        granularity = "hour" if period.kind == "daily" else "day"
        series = self._figures.trends(window, granularity, "total", 0)["series"]
        points = [{"start": s["start"], "total": s["total"], "successRate": s["successRate"]}
                  for s in series]  # fmt: skip
        shown = window.to_json()
        found = [
            *recommend.shift_traffic(providers, premium, shown),
            *recommend.noisy_rules(
                alert_summary(alerts)["items"], shown,
                lambda rule_id: self._suggest(rule_id, period),
            ),
            *recommend.cost_rises(providers, providers_before, shown),
            *recommend.failure_costs(providers, shown),
        ]  # fmt: skip
        digest = build_digest(period, DigestFigures(
            summary, summary_before, providers, providers_before, self._targets,
            alerts, self._store.control_changes(period.start, period.end),
            recommend.rank(found), points, self._slos(period.end) if self._slos else None,
            self._outlook(period),
        ))  # fmt: skip
        if not review:
            return digest
        per_output = (
            system_metrics_json(merge_cells(cells), window)["costPerOutputSecondUsd"],
            system_metrics_json(merge_cells(self._figures.cells(previous)), previous)[
                "costPerOutputSecondUsd"
            ],
        )
        return build_review(digest, per_output, providers, series, summary.get("source"))

    def _outlook(self, period: Period) -> Sequence[Mapping[str, Any]] | None:
        """Weekly digests: the providers' capacity as of the period's end."""
        if self._capacity is None or period.kind != "weekly":
            return None
        return self._capacity(period.end)

    def _suggest(self, rule_id: str, period: Period) -> dict[str, Any] | None:
        try:
            return self._backtest(rule_id, period.start, period.end,
                                  recommend.NOISY_PAGES_PER_WEEK)  # fmt: skip
        except Exception as error:  # a rule that cannot be replayed gets no suggestion
            log.warning("digest: no backtest of %s: %s", rule_id, type(error).__name__)
            return None

    def subscription(self, uid: str) -> dict[str, Any]:
        """A user's digests and reviews (all off until they opt in)."""
        found = self._store.subscription(uid) or {}
        return {**{kind: bool(found.get(kind)) for kind in KINDS}, "email": found.get("email")}

    def subscribe(
        self, uid: str, email: str | None, choice: Mapping[PeriodKind, bool], now: dt.datetime
    ) -> dict[str, Any]:
        """Opt in or out of the kinds named (the others keep their choice); digests go to the
        address the user signed in with."""
        current = self.subscription(uid)
        chosen = {kind: bool(choice.get(kind, current[kind])) for kind in KINDS}
        first = next((kind for kind in KINDS if chosen[kind]), None)
        if first is not None and not email:
            raise InvalidArgument(f"{first}: your sign-in has no email address to send digests to")
        self._store.subscribe(uid, email or "", chosen, now)
        return self.subscription(uid)

    def recipients(self, kind: PeriodKind) -> list[Recipient]:
        """Everyone who opted in to this kind of digest."""
        found = list(self._store.subscribers(kind))
        if kind in self._slack_kinds:
            found.append(Recipient(SLACK, "slack"))
        return found

    def send_due(self, now: dt.datetime, budget: Budget | None = None) -> dict[str, int]:
        """Send every digest due at `now` to each recipient not yet sent, none started once
        the budget is spent (the rest stay due for a later run); messages sent by kind."""
        budget = budget or Budget.unlimited()
        sent: dict[str, int] = {}
        for kind in KINDS:
            period = due(kind, now)
            if period is None:
                continue
            digest: dict[str, Any] | None = None
            for recipient in self.recipients(kind):
                if budget.spent():
                    log.warning("digests: time budget spent; the rest go with a later run")
                    return sent
                if not self._store.claim(period.key, recipient.key, now, LEASE):
                    continue
                error = None
                try:
                    to, reason = self.standing(recipient)
                    if reason is not None:
                        log.info("digest %s to %s skipped: %s", period.key, recipient.key, reason)
                        self._store.skip(period.key, recipient.key, now, reason)
                        continue
                    digest = digest or self._compose(period, review=kind in MONTHS)
                    self._send(to, digest)
                    sent[kind] = sent.get(kind, 0) + 1
                except Exception as failure:  # recorded; a later run retries
                    error = type(failure).__name__
                    log.warning("digest %s to %s failed: %s", period.key, recipient.key, error)
                self._store.finish(period.key, recipient.key, now, error)
        return sent

    def standing(self, recipient: Recipient) -> tuple[Recipient, str | None]:
        """The recipient at their account's current verified address, or why they get nothing
        (user-deleted, user-disabled, no-role, email-unverified)."""
        if recipient.channel != "email" or self._accounts is None:
            return recipient, None
        # Never a cached answer: the API caches each caller's account for a while, and a user
        # deleted seconds after their last request would otherwise still be mailed.
        account = self._accounts.account(recipient.key, fresh=True)
        if account is None:
            return recipient, "user-deleted"
        if account.disabled:
            return recipient, "user-disabled"
        if account.role not in DIGEST_ROLES:
            return recipient, "no-role"
        if not account.email or not account.email_verified:
            return recipient, "email-unverified"
        return dataclasses.replace(recipient, address=account.email), None


Mail = Callable[[str, str, str, str, Mapping[str, bytes]], None]
# A review's mail: address, subject, text, then the PDF and its file name.
MailReview = Callable[[str, str, str, bytes, str], None]


def sender(
    mail: Mail | None,
    slack: Callable[[dict[str, Any]], None] | None,
    link: str,
    reviews: tuple[MailReview, Callable[[Mapping[str, Any]], bytes]] | None = None,
) -> Send:
    """Sends a digest over email (subject, text, HTML, inline charts) or Slack; a review by
    email as a PDF attachment (`reviews`: how to mail it and how to draw the PDF)."""

    # The PDF of the review being sent: a run passes one review to all its recipients.
    drawn: list[tuple[Mapping[str, Any], bytes]] = []

    def send(recipient: Recipient, digest: Mapping[str, Any]) -> None:
        if recipient.channel == "slack":
            if slack is None:
                raise RuntimeError("Slack is not configured")
            slack(render.slack(digest, link))
            return
        if mail is None or recipient.address is None:
            raise RuntimeError("email is not configured")
        if digest["period"]["kind"] in MONTHS:
            if reviews is None:
                raise RuntimeError("reviews are not configured")
            period = Period(digest["period"]["kind"], digest["period"]["from"],
                            digest["period"]["to"])  # fmt: skip
            mail_review, draw = reviews
            if not drawn or drawn[0][0] is not digest:
                drawn[:] = [(digest, draw(digest))]
            mail_review(recipient.address, render.title(digest), render.text(digest, link),
                        drawn[0][1], file_name(period))  # fmt: skip
            return
        mail(recipient.address, render.title(digest), render.text(digest, link),
             render.to_html(digest, link), render.charts(digest))  # fmt: skip

    return send
