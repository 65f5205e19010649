"""Reviews on the real stack: a month long past the rollups' retention reviewed from the
BigQuery emulator, its figures in the PDF compared with answers computed here from the rows the
test wrote; and the monthly review mailed once, as a PDF, through the real SMTP server on the
first day of the next month, however often the tick reruns."""

from __future__ import annotations

import datetime as dt
import email.message
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore

from local_stack.receivers import Receivers
from tests.integration.support import Stack, api, token, wait_until
from tests.integration.test_alerting_emulator import generation
from tests.integration.test_bigquery_emulator import export_in_process
from tests.unit.test_export import pdf_text
from video_monitoring.adapters.bigquery import BigQueryWarehouse
from video_monitoring.analytics.digest_content import last_complete

pytestmark = pytest.mark.integration
LEAD = "ops-lead@example.com"


def reports(stack: Stack, params: dict[str, str]) -> requests.Response:
    """GET /reports as an analytics user."""
    return requests.get(
        stack.url("video_analytics_dashboard", "/reports"), params=params,
        headers={"Authorization": f"Bearer {token()}"}, timeout=120,
    )  # fmt: skip


def drawn(text: str) -> list[str]:
    """The strings a reportlab page draws, in order (escapes undone: `\\(`, octal `\\226`)."""

    def unescape(match: re.Match[str]) -> str:
        code = match.group(1)
        return bytes([int(code, 8)]).decode("cp1252") if code[0].isdigit() else code

    return [
        re.sub(r"\\([0-7]{3}|.)", unescape, s) for s in re.findall(r"\((.*?)(?<!\\)\) Tj", text)
    ]


def after(strings: list[str], label: str, count: int = 1) -> list[str]:
    """The `count` strings drawn after the first `label`."""
    at = strings.index(label)
    return strings[at + 1 : at + 1 + count]


def shown(run_dir: Path, name: str, data: bytes) -> None:
    """Keep a PDF under the session's `reviews/`, to be looked at (pdftoppm) after a run."""
    (run_dir / "reviews").mkdir(exist_ok=True)
    (run_dir / "reviews" / name).write_bytes(data)


def test_a_month_beyond_the_rollups_retention_is_reviewed_from_bigquery(
    stack: Stack, db: firestore.Client, bq: BigQueryWarehouse, run_dir: Path
) -> None:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    month = (today - dt.timedelta(days=800)).replace(day=1)  # the rollups keep 760 days
    rng = random.Random(28)
    docs: list[dict[str, Any]] = []
    days = (2, 11, 27)
    batch = db.batch()
    for i in range(48):
        day = month + dt.timedelta(days=days[i % 3] - 1)
        provider = ("runway", "pika")[i % 2]
        status = "failed" if i % 6 == 1 else "completed"
        doc: dict[str, Any] = {
            "generationId": f"rv-{i}", "userId": f"u{i % 5}", "provider": provider,
            "status": status, "userTier": "free",
            "createdAt": day + dt.timedelta(minutes=rng.randrange(1440)),
            "generationSeconds": None, "costUsd": round(rng.uniform(0, 1), 4), "features": [],
        }  # fmt: skip
        if status == "completed":  # as the pipeline records them: times of completed ones only
            doc["generationSeconds"] = round(rng.uniform(20, 200), 3)
            doc["outputSeconds"] = rng.choice((5.0, 10.0))
            doc["qualityScore"] = round(rng.uniform(5, 10), 2)
        docs.append(doc)
        batch.set(db.collection("video_generation_metrics").document(doc["generationId"]), doc)
    batch.commit()
    for number in days:
        export_in_process(db, bq, month + dt.timedelta(days=number - 1))

    response = reports(stack, {"period": "monthly", "from": f"{month:%Y-%m-%d}"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    name = f"review-monthly-{month:%Y-%m-%d}.pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    shown(run_dir, "bigquery-review.pdf", response.content)
    text = pdf_text(response.content)
    strings = drawn(text)
    assert strings[0] == f"Monthly review: {month:%B %Y}"
    assert strings[1].endswith("figures read from bigquery")

    done = [d for d in docs if d["status"] == "completed"]
    failed = len(docs) - len(done)
    cost = sum(d["costUsd"] for d in docs)
    # This period, the previous period (nothing then), the change.
    assert after(strings, "Generations", 3) == [f"{len(docs)}", "0", "–"]
    assert after(strings, "Success rate", 2) == [f"{len(done) / (len(done) + failed):.1%}", "–"]
    assert after(strings, "Provider cost")[0] == f"${cost:,.2f}"
    per_output = cost / sum(d["outputSeconds"] for d in done)
    assert after(strings, "Cost per output second")[0] == f"${per_output:,.4f}"
    times = sorted(d["generationSeconds"] for d in done)
    p95 = float(after(strings, "p95 generation time")[0].removesuffix(" s"))
    rank = 0.95 * (len(times) - 1)  # the sketch holds 1 % of the order statistics around it
    assert times[math.floor(rank)] * 0.99 - 0.05 <= p95 <= times[math.ceil(rank)] * 1.01 + 0.05
    scores = [d["qualityScore"] for d in done]
    assert after(strings, "Quality score")[0] == f"{sum(scores) / len(scores):.2f}"
    for provider in ("runway", "pika"):
        mine = [d for d in docs if d["provider"] == provider]
        ok = sum(d["status"] == "completed" for d in mine)
        assert after(strings, provider, 2) == [f"{len(mine)}", f"{ok / len(mine) * 100:.2f}%"]
    assert "Generations per day" in strings and "Provider cost per day" in strings

    for params, named in (
        ({"from": f"{month:%Y-%m-%d}"}, "period"),
        ({"period": "quarterly", "from": f"{month:%Y-%m}-15"}, "from"),
        ({"period": "monthly", "from": f"{today + dt.timedelta(days=40):%Y-%m}-01"}, "from"),
    ):
        bad = reports(stack, params)
        assert bad.status_code == 400, bad.text
        assert bad.json()["error"]["message"].startswith(f"{named}:")


def test_the_monthly_review_is_mailed_once_with_the_pdf_on_the_first_day(
    stack: Stack, db: firestore.Client, receivers: Receivers, run_dir: Path
) -> None:
    month = last_complete("monthly", dt.datetime.now(dt.UTC))
    batch = db.batch()
    for i in range(20):
        created = month.start + dt.timedelta(days=i % 28, hours=9, minutes=i)
        outcome = "failed" if i % 5 == 0 else "completed"
        batch.set(db.collection("video_generations").document(f"rv-{i}"),
                  generation("runway" if i % 2 else "pika", outcome, 50, created))  # fmt: skip
    batch.commit()
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: sum(1 for _ in metrics.select([]).stream()) == 20, timeout=60)
    stack.settle()

    status, body = api(stack, "PUT", "/me/digests", {"monthly": True}, "analytics", email=LEAD)
    assert status == 200 and body == {
        "daily": False, "weekly": False, "monthly": True, "quarterly": False, "email": LEAD,
    }  # fmt: skip

    before = len(receivers.inbox.messages)
    tick = month.end + dt.timedelta(hours=7, minutes=5)
    for when in (tick - dt.timedelta(hours=1), tick, tick, tick + dt.timedelta(minutes=5)):
        assert stack.run_schedule("aggregate_and_alert", when) == 200
    wait_until(lambda: len(receivers.inbox.messages) > before, timeout=30)
    mails = [m for m in receivers.inbox.messages[before:] if "review" in str(m["Subject"])]
    assert len(mails) == 1, [m["Subject"] for m in mails]
    mail = mails[0]
    assert isinstance(mail, email.message.EmailMessage)
    assert mail["To"] == LEAD and mail["Subject"] == f"Monthly review: {month.start:%B %Y}"
    plain = mail.get_body(("plain",))
    assert plain is not None and "Generations" in plain.get_content()
    pdfs = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert [p.get_filename() for p in pdfs] == [f"review-{month.key}.pdf"]
    data = pdfs[0].get_content()
    shown(run_dir, "mailed-review.pdf", data)
    strings = drawn(pdf_text(data))
    assert after(strings, "Generations", 1) == ["20"]
    assert after(strings, "Success rate", 1) == ["80.0%"]  # 16 of 20 completed
    assert after(strings, "Provider cost", 1) == [f"${20 * 0.2:,.2f}"]
