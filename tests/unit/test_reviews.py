"""Monthly and quarterly reviews: calendar periods, the `from` a request names, the figures of a
review (compared with answers computed here from the generations the test wrote) and its PDF,
and the review mailed once per period with the PDF attached."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fakes import FixedClock
from tests.unit.test_alert_manager import NOW, World
from tests.unit.test_dashboard import verifier
from tests.unit.test_digest import MemoryStore, alert
from tests.unit.test_export import pdf_text
from video_monitoring.alerting.channels.mail import EmailChannel
from video_monitoring.analytics.digest_content import Period, due, last_complete, period_from
from video_monitoring.analytics.digest_service import DigestService, DigestSources, sender
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.review import label, review_period
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.http import Request, StreamResponse
from video_monitoring.dashboard.review_report import budget_left, review_pdf

UTC = dt.UTC
OCTOBER = dt.datetime(2026, 10, 1, tzinfo=UTC)
SEPTEMBER = dt.datetime(2026, 9, 1, tzinfo=UTC)


def at(year: int, month: int, day: int = 1, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


def test_months_and_quarters_follow_the_calendar() -> None:
    march = period_from("monthly", at(2026, 3))
    assert (march.end, march.key) == (at(2026, 4), "monthly-2026-03-01")
    assert march.previous() == Period("monthly", at(2026, 2), at(2026, 3))  # 28 days
    january = period_from("monthly", at(2026, 1))
    assert january.previous() == Period("monthly", at(2025, 12), at(2026, 1))
    q1 = period_from("quarterly", at(2026, 1))
    assert q1.end == at(2026, 4) and q1.previous() == Period("quarterly", at(2025, 10), at(2026, 1))
    assert (label(march), label(q1), label(period_from("quarterly", at(2026, 7)))) == (
        "March 2026", "2026 Q1", "2026 Q3",
    )  # fmt: skip
    assert last_complete("monthly", NOW) == period_from("monthly", OCTOBER)
    assert last_complete("quarterly", NOW) == period_from("quarterly", at(2026, 7))
    assert last_complete("monthly", at(2026, 1)) == period_from("monthly", at(2025, 12))
    assert last_complete("quarterly", at(2026, 1)) == period_from("quarterly", at(2025, 10))
    assert last_complete("quarterly", at(2026, 3, 31, 23)) == period_from("quarterly", at(2025, 10))
    # Mailed on the first day of the next period, from 07:00 UTC.
    assert due("monthly", at(2026, 12, 1, 6)) is None
    assert due("monthly", at(2026, 12, 1, 7)) == period_from("monthly", at(2026, 11))
    assert due("quarterly", at(2027, 1, 1, 7)) == period_from("quarterly", at(2026, 10))
    assert due("quarterly", at(2026, 12, 1, 7)) == period_from("quarterly", at(2026, 7))


@pytest.mark.parametrize(
    ("kind", "first", "says"),
    [
        ("monthly", "2026-10", "expected a date YYYY-MM-DD"),
        ("monthly", "2026-13-01", "expected a date YYYY-MM-DD"),
        ("monthly", "01/10/2026", "expected a date YYYY-MM-DD"),
        ("monthly", "2026-10-02", "starts on the first day of a month"),
        ("quarterly", "2026-11-01", "starts on the first day of a quarter"),
        ("monthly", "2026-11-01", "once the period has ended, from 2026-12-01T00:00:00Z"),
        ("quarterly", "2026-10-01", "once the period has ended, from 2027-01-01T00:00:00Z"),
        ("monthly", "0001-01-01", "reviews start from 2000-01-01"),
        ("monthly", "9999-12-01", "is in the future"),
    ],
)
def test_a_bad_from_is_a_400_naming_it(kind: Any, first: str, says: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^from: ") as raised:
        review_period(kind, first, NOW)
    assert says in str(raised.value)


def october_world() -> tuple[World, list[dict[str, Any]]]:
    """Generations in October (runway 40 s, pika 150 s and one in 4 failed) and a few in
    September; the docs written, for the answers computed here."""
    world = World()
    docs: list[dict[str, Any]] = []
    for i in range(60):
        provider = "runway" if i % 2 else "pika"
        failed = provider == "pika" and i % 8 == 0
        created = OCTOBER + dt.timedelta(days=i % 31, hours=3)
        extra = {} if failed else {"costUsd": 0.5 + i % 3 * 0.25, "outputSeconds": 4 + i % 2}
        seconds = 40 if provider == "runway" else 150
        ago = (NOW - created).total_seconds() / 60
        world.add(provider, "failed" if failed else "completed", seconds, ago, **extra)
        docs.append({"provider": provider, "failed": failed, "seconds": seconds, **extra})
    for i in range(10):
        created = SEPTEMBER + dt.timedelta(days=i * 3, hours=5)
        ago = (NOW - created).total_seconds() / 60
        world.add("runway", "completed", 40, ago, costUsd=1.0, outputSeconds=2)
    return world, docs


def review_service(world: World, store: MemoryStore | None = None, send: Any = None) -> Any:
    alerts = [alert("low_success_rate", 0, 4, 30), alert("slow_generation", 100, None, None)]
    return DigestService(
        DigestSources(
            AnalyticsEngine(world.store, world.monitor), lambda s, e: alerts, lambda *a: {}
        ),
        store or MemoryStore(), DashboardSettings().targets(), send or (lambda r, d: None),
        accounts=None,
    )  # fmt: skip


def test_the_review_figures_are_the_months_against_the_month_before() -> None:
    world, docs = october_world()
    review = review_service(world).review(period_from("monthly", OCTOBER))
    rows = {r["name"]: r for r in review["headline"]}
    done = [d for d in docs if not d["failed"]]
    assert rows["generations"]["value"] == 60 and rows["generations"]["previous"] == 10
    assert rows["generations"]["change"] == pytest.approx(5.0)
    assert rows["successRate"]["value"] == pytest.approx(len(done) / 60)
    assert rows["successRate"]["met"] is False  # the target is 99.5%
    assert rows["p95GenerationSeconds"]["value"] == pytest.approx(150, rel=0.01)
    assert rows["p95GenerationSeconds"]["previous"] == pytest.approx(40, rel=0.01)
    cost = sum(d["costUsd"] for d in done)
    assert rows["costUsd"]["value"] == pytest.approx(cost)
    per_output = rows["costPerOutputSecondUsd"]
    assert per_output["value"] == pytest.approx(cost / sum(d["outputSeconds"] for d in done))
    assert per_output["previous"] == pytest.approx(10.0 / 20)  # September: $1 per 2 s, 10 times
    names = [r["name"] for r in review["headline"]]
    assert names.index("costPerOutputSecondUsd") == names.index("costUsd") + 1
    by_day = {p["start"]: p for p in review["series"]}
    assert len(review["series"]) == 31 and by_day[OCTOBER]["total"] == 2
    assert {p["provider"] for p in review["providers"]} == {"pika", "runway"}
    assert review["alerts"]["fired"] == 2 and review["alerts"]["medianAckMinutes"] == 4.0


def test_the_pdf_prints_the_figures_charts_providers_budgets_and_alerts(tmp_path: Path) -> None:
    world, docs = october_world()
    review = review_service(world).review(period_from("monthly", OCTOBER))
    data = review_pdf(review)
    assert data.startswith(b"%PDF-")
    (tmp_path / "review.pdf").write_bytes(data)  # pytest keeps it, to be looked at
    text = pdf_text(data)
    done = [d for d in docs if not d["failed"]]
    cost = sum(d["costUsd"] for d in done)
    expected = [
        "Monthly review: October 2026", "Headline figures", "Generations", "60", "10",
        "+500.0%", f"{len(done) / 60:.1%}", ">= 99.5%", "MISSED",
        f"${cost:,.2f}", f"${cost / sum(d['outputSeconds'] for d in done):,.4f}", "$0.5000",
        "Daily trends", "Generations per day", "Success rate per day",
        "p95 generation time per day", "Provider cost per day", "Providers", "pika", "runway",
        "Error budgets", "Alerts", "2 alerts fired",
        "median time to acknowledge 4 min", "Recommendations",
    ]  # fmt: skip
    at = 0
    for shown in expected:  # each in turn, after the one before
        at = text.find(shown, at)
        assert at >= 0, shown


def dashboard(world: World) -> Dashboard:
    return Dashboard(ApiServices(
        AnalyticsEngine(world.store, world.monitor), FixedClock(NOW), 400, verifier=verifier,
        digests=review_service(world),
    ))  # fmt: skip


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"from": "2026-10-01"}, "period"),
        ({"period": "yearly", "from": "2026-10-01"}, "period"),
        ({"period": "monthly"}, "from"),
        ({"period": "monthly", "from": "2026-10-15"}, "from"),
        ({"period": "monthly", "from": "2026-10-01", "colour": "red"}, "colour"),
    ],
)
def test_get_reports_answers_a_400_naming_the_bad_parameter(
    params: dict[str, str], named: str
) -> None:
    world, _ = october_world()
    response = dashboard(world).handle(Request("GET", "/reports", params, "Bearer tok-analytics"))
    assert not isinstance(response, StreamResponse)
    assert response.status == 400 and response.body["error"]["message"].startswith(f"{named}:")


def test_get_reports_answers_the_pdf() -> None:
    world, _ = october_world()
    params = {"period": "monthly", "from": "2026-10-01"}
    response = dashboard(world).handle(Request("GET", "/reports", params, "Bearer tok-analytics"))
    assert isinstance(response, StreamResponse)
    assert (response.content_type, response.filename) == (
        "application/pdf",
        "review-monthly-2026-10-01.pdf",
    )
    assert "Monthly review: October 2026" in pdf_text(b"".join(response.chunks))


class Outbox:
    """A mail transport that keeps what it is handed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    def submit(self, message: email.message.EmailMessage) -> None:
        parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.messages.append(parsed)


def test_the_monthly_review_is_mailed_once_with_the_pdf_attached() -> None:
    world, _ = october_world()
    store = MemoryStore()
    outbox = Outbox()
    channel = EmailChannel("monitoring@example.com", [], outbox)
    draws: list[str] = []

    def draw(review: Mapping[str, Any]) -> bytes:
        draws.append(review["period"]["key"])
        return review_pdf(review)

    send = sender(channel.send_digest, None, "https://console.example/",
                  (channel.send_review, draw))  # fmt: skip

    def subscribers(kind: str) -> list[Any]:
        return list(store.subs.values()) if kind == "monthly" else []

    store.subscribers = subscribers  # type: ignore[method-assign]
    first_day = dt.datetime(2026, 11, 1, 7, 5, tzinfo=UTC)
    assert review_service(world, store, send).send_due(first_day - dt.timedelta(hours=1)) == {}
    assert review_service(world, store, send).send_due(first_day) == {"monthly": 2}
    for later in (first_day, first_day + dt.timedelta(days=3)):  # reruns: nothing more
        assert review_service(world, store, send).send_due(later) == {}
    assert draws == ["monthly-2026-10-01"]  # drawn once for both recipients
    assert sorted(m["To"] for m in outbox.messages) == ["a@example.com", "b@example.com"]
    mail = outbox.messages[0]
    assert mail["Subject"] == "Monthly review: October 2026"
    body = mail.get_body(("plain",))
    assert body is not None and "Generations" in body.get_content()
    attached = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert [p.get_filename() for p in attached] == ["review-monthly-2026-10-01.pdf"]
    assert "Monthly review: October 2026" in pdf_text(attached[0].get_content())


def test_subscribing_changes_the_kinds_named_and_needs_an_email_for_any() -> None:
    service = review_service(World())
    choice: Mapping[Any, bool] = {"quarterly": True}
    with pytest.raises(InvalidArgument, match=r"^quarterly: "):
        service.subscribe("u9", None, choice, NOW)
    service.subscribe("u9", "x@example.com", {"weekly": True}, NOW)
    # The kinds a request leaves out keep their choice (the Exports page sends daily and weekly).
    assert service.subscribe("u9", "x@example.com", choice, NOW) == {
        "daily": False, "weekly": True, "monthly": False, "quarterly": True,
        "email": "x@example.com",
    }  # fmt: skip
    off = service.subscribe("u9", None, {"weekly": False, "quarterly": False}, NOW)
    assert not any(off[kind] for kind in ("daily", "weekly", "monthly", "quarterly"))


def test_an_overspent_budget_says_how_many_times_over() -> None:
    assert (budget_left(None), budget_left(0.25), budget_left(-32.33)) == (
        "–", "25%", "spent 33.3 times over",
    )  # fmt: skip
