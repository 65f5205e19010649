"""Error recovery on the real stack: generations with retries, fallbacks and error codes written
through the real trigger path; `GET /recovery` compared with figures computed here from the
seed; redelivered trigger events change nothing; the tick fires `recovery_rate_drop`."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.integration.support import Stack, api, summary, wait_until

pytestmark = pytest.mark.integration
TRACKED = ("d-id", "heygen", "pika", "runway", "synthesia")  # the stack's TRACKED_PROVIDERS
TRACKED_CODES = (
    "provider_timeout", "provider_5xx", "provider_unavailable", "content_policy",
    "quota_exceeded", "rate_limited", "invalid_input", "timeout", "internal_error",
)  # fmt: skip
# ERROR_CLASSES as the stack runs it (the default); other codes follow the document's flag.
RETRYABLE = {"provider_timeout", "provider_5xx", "provider_unavailable", "quota_exceeded",
             "rate_limited", "timeout"}  # fmt: skip
PERMANENT = {"content_policy", "invalid_input"}
M = 60.0


@dataclass(frozen=True)
class Seed:
    """One generation, created `created` seconds before the test's reference time."""

    doc_id: str
    provider: str
    status: str
    created: float
    attempts: int = 1
    fallback: str | None = None
    code: str | None = None
    retryable: bool = True

    def doc(self, t0: dt.datetime) -> dict[str, Any]:
        created = t0 - dt.timedelta(seconds=self.created)
        body: dict[str, Any] = {
            "userId": f"user-{self.doc_id}", "provider": self.provider, "status": self.status,
            "createdAt": created, "userTier": "free", "attempts": self.attempts,
        }  # fmt: skip
        if self.status in ("completed", "failed", "cancelled"):
            body["completedAt"] = created + dt.timedelta(seconds=30)
        if self.fallback is not None:
            body["fallbackFrom"] = self.fallback
        if self.code is not None:
            body["error"] = {"code": self.code, "message": "x", "retryable": self.retryable}
        return body


def _seeds() -> tuple[Seed, ...]:
    """Ten codes (one untracked), retries, take-overs between tracked and untracked providers."""
    seeds = []
    codes = (*TRACKED_CODES, "weird_code")
    for i in range(30):
        provider = ("runway", "pika", "heygen", "acme")[i % 4]
        failed = i % 3 != 0
        seeds.append(
            Seed(
                f"g{i:02d}", provider, "failed" if failed else "completed", (5 + i) * M,
                attempts=1 + i % 3, fallback=("pika", "zeta", None)[i % 3] if i % 2 else None,
                code=codes[i % len(codes)] if failed else None, retryable=i % 4 != 1,
            )
        )  # fmt: skip
    seeds += [
        Seed("q1", "runway", "queued", 2 * M, attempts=2, fallback="pika"),  # not finished
        Seed("x1", "pika", "cancelled", 3 * M, attempts=3),  # not finished either
        Seed("old", "runway", "failed", 200 * M, attempts=2, code="timeout"),  # before window
    ]
    return tuple(seeds)


SEEDS = _seeds()


def seed(stack: Stack, db: firestore.Client, seeds: tuple[Seed, ...], t0: dt.datetime) -> None:
    """Write each source document and wait until the trigger recorded every one."""
    for s in seeds:
        db.collection("video_generations").document(s.doc_id).set(s.doc(t0))
    ledger = db.collection("video_generation_metrics")
    wait_until(lambda: len(list(ledger.select([]).stream())) == len(seeds), timeout=60)
    stack.settle()


def mapped(provider: str) -> str:
    return provider if provider in TRACKED else "other"


def expected(seeds: tuple[Seed, ...], t0: dt.datetime, start: dt.datetime) -> dict[str, Any]:
    """The answer's figures, computed from the seed as docs/recovery.md defines them."""
    mine = [s for s in seeds if t0 - dt.timedelta(seconds=s.created) >= start]
    finished = [s for s in mine if s.status in ("completed", "failed")]
    tried = [s for s in finished if s.attempts > 1 or s.fallback]
    recovered = sum(s.status == "completed" for s in tried)
    failures = [s for s in finished if s.status == "failed"]

    def code(s: Seed) -> str:
        return s.code if s.code in TRACKED_CODES else "other"

    def klass(s: Seed) -> str:
        if code(s) in RETRYABLE or (code(s) not in PERMANENT and s.retryable):
            return "retryable"
        return "permanent"

    per_code = Counter(code(s) for s in failures)
    top = sorted((c for c in per_code if c != "other"), key=lambda c: (-per_code[c], c))[:8]
    classes = Counter(klass(s) for s in failures)
    matrix: dict[tuple[str, str], Counter[str]] = {}
    for s in finished:
        if s.fallback:
            matrix.setdefault((mapped(s.fallback), mapped(s.provider)), Counter())[s.status] += 1
    return {
        "recovery": {
            "attempted": len(tried),
            "recovered": recovered,
            "unrecovered": len(tried) - recovered,
            "rate": recovered / len(tried),
        },
        "failed": len(failures),
        "retryable": classes["retryable"],
        "permanent": classes["permanent"],
        "topCodes": top,
        "codes": {
            **{c: per_code[c] for c in top},
            "other": sum(n for c, n in per_code.items() if c not in top),
        },
        "fallbacks": {pair: (o["completed"], o["failed"]) for pair, o in matrix.items()},
    }


def check(body: dict[str, Any], want: dict[str, Any]) -> None:
    assert body["recovery"] == want["recovery"]
    errors = body["errors"]
    assert (errors["failed"], errors["retryable"], errors["permanent"]) == (
        want["failed"], want["retryable"], want["permanent"]
    )  # fmt: skip
    assert errors["retryableShare"] == want["retryable"] / want["failed"]
    assert errors["topCodes"] == want["topCodes"]
    assert {r["code"]: r["failed"] for r in errors["codes"]} == want["codes"]
    series = Counter[str]()
    for point in body["errorSeries"]:
        series.update(point["codes"])
    assert dict(series) == want["codes"]  # every failure in exactly one bucket
    matrix = {(r["from"], r["to"]): (r["completed"], r["failed"]) for r in body["fallbacks"]}
    assert matrix == want["fallbacks"]


def test_recovery_matches_the_seed_and_ignores_redelivery(
    stack: Stack, db: firestore.Client
) -> None:
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    seed(stack, db, SEEDS, t0)
    minute = t0.replace(second=0)
    start, end = minute - dt.timedelta(minutes=60), minute + dt.timedelta(minutes=1)
    params = {"from": start.isoformat(), "to": end.isoformat()}
    want = expected(SEEDS, t0, start)
    assert want["recovery"]["attempted"] >= 20 and len(want["topCodes"]) == 8
    assert ("other", "other") in want["fallbacks"]  # acme taken over from zeta

    body = summary(stack, params, "/recovery")
    assert body["granularity"] == "minute" and len(body["errorSeries"]) == 61
    check(body, want)
    hourly = summary(stack, {**params, "granularity": "hour"}, "/recovery")
    check(hourly, want)
    pika = summary(stack, {**params, "provider": "pika"}, "/recovery")
    assert (
        pika["recovery"]
        == expected(tuple(s for s in SEEDS if s.provider == "pika"), t0, start)["recovery"]
    )

    # A redelivered trigger event (the same change again) changes no figure.
    for doc_id in ("g01", "g02", "g05", "q1", "x1"):
        for event in stack.recorded(doc_id):
            assert stack.replay(event) < 300
    stack.settle()
    assert summary(stack, params, "/recovery") == body

    status, error = api(stack, "GET", "/recovery?granularity=second")
    assert status == 400 and error["error"]["message"].startswith("granularity:")


def firing(db: firestore.Client, rule: str) -> list[str]:
    """Scopes in which the rule's alert is firing."""
    query = db.collection("alert_instances").where(filter=FieldFilter("ruleId", "==", rule))
    docs = (s.to_dict() or {} for s in query.stream())
    return sorted(str(d.get("scope")) for d in docs if d.get("status") == "firing")


def test_recovery_rate_drop_fires_when_retried_generations_stop_completing(
    stack: Stack, db: firestore.Client
) -> None:
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # 24 retried on runway, 4 of them completed (17%); pika's 30 recover (no alert there).
    seeds = tuple(
        Seed(
            f"r{i:02d}",
            "runway",
            "completed" if i < 4 else "failed",
            (6 + i) * M,
            attempts=2,
            code=None if i < 4 else "provider_5xx",
        )
        for i in range(24)
    ) + tuple(Seed(f"p{i:02d}", "pika", "completed", (6 + i) * M, attempts=3) for i in range(30))
    seed(stack, db, seeds, t0)
    tick = t0.replace(second=0)
    seen = []
    for n in range(2):
        assert stack.run_schedule("aggregate_and_alert", tick + dt.timedelta(minutes=5 * n)) == 200
        seen.append(firing(db, "recovery_rate_drop"))
    # Two ticks below 0.5 (pendingEvaluations 2): runway fires; overall is 34/54 = 63%.
    assert seen == [[], ["provider:runway"]]
