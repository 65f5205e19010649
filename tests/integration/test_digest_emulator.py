"""On the real stack: a user opts in to the weekly digest over HTTP; the scheduled tick after
07:00 UTC on Monday mails it once to the real SMTP server (text, HTML and inline PNG charts),
however often the tick reruns; GET /digest serves the same figures."""

from __future__ import annotations

import datetime as dt
import email.message

import pytest
from google.cloud import firestore

from local_stack.receivers import Receivers
from tests.integration.support import Stack, api, wait_until
from tests.integration.test_alerting_emulator import generation
from video_monitoring.analytics.digest_content import last_complete

pytestmark = pytest.mark.integration
LEAD = "ops-lead@example.com"


def test_a_weekly_digest_is_mailed_once_with_its_charts(
    stack: Stack, db: firestore.Client, receivers: Receivers
) -> None:
    week = last_complete("weekly", dt.datetime.now(dt.UTC))
    batch = db.batch()
    for i in range(30):
        created = week.start + dt.timedelta(days=i % 7, hours=10, minutes=i)
        outcome = "failed" if i % 10 == 0 else "completed"
        batch.set(db.collection("video_generations").document(f"dg-{i}"),
                  generation("runway" if i % 2 else "pika", outcome, 40, created))  # fmt: skip
    batch.commit()
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: sum(1 for _ in metrics.select([]).stream()) == 30, timeout=60)
    stack.settle()

    status, body = api(stack, "PUT", "/me/digests", {"weekly": True}, "analytics", email=LEAD)
    assert status == 200 and body == {
        "daily": False, "weekly": True, "monthly": False, "quarterly": False, "email": LEAD,
    }  # fmt: skip
    status, body = api(stack, "PUT", "/me/digests", {"weekly": "yes"}, "analytics", email=LEAD)
    assert status == 400 and body["error"]["message"].startswith("weekly:")
    status, body = api(
        stack, "PUT", "/me/digests", {"daily": True}, "analytics"
    )  # no email in the token
    assert status == 400 and body["error"]["message"].startswith("daily:")
    assert api(stack, "GET", "/me/digests", role="analytics")[1]["weekly"] is True

    before = len(receivers.inbox.messages)
    tick = week.end + dt.timedelta(hours=7, minutes=5)
    for when in (tick, tick, tick + dt.timedelta(minutes=5)):  # reruns and the next run
        assert stack.run_schedule("aggregate_and_alert", when) == 200
    wait_until(lambda: len(receivers.inbox.messages) > before, timeout=20)
    mails = [m for m in receivers.inbox.messages[before:] if "digest" in str(m["Subject"])]
    assert len(mails) == 1, [m["Subject"] for m in mails]
    mail = mails[0]
    assert mail["To"] == LEAD
    end = week.end - dt.timedelta(days=1)
    assert mail["Subject"] == f"Weekly digest: {week.start:%Y-%m-%d} to {end:%Y-%m-%d} (UTC)"
    assert isinstance(mail, email.message.EmailMessage)
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    assert "Generations" in plain and " 30 " in plain  # the week's generations
    assert "90.0%" in plain  # 27 of 30 completed
    images = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert sorted(p["Content-ID"] for p in images) == ["<generations>", "<success>"]
    assert all(p.get_content()[:8] == b"\x89PNG\r\n\x1a\n" for p in images)
    assert "cid:generations" in html.get_content()

    status, digest = api(stack, "GET", "/digest", role="analytics", email=LEAD)
    assert status == 200 and digest["period"]["key"] == week.key
    rows = {r["name"]: r for r in digest["headline"]}
    assert rows["generations"]["value"] == 30 and rows["successRate"]["value"] == 0.9
    assert api(stack, "GET", "/digest", role="analytics")[0] == 200
    status, body = api(stack, "GET", "/digest?period=monthly", role="analytics")
    assert status == 400 and body["error"]["message"].startswith("period:")
