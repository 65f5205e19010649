"""Digests: periods and when they are due, headline figures against targets, regressions,
alert timings, recommendations with their expected effect (computed by hand here), rendering,
and sending once per period and recipient under reruns, overlapping runs and failures."""

from __future__ import annotations

import datetime as dt
import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import pytest

from tests.unit.fakes import FakeAccounts, FixedClock
from video_monitoring.analytics import digest_render as render
from video_monitoring.analytics import recommend
from video_monitoring.analytics.digest_content import (
    DigestFigures,
    Period,
    PeriodKind,
    alert_summary,
    build_digest,
    due,
    headline,
    last_complete,
    regressions,
)
from video_monitoring.analytics.digest_service import DigestService, DigestSources, Recipient
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.core import png
from video_monitoring.core.identity import Account
from video_monitoring.core.models import Window
from video_monitoring.dashboard.standing import AccountCache

UTC = dt.UTC
MONDAY = dt.datetime(2026, 11, 30, tzinfo=UTC)
WEEK = Period("weekly", MONDAY - dt.timedelta(days=7), MONDAY)
TARGETS = DashboardSettings().targets()


def test_periods_end_at_midnight_and_are_due_from_seven_the_day_after() -> None:
    assert last_complete("daily", MONDAY + dt.timedelta(hours=9)) == Period(
        "daily", MONDAY - dt.timedelta(days=1), MONDAY
    )
    assert last_complete("weekly", MONDAY + dt.timedelta(days=3)) == WEEK
    assert WEEK.key == "weekly-2026-11-23" and WEEK.previous().end == WEEK.start
    assert due("weekly", MONDAY + dt.timedelta(hours=6, minutes=59)) is None
    assert due("weekly", MONDAY + dt.timedelta(hours=7)) == WEEK
    assert due("weekly", MONDAY + dt.timedelta(days=6, hours=23)) == WEEK  # still the same week
    assert due("daily", MONDAY + dt.timedelta(hours=7)).key == "daily-2026-11-29"  # type: ignore[union-attr]


def summary(total: int, completed: int, failed: int, avg: float, cost: float) -> dict[str, Any]:
    return {
        "generations": {"total": total, "successRate": completed / (completed + failed)},
        "generationTimeSeconds": {"avg": avg, "p95": avg * 2},
        "quality": {"avgScore": 8.8}, "satisfaction": {"avgRating": 4.6},
        "costUsd": cost, "business": {"revenueUsd": 100.0, "conversionRate": 0.05},
    }  # fmt: skip


def test_headline_figures_change_and_targets() -> None:
    rows = {r["name"]: r for r in headline(summary(1100, 990, 10, 50, 220),
                                           summary(1000, 980, 20, 40, 200), TARGETS)}  # fmt: skip
    assert rows["generations"]["change"] == pytest.approx(0.1)
    assert rows["successRate"]["value"] == pytest.approx(0.99)
    assert rows["successRate"]["met"] is False  # target 99.5%
    assert rows["avgGenerationSeconds"]["met"] is True  # 50 s <= 60 s
    assert rows["avgGenerationSeconds"]["change"] == pytest.approx(0.25)
    assert rows["satisfaction"]["met"] is True and rows["costUsd"]["target"] is None
    assert render.fmt_change(rows["successRate"]) == "+1.0 pp"  # 98% -> 99%


def provider(
    name: str, total: int, success: float, cost_per_s: float, quality: float, cost: float
) -> dict[str, Any]:
    return {
        "provider": name, "generations": {"total": total}, "successRate": success,
        "costPerOutputSecondUsd": cost_per_s, "quality": {"avgScore": quality}, "costUsd": cost,
        "generationTimeSeconds": {"p95": 100.0},
    }  # fmt: skip


def slower(figures: dict[str, Any], p95: float) -> dict[str, Any]:
    """A provider's figures with another p95 generation time."""
    return {**figures, "generationTimeSeconds": {"p95": p95}}


def test_regressions_are_the_figures_that_moved_the_wrong_way_worst_first() -> None:
    now = [
        slower(provider("pika", 100, 0.80, 0.05, 8.0, 50), 200),
        provider("runway", 100, 0.99, 0.05, 8.5, 50),
        provider("tiny", 5, 0.1, 1, 1, 1),
    ]
    before = [
        slower(provider("pika", 100, 0.97, 0.05, 8.0, 50), 100),
        provider("runway", 100, 0.995, 0.05, 8.5, 50),
        provider("tiny", 5, 1, 1, 1, 1),
    ]
    found = regressions(now, before)
    assert [(r["provider"], r["metric"]) for r in found] == [
        ("pika", "p95GenerationSeconds"),  # +100%
        ("pika", "successRate"),  # -17 points
    ]  # runway's half point is within tolerance; tiny has too few generations
    assert found[1]["worseBy"] == pytest.approx(0.17)


def alert(
    rule: str, fired: int, ack: int | None, resolved: int | None, auto: bool = True
) -> dict[str, Any]:
    at = MONDAY - dt.timedelta(days=3)
    return {
        "alertId": f"{rule}-{fired}", "ruleId": rule, "scope": "provider:pika",
        "severity": "critical", "status": "resolved" if resolved is not None else "firing",
        "firedAt": at + dt.timedelta(minutes=fired),
        "acknowledgedAt": None if ack is None else at + dt.timedelta(minutes=fired + ack),
        "resolvedAt": None if resolved is None else at + dt.timedelta(minutes=fired + resolved),
        "resolution": None if resolved is None else ("auto" if auto else "manual"),
    }  # fmt: skip


def test_alert_times_to_acknowledge_and_resolve() -> None:
    pending = {**alert("r", 0, None, None), "firedAt": None}
    alerts = [alert("a", 0, 4, 30), alert("a", 100, 10, 50), alert("b", 200, None, None)]
    found = alert_summary([*alerts, pending])
    assert found["fired"] == 3 and found["byRule"] == {"a": 2, "b": 1}
    assert found["medianAckMinutes"] == 7.0 and found["medianResolveMinutes"] == 40.0
    assert found["unacknowledged"] == 1
    assert render._alert_line(found["items"][0]).endswith(
        "acknowledged after 4 min, resolved after 30 min (auto)"
    )


def test_shift_traffic_names_the_better_provider_and_its_effect() -> None:
    pika = provider("pika", 400, 0.80, 0.06, 8.4, 600.0)  # 10,000 output seconds
    runway = provider("runway", 500, 0.988, 0.05, 8.6, 500.0)
    costly = provider("heygen", 300, 0.99, 0.09, 8.9, 900.0)  # as good, dearer: not chosen
    worse_quality = provider("d-id", 300, 0.999, 0.01, 7.0, 100.0)  # cheap, poorer videos
    found = recommend.shift_traffic(
        [pika, runway, costly, worse_quality], {"pika": 100, "runway": 50}, {}
    )
    (rec,) = found  # runway's 98.8% is within 3 points of heygen's and d-id's: no move for it
    assert rec["title"] == "Move premium traffic from pika to runway"
    # 100 premium jobs at 98.8% instead of 80%: 18.8 fewer failures; a quarter of pika's 10,000
    # output seconds at $0.01 less each: $25.
    assert rec["expected"] == {"failuresAvoided": 18.8, "usdSaved": 25.0}
    assert rec["evidence"]["from"]["successRate"] == 0.80
    (dearer,) = recommend.shift_traffic([pika, costly], {"pika": 100}, {})
    assert dearer["expected"] == {"failuresAvoided": 19.0, "usdSaved": -75.0}
    assert "cost $75.00 more" in dearer["text"]


def test_a_perfect_record_on_few_jobs_is_not_a_better_provider() -> None:
    pika = provider("pika", 400, 0.90, 0.06, 8.4, 600.0)
    lucky = provider("lucky", 25, 1.0, 0.05, 8.6, 50.0)  # 25 of 25: its interval reaches 86.7%
    assert recommend.shift_traffic([pika, lucky], {"pika": 100}, {}) == []
    steady = provider("steady", 400, 1.0, 0.05, 8.6, 500.0)  # 400 of 400: at least 99.0%
    (rec,) = recommend.shift_traffic([pika, lucky, steady], {"pika": 100}, {})
    assert rec["title"] == "Move premium traffic from pika to steady"


def test_noisy_rules_take_the_backtest_suggestion_and_rank_orders_by_effect() -> None:
    quick = [{**alert("flappy", i * 60, None, 10)} for i in range(4)]
    items = alert_summary([*quick, alert("steady", 0, 5, 200)])["items"]
    asked: list[str] = []

    def suggest(rule_id: str) -> Mapping[str, Any]:
        asked.append(rule_id)
        return {"threshold": 90.0, "firings": 4,
                "suggestion": {"threshold": 120.0, "firings": 1, "missed": [{}]}}  # fmt: skip

    (noisy,) = recommend.noisy_rules(items, {}, suggest)
    assert asked == ["flappy"] and noisy["expected"] == {
        "pagesSaved": 3, "threshold": 120.0, "missedEpisodes": 1,
    }  # fmt: skip
    rise = recommend.cost_rises([provider("pika", 100, 0.9, 0.066, 8, 660.0)],
                                [provider("pika", 100, 0.9, 0.06, 8, 600.0)], {})  # fmt: skip
    assert rise[0]["expected"]["usdSaved"] == pytest.approx(60.0)  # 10,000 s x $0.006
    shift = recommend.shift_traffic(
        [
            provider("pika", 400, 0.80, 0.06, 8.4, 600.0),
            provider("runway", 500, 0.98, 0.05, 8.6, 500.0),
        ],
        {"pika": 100}, {},
    )  # fmt: skip
    # pika: $40 failed + $20 of failed retry attempts = 10% of $600; runway wastes 2% of $500.
    wasteful = provider("pika", 400, 0.80, 0.06, 8.4, 600.0) | {
        "failedCostUsd": 40.0, "retryWasteUsd": 20.0}  # fmt: skip
    frugal = provider("runway", 500, 0.98, 0.05, 8.6, 500.0) | {
        "failedCostUsd": 6.0, "retryWasteUsd": 4.0}  # fmt: skip
    (waste,) = recommend.failure_costs([wasteful, frugal, provider("tiny", 5, 0.1, 1, 1, 9.0)], {})
    assert waste["evidence"]["wasteShare"] == pytest.approx(0.10)
    assert waste["evidence"]["benchmark"] == {"provider": "runway", "wasteShare": 0.02}
    assert waste["expected"]["usdSaved"] == pytest.approx(48.0)  # $600 x (10% - 2%)
    assert waste["title"] == "pika spent $60.00 on work that failed"
    # Under 5% of its spend, or under a dollar, is not worth a recommendation.
    assert recommend.failure_costs([frugal, frugal | {"provider": "b", "failedCostUsd": 20.0,
                                                      "retryWasteUsd": 0.0}], {}) == []  # fmt: skip
    assert recommend.failure_costs([wasteful], {}) == []  # nothing to compare with
    ranked = recommend.rank([*rise, waste, noisy, *shift])
    assert [(r["rank"], r["kind"]) for r in ranked] == [
        (1, "shift_traffic"), (2, "noisy_rule"), (3, "cost_rise"), (4, "failure_cost"),
    ]  # fmt: skip  # dollars: $60 saved, then $48


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_chart_is_a_valid_png_with_bars_where_values_are() -> None:
    data = png.bar_chart([1, None, 4], width=30, height=20)
    assert png_size(data) == (30, 20)
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    rows = zlib.decompress(idat)
    stride = 1 + 30 * 3
    bottom_row = rows[18 * stride + 1 : 19 * stride]  # just above the axis
    colored = {
        i // 3 for i in range(0, len(bottom_row), 3) if bottom_row[i : i + 3] != b"\xff\xff\xff"
    }
    assert colored and all(x < 10 or x >= 20 for x in colored)  # no bar in the gap


def sample_digest() -> dict[str, Any]:
    return build_digest(WEEK, DigestFigures(
        summary(1100, 990, 10, 50, 220), summary(1000, 980, 20, 40, 200),
        [provider("pika", 400, 0.80, 0.06, 8.4, 600.0)],
        [provider("pika", 400, 0.9, 0.06, 8.4, 600.0)],
        TARGETS, [alert("a", 0, 4, 30)],
        [{"at": MONDAY - dt.timedelta(days=2), "provider": "pika", "by": "rule",
          "text": "pika: open (weight 0): low_success_rate fired"}],
        [{"rank": 1, "kind": "noisy_rule", "title": "Retune <a>", "text": "x & y", "expected": {}}],
        [{"start": WEEK.start, "total": 10, "successRate": 0.9}],
    ))  # fmt: skip


def test_rendering_text_html_and_slack() -> None:
    digest = sample_digest()
    text = render.text(digest, "https://console.example/")
    assert text.startswith("Weekly digest: 2026-11-23 to 2026-11-29 (UTC)")
    assert "Success rate" in text and "target >= 99.5%: missed" in text
    assert "pika: successRate 0.8 (was 0.9)" in text
    assert "1. Retune <a>" in text and "pika: open (weight 0)" in text
    page = render.to_html(digest, "https://console.example/")
    assert (
        "Retune &lt;a&gt;" in page
        and "x &amp; y" in page
        and "<a>" not in page.replace("<a href", "")
    )
    assert "cid:generations" in page and "cid:success" in page
    assert set(render.charts(digest)) == {"generations", "success"}
    served = json.loads(json.dumps(digest, default=lambda t: t.isoformat()))
    assert render.text(served, "https://console.example/") == text  # as the API serves it
    slack = render.slack(digest, "https://console.example/")
    assert slack["text"] == render.title(digest) and slack["blocks"][0]["type"] == "header"


class MemoryStore:
    """Deliveries with the Firestore store's claim rules (sent, leased, attempts)."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.choices: dict[str, dict[str, Any]] = {}
        self.subs = {"u1": Recipient("u1", "email", "a@example.com"),
                     "u2": Recipient("u2", "email", "b@example.com")}  # fmt: skip

    def subscribers(self, kind: str) -> list[Recipient]:
        return list(self.subs.values()) if kind == "weekly" else []

    def claim(self, period: str, recipient: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        record = self.records.setdefault(f"{period}__{recipient}", {"attempts": 0})
        leased = record.get("status") == "sending" and record["lease"] > now
        if record.get("status") in ("sent", "skipped") or leased or record["attempts"] >= 12:
            return False
        record.update(status="sending", lease=now + lease, attempts=record["attempts"] + 1)
        return True

    def finish(self, period: str, recipient: str, now: dt.datetime, error: str | None) -> None:
        self.records[f"{period}__{recipient}"]["status"] = "sent" if error is None else "failed"

    def skip(self, period: str, recipient: str, now: dt.datetime, reason: str) -> None:
        self.records[f"{period}__{recipient}"].update(status="skipped", reason=reason)

    def control_changes(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        return []

    def subscription(self, uid: str) -> dict[str, Any] | None:
        return self.choices.get(uid)

    def subscribe(
        self, uid: str, email: str, choice: Mapping[PeriodKind, bool], now: dt.datetime
    ) -> None:
        self.choices[uid] = {"email": email, **{str(k): v for k, v in choice.items()}}


class Figures:
    def summary(self, window: Window) -> dict[str, Any]:
        return summary(100, 95, 5, 40, 10)

    def provider_comparison(self, window: Window) -> dict[str, Any]:
        return {"providers": []}

    def cells(self, window: Window) -> Any:
        return []

    def trends(self, window: Window, granularity: Any, metric: str, horizon: int) -> dict[str, Any]:
        return {"series": [{"start": window.start, "total": 3, "successRate": 1.0}]}


def test_each_recipient_gets_one_digest_per_period_under_reruns_overlaps_and_failures() -> None:
    store = MemoryStore()
    sent: list[tuple[str, str]] = []
    failing = {"b@example.com": 1}  # b's first attempt fails

    def send(recipient: Recipient, digest: Mapping[str, Any]) -> None:
        address = recipient.address or recipient.key
        if failing.get(address, 0) > 0:
            failing[address] -= 1
            raise ConnectionError("smtp down")
        sent.append((address, digest["period"]["key"]))

    def service() -> DigestService:
        return DigestService(
            DigestSources(Figures(), lambda s, e: [], lambda *a: {}), store, TARGETS, send,
            ["weekly"],
            accounts=None,
        )  # fmt: skip

    at = MONDAY + dt.timedelta(hours=7, minutes=5)
    assert service().send_due(MONDAY + dt.timedelta(hours=6)) == {}  # not due yet
    first = service().send_due(at)
    assert first == {"weekly": 2}  # a and the team's Slack; b failed
    again = service().send_due(at + dt.timedelta(minutes=5))  # the next run retries b only
    overlap = service().send_due(at + dt.timedelta(minutes=5))  # an overlapping run: nothing
    assert again == {"weekly": 1} and overlap == {}
    assert service().send_due(at + dt.timedelta(days=1)) == {}  # the same week: nothing more
    week = "weekly-2026-11-23"
    assert sorted(sent) == [("a@example.com", week), ("b@example.com", week), ("slack", week)]


def test_each_recipient_is_checked_at_send_time_and_skipped_with_the_reason() -> None:
    store = MemoryStore()
    people = {
        "ok": ("ok@example.com", Account("ok", "ok-now@example.com", True, role="analytics")),
        "admin": ("ad@example.com", Account("admin", "ad@example.com", True, role="admin")),
        "gone": ("gone@example.com", None),
        "off": ("off@example.com", Account("off", "off@example.com", True, True, "admin")),
        "norole": ("nr@example.com", Account("norole", "nr@example.com", True)),
        "viewer": ("v@example.com", Account("viewer", "v@example.com", True, role="viewer")),
        "unverified": ("u@example.com", Account("unverified", "u@example.com", role="admin")),
        "noemail": ("n@example.com", Account("noemail", None, True, role="admin")),
    }
    store.subs = {uid: Recipient(uid, "email", address) for uid, (address, _) in people.items()}
    accounts = FakeAccounts(*(a for _, a in people.values() if a is not None))
    sent: list[str] = []
    service = DigestService(
        DigestSources(Figures(), lambda s, e: [], lambda *a: {}), store, TARGETS,
        lambda r, d: sent.append(r.address or r.key), accounts=accounts,
    )  # fmt: skip
    at = MONDAY + dt.timedelta(hours=7, minutes=5)
    accounts.down = True  # Auth does not answer: nobody is sent or skipped, all retried
    assert service.send_due(at) == {}
    assert {r["status"] for r in store.records.values()} == {"failed"}
    accounts.down = False
    assert service.send_due(at + dt.timedelta(minutes=5)) == {"weekly": 2}
    assert sorted(sent) == ["ad@example.com", "ok-now@example.com"]  # the current address
    week = "weekly-2026-11-23"
    reasons = {uid: store.records[f"{week}__{uid}"].get("reason") for uid in people}
    assert reasons == {
        "ok": None, "admin": None, "gone": "user-deleted", "off": "user-disabled",
        "norole": "no-role", "viewer": "no-role", "unverified": "email-unverified",
        "noemail": "email-unverified",
    }  # fmt: skip
    looked_up = accounts.lookups
    assert service.send_due(at + dt.timedelta(minutes=10)) == {}  # skipped is final this week
    assert accounts.lookups == looked_up and len(sent) == 2


def test_a_recipient_seen_by_the_api_moments_ago_is_still_checked_afresh_at_send_time() -> None:
    store = MemoryStore()
    store.subs = {uid: Recipient(uid, "email", f"{uid}@example.com") for uid in ("kept", "gone")}
    source = FakeAccounts(*(Account(uid, f"{uid}@example.com", True, role="analytics")
                            for uid in ("kept", "gone")))  # fmt: skip
    at = MONDAY + dt.timedelta(hours=7, minutes=5)
    clock = FixedClock(at)
    cache = AccountCache(source, clock, dt.timedelta(seconds=60))  # the API's, one per instance
    assert cache.account("gone") is not None  # the user's last request, just before the tick
    del source.accounts["gone"]
    sent: list[str] = []
    service = DigestService(
        DigestSources(Figures(), lambda s, e: [], lambda *a: {}), store, TARGETS,
        lambda r, d: sent.append(r.key), accounts=cache,
    )  # fmt: skip
    assert service.send_due(at) == {"weekly": 1} and sent == ["kept"]
    assert store.records["weekly-2026-11-23__gone"]["reason"] == "user-deleted"
    assert cache.account("gone") is None  # the API refuses the deleted user from now on
