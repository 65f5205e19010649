"""Changes lost while the functions host was down are repaired by the nightly drift audit."""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.lifecycles import expected
from tests.integration.support import Stack, summary, wait_until, whole_day
from video_monitoring.config.settings import get_settings
from video_monitoring.runtime import jobs
from video_monitoring.runtime.bootstrap import build
from video_monitoring.runtime.jobs import AuditIncomplete

pytestmark = pytest.mark.integration
DAY, WINDOW = whole_day(1)  # yesterday: the audit run of today covers it


def finished(rng: random.Random, i: int) -> dict[str, object]:
    created = DAY + dt.timedelta(hours=2, minutes=i)
    status = "failed" if i % 5 == 0 else "completed"
    doc: dict[str, object] = {
        "userId": f"audit-u{i % 3}",
        "provider": rng.choice(("runway", "pika")),
        "status": status,
        "createdAt": created,
        "startedAt": created + dt.timedelta(seconds=3),
        "completedAt": created + dt.timedelta(seconds=rng.uniform(20, 90)),
        "userTier": "free",
        "costUsd": round(rng.uniform(0.1, 1.0), 4),
    }
    if status == "failed":
        doc["error"] = {"code": "timeout", "message": "x", "retryable": True}
    return doc


def test_audit_repairs_changes_lost_while_the_host_was_down(
    stack: Stack, db: firestore.Client
) -> None:
    rng = random.Random(4)
    sources = db.collection("video_generations")
    docs = {f"audit-{i}": finished(rng, i) for i in range(24)}
    for doc_id in list(docs)[:4]:  # counted while the host runs
        sources.document(doc_id).set(docs[doc_id])
    wait_until(lambda: summary(stack, WINDOW)["generations"]["total"] == 4)
    upgrade = {"type": "premium_upgrade", "userId": "audit-u0", "amountUsd": 12.5,
               "timestamp": DAY + dt.timedelta(hours=3)}  # fmt: skip

    stack.local.stop_host()
    try:
        for doc_id in list(docs)[4:]:  # finished jobs: no later write will ever come
            sources.document(doc_id).set(docs[doc_id])
        sources.document("audit-0").delete()
        del docs["audit-0"]
        db.collection("analytics_events").document("audit-upgrade").set(upgrade)
        time.sleep(3)  # the emulator tries each delivery once; the host is not there
    finally:
        stack.local.start_host()

    truth = expected(docs.values(), DAY, DAY + dt.timedelta(days=1))
    before = summary(stack, WINDOW)
    assert before["generations"]["total"] == 4  # the 20 new ones and the deletion were lost
    assert before["business"]["revenueUsd"] == 0

    today = dt.datetime.now(dt.UTC).replace(hour=1, minute=30, second=0, microsecond=0)
    assert stack.run_schedule("audit_pipeline", today) == 200
    after = summary(stack, WINDOW)
    assert after["generations"]["total"] == truth.total == 23
    assert after["generations"]["completed"] == truth.by_status["completed"]
    assert after["generations"]["failed"] == truth.by_status["failed"]
    assert after["costUsd"] == round(truth.cost, 6)
    assert after["business"]["revenueUsd"] == 12.5
    record = db.collection("pipeline_audits").document(DAY.date().isoformat()).get().to_dict()
    assert record is not None and record["complete"]
    generations, events = record["generations"], record["events"]
    assert generations["repaired"] == 21  # 20 never counted, 1 deleted
    assert events["repaired"] == 1
    assert record["repaired"] == 22
    # The counts found the one hour of each ledger where the changes were lost; only that hour
    # was walked: 3 pairs, 20 sources without a record, 1 record without its source.
    assert generations["differingHours"] == [2] and events["differingHours"] == [3]
    assert generations["checked"] - generations["sampled"] == 24
    assert generations["sampled"] == 23  # the sample then read the day's 23 (fewer than 100)
    # Reads: every count query (1 read each below 1,000 entries); the hour's sources and
    # records once, 4 per repair (3 reads and the source check of its commit) and its
    # rejection list; the sample's 23 pairs and its rejection list.
    walk = 23 + 4 + 21 * 4 + 1
    assert generations["reads"] == generations["countQueries"] + walk + 2 * 23 + 1

    # The next tick raises pipeline_drift; the next night's audit finds nothing left to repair.
    assert stack.run_schedule("aggregate_and_alert") == 200
    fired = (
        db.collection("alert_instances")
        .where(filter=FieldFilter("ruleId", "==", "pipeline_drift"))
        .get()
    )
    assert [(snap.to_dict() or {}).get("status") for snap in fired] == ["firing"]
    assert stack.run_schedule("audit_pipeline", today + dt.timedelta(days=1)) == 200
    again = db.collection("pipeline_audits").document(DAY.date().isoformat()).get().to_dict()
    assert again is not None and again["run"] != record["run"]
    assert (again["repaired"], again["generations"]["suspects"]) == (0, 0)
    assert again["generations"]["differingHours"] == again["events"]["differingHours"] == []
    # An exact day: the counts and the sample only (before: two reads per generation, 46).
    again_generations = again["generations"]
    assert again_generations["checked"] == again_generations["sampled"] == 23
    assert again_generations["reads"] == again_generations["countQueries"] + 2 * 23 + 1


def test_an_audit_out_of_time_is_continued_by_its_retry_without_redoing_work(
    stack: Stack, db: firestore.Client
) -> None:
    rng = random.Random(8)
    sources = db.collection("video_generations")
    stack.local.stop_host()
    try:  # 30 finished generations over 6 hours, none ever counted
        for i in range(30):
            doc = finished(rng, i)
            for name in ("createdAt", "startedAt", "completedAt"):
                doc[name] += dt.timedelta(hours=i % 6)  # type: ignore[operator]
            sources.document(f"lost-{i:02d}").set(doc)
        time.sleep(3)
    finally:
        stack.local.start_host()
    services = build(get_settings())
    run = dt.datetime.now(dt.UTC).replace(hour=1, minute=30, second=0, microsecond=0)
    ticks = {"n": 0.0}

    def monotonic() -> float:  # each look at the clock finds a second gone
        ticks["n"] += 1
        return ticks["n"]

    with pytest.raises(AuditIncomplete):
        jobs.audit_pipeline(services, run, budget_seconds=23, monotonic=monotonic)
    ref = db.collection("pipeline_audits").document(DAY.date().isoformat())
    partial = ref.get().to_dict() or {}
    cursor = partial["generations"]
    assert not partial["complete"] and cursor["differingHours"] == [2, 3, 4, 5, 6, 7]
    assert 0 < cursor["repaired"] < 30 and cursor["after"] is not None  # stopped inside an hour

    jobs.audit_pipeline(services, run)  # the scheduler's retry of the same run
    done = ref.get().to_dict() or {}
    generations = done["generations"]
    assert done["complete"] and done["run"] == partial["run"]
    assert generations["repaired"] == 30 and len(set(generations["repairedIds"])) == 30
    # Every document of the six hours was checked once over the two runs, then the sample.
    assert generations["checked"] == 30 + generations["sampled"]
    truth = expected([s.to_dict() for s in sources.stream()], DAY, DAY + dt.timedelta(days=1))
    assert summary(stack, WINDOW)["generations"]["total"] == truth.total == 30
