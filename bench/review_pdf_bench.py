"""Drawing a quarterly review as a PDF (dashboard/review_report.py), in process: a 92-day
quarter with its daily series, every provider, the objectives' budgets, the most alerts the
review lists one by one and ranked recommendations. Prints p50 and max milliseconds over several
draws and the PDF's size. The figures' reads are the window reads' (digest_bench.py, the
BigQuery benchmarks); this is what a review adds on top of them."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from video_monitoring.analytics.digest_content import period_from
from video_monitoring.dashboard.review_report import ALERT_ROWS, review_pdf

PROVIDERS = ("runway", "pika", "heygen", "synthesia", "d-id", "luma", "kling", "veo")


def provider(rng: random.Random, name: str) -> dict[str, Any]:
    """One /providers row."""
    return {
        "provider": name, "generations": {"total": rng.randrange(10_000, 90_000)},
        "successRate": rng.uniform(0.9, 1.0),
        "generationTimeSeconds": {"p95": rng.uniform(30, 200)},
        "quality": {"avgScore": rng.uniform(6, 9)},
        "costPerOutputSecondUsd": rng.uniform(0.01, 0.1),
        "errors": {"timeout": rng.randrange(100), "provider_5xx": rng.randrange(100)},
    }  # fmt: skip


def quarter_review(rng: random.Random) -> dict[str, Any]:
    """A review JSON as DigestService.review builds it, with every section full."""
    period = period_from("quarterly", dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    before = period.previous()
    row = {"unit": "count", "value": 1000.0, "previous": 900.0, "change": 0.11, "better": "higher",
           "target": None, "met": None}  # fmt: skip
    fired = period.start + dt.timedelta(hours=5)
    return {
        "period": period.to_json(), "previous": before.to_json(),
        "headline": [{**row, "name": f"f{i}", "label": f"Figure {i}"} for i in range(11)],
        "series": [
            {"start": period.start + dt.timedelta(days=d), "total": rng.randrange(5000, 9000),
             "successRate": rng.uniform(0.95, 1), "p95GenerationSeconds": rng.uniform(60, 120),
             "costUsd": rng.uniform(500, 900)}
            for d in range((period.end - period.start).days)
        ],
        "providers": [provider(rng, p) for p in PROVIDERS],
        "slos": [{"sloId": f"slo_{i}", "scope": "overall", "sli": 0.99, "target": 0.995,
                  "windowDays": 28, "budgetRemaining": -0.4, "status": "exhausted"}
                 for i in range(10)],
        "alerts": {
            "fired": ALERT_ROWS + 40, "critical": 12, "medianAckMinutes": 6.5,
            "medianResolveMinutes": 42.0, "unacknowledged": 3,
            "items": [{"firedAt": fired + dt.timedelta(hours=i * 20), "ruleId": "low_success_rate",
                       "scope": "provider:pika", "severity": "critical", "ackMinutes": 4.0,
                       "resolveMinutes": 30.0, "resolution": "auto", "status": "resolved"}
                      for i in range(ALERT_ROWS + 40)],
        },
        "recommendations": [{"rank": i + 1, "title": f"Recommendation {i + 1}",
                             "text": "Move premium traffic; expected to save money. " * 3}
                            for i in range(8)],
        "source": "bigquery+firestore",
    }  # fmt: skip


def main() -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    review = quarter_review(random.Random(7))
    review_pdf(review)  # reportlab's fonts and modules load once per process
    times, size = [], 0
    for _ in range(args.draws):
        started = time.perf_counter()
        size = len(review_pdf(review))
        times.append((time.perf_counter() - started) * 1000)
    print(f"quarterly review PDF (92 days, {len(PROVIDERS)} providers, {ALERT_ROWS} alert rows)")
    print(f"  draw p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
          f"over {args.draws} draws; {size / 1024:.0f} KiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
