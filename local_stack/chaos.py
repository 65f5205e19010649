"""Concurrent rewrites, deletions, duplicated and stale deliveries against the running stack,
then a comparison of rollups, `/summary` and user days with the truth of the final documents.

Writer threads rewrite and delete the same few generation and event documents in quick
succession (so deliveries of one document run at once on the host's threads), while replay
threads post recorded CloudEvents of those documents again, byte for byte, older ones included.
The truth is computed from the final documents with plain arithmetic, never with the system's
code. Used by the emulator suite (small) and by `bench/concurrency_bench.py` (large).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from google.cloud import firestore

from local_stack.lifecycles import expected
from local_stack.tokens import emulator_token

PROJECT = "demo-cvplus"
USERS = ("chaos-u0", "chaos-u1", "chaos-u2")
PROVIDERS = ("runway", "pika")


@dataclass
class ChaosReport:
    """What was done and what did not match."""

    writes: int = 0
    deletes: int = 0
    replays: int = 0
    seconds: float = 0.0
    settle_seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)


def window_start() -> dt.datetime:
    """The hour every chaos document is created in (two days ago, 05:00 UTC)."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=2) + dt.timedelta(hours=5)


def random_generation(rng: random.Random, start: dt.datetime) -> dict[str, Any] | None:
    """A generation state: valid in any status, invalid (bad tier), or None (delete)."""
    roll = rng.random()
    if roll < 0.1:
        return None
    created = start + dt.timedelta(seconds=rng.uniform(0, 3500))
    status = rng.choice(("queued", "processing", "completed", "completed", "failed", "cancelled"))
    doc: dict[str, Any] = {
        "userId": rng.choice(USERS),
        "provider": rng.choice(PROVIDERS),
        "status": status,
        "createdAt": created,
        "userTier": "gold" if roll < 0.18 else rng.choice(("free", "premium")),
    }
    if status != "queued":
        doc["startedAt"] = created + dt.timedelta(seconds=rng.uniform(1, 20))
    if status in ("completed", "failed", "cancelled"):
        doc["completedAt"] = doc["startedAt"] + dt.timedelta(seconds=rng.uniform(10, 120))
    if status == "failed":
        doc["error"] = {"code": "timeout", "message": "x", "retryable": True}
    if status == "completed":
        doc["costUsd"] = round(rng.uniform(0, 2), 4)
        if rng.random() < 0.5:
            doc["userRating"] = rng.choice((1, 2, 3, 4, 5))
        if rng.random() < 0.5:
            doc["qualityScore"] = round(rng.uniform(5, 10), 2)
    return doc


def random_event(rng: random.Random, start: dt.datetime) -> dict[str, Any] | None:
    """A premium upgrade: valid, invalid (empty user), or None (delete)."""
    roll = rng.random()
    if roll < 0.1:
        return None
    return {
        "type": "premium_upgrade",
        "userId": "" if roll < 0.18 else rng.choice(USERS),
        "timestamp": start + dt.timedelta(seconds=rng.uniform(0, 3500)),
        "amountUsd": round(rng.uniform(1, 50), 2),
    }


@dataclass(frozen=True)
class ChaosPlan:
    """How much chaos: generation and event documents, writer threads and the writes they make
    in all, replay threads and the deliveries they repeat in all, and the seed of it all."""

    generations: int
    events: int
    writers: int
    writes: int
    replayers: int
    replays: int
    seed: int


def palettes(
    targets: list[tuple[str, str]], seed: int, start: dt.datetime
) -> dict[str, list[dict[str, Any] | None]]:
    """A few states per document (three valid or invalid ones, then gone)."""
    rng = random.Random(seed)
    found: dict[str, list[dict[str, Any] | None]] = {}
    for collection, doc_id in targets:
        make = random_generation if collection == "video_generations" else random_event
        states: list[dict[str, Any] | None] = []
        while len([s for s in states if s is not None]) < 3:
            states.append(make(rng, start))
        found[doc_id] = [s for s in states if s is not None] + [None]
    return found


@dataclass
class ChaosRun:
    """What the writer and replayer threads of one run share."""

    functions_base: str
    db: firestore.Client
    plan: ChaosPlan
    targets: list[tuple[str, str]]
    palettes: dict[str, list[dict[str, Any] | None]]
    report: ChaosReport = field(default_factory=ChaosReport)
    writes_left: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    writers_done: threading.Event = field(default_factory=threading.Event)

    def take_write(self) -> bool:
        """Claim one of the writes left; False when none is."""
        with self.lock:
            if self.writes_left <= 0:
                return False
            self.writes_left -= 1
            return True

    def write(self, number: int) -> None:
        """Writer thread: set or delete random documents until the writes run out."""
        rng = random.Random(self.plan.seed * 1000 + number)
        while self.take_write():
            collection, doc_id = rng.choice(self.targets)
            state = rng.choice(self.palettes[doc_id])
            ref = self.db.collection(collection).document(doc_id)
            if state is None:
                ref.delete()
            else:
                ref.set(state)
            with self.lock:
                self.report.writes += 1
                self.report.deletes += state is None
            time.sleep(rng.uniform(0, 0.004))

    def replay(self, number: int) -> None:
        """Replayer thread: post recorded deliveries again, until its share is done (or the
        writers are, once it replayed one)."""
        rng = random.Random(self.plan.seed * 2000 + number)
        session = requests.Session()
        done = 0
        share = self.plan.replays // max(self.plan.replayers, 1)
        while done < share and not (self.writers_done.is_set() and done > 0):
            _, doc_id = rng.choice(self.targets)
            recorded = session.get(
                f"{self.functions_base}/__/recorded", params={"document": doc_id}, timeout=10
            ).json()
            if not recorded:
                time.sleep(0.005)
                continue
            event = rng.choice(recorded)  # any of them: duplicates and stale ones alike
            for _ in range(rng.choice((1, 1, 2))):
                session.post(
                    f"{self.functions_base}{event['path']}",
                    data=event["body"].encode("latin-1"),
                    headers=event["headers"],
                    timeout=60,
                )
                done += 1
        with self.lock:
            self.report.replays += done


def run_chaos(
    functions_base: str, db: firestore.Client, settle: Callable[[], None], plan: ChaosPlan
) -> ChaosReport:
    """Run the writers and replayers, wait for deliveries to settle, compare with the truth."""
    start = window_start()
    targets = [("video_generations", f"chaos-g{i}") for i in range(plan.generations)]
    targets += [("analytics_events", f"chaos-e{i}") for i in range(plan.events)]
    # Each document moves among a few states of its own (two valid ones, an invalid one, gone), so
    # it often returns to a state that is already counted: the case where a newer delivery finds
    # nothing to do while an older handler has not committed yet.
    run = ChaosRun(
        functions_base, db, plan, targets, palettes(targets, plan.seed, start),
        writes_left=plan.writes,
    )  # fmt: skip
    report = run.report
    began = time.monotonic()
    threads = [threading.Thread(target=run.write, args=(i,)) for i in range(plan.writers)]
    replay_threads = [threading.Thread(target=run.replay, args=(i,)) for i in range(plan.replayers)]
    for thread in threads + replay_threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.writers_done.set()
    for thread in replay_threads:
        thread.join()
    report.seconds = time.monotonic() - began
    settled = time.monotonic()
    settle()
    report.settle_seconds = time.monotonic() - settled
    report.mismatches = compare(functions_base, db, start, [t for t in targets])
    return report


def final_documents(
    db: firestore.Client, targets: list[tuple[str, str]]
) -> dict[str, list[dict[str, Any] | None]]:
    """The final state of every target, by collection."""
    refs = [db.collection(collection).document(doc_id) for collection, doc_id in targets]
    by_path = {snap.reference.path: snap for snap in db.get_all(refs)}
    result: dict[str, list[dict[str, Any] | None]] = {}
    for ref in refs:
        snap = by_path[ref.path]
        result.setdefault(ref.parent.id, []).append(snap.to_dict() if snap.exists else None)
    return result


def valid_event(doc: Mapping[str, Any] | None) -> bool:
    """Whether the random generator's event is valid (it only breaks the user id)."""
    return doc is not None and bool(doc.get("userId"))


def true_user_days(
    generations: list[dict[str, Any] | None], events: list[dict[str, Any] | None]
) -> dict[tuple[str, dt.date], Counter[str]]:
    """Per user and UTC day: generations by status, premium ones, upgrades and revenue."""
    days: dict[tuple[str, dt.date], Counter[str]] = {}
    for doc in generations:
        if doc is None or doc["userTier"] not in ("free", "premium"):
            continue
        counters = days.setdefault((doc["userId"], doc["createdAt"].date()), Counter())
        counters["gen/n"] += 1
        counters[f"gen/s/{doc['status']}"] += 1
        counters["gen/premium"] += doc["userTier"] == "premium"
    for doc in events:
        if not valid_event(doc):
            continue
        assert doc is not None
        counters = days.setdefault((doc["userId"], doc["timestamp"].date()), Counter())
        counters["ev/premium_upgrade"] += 1
        counters["rev"] += round(doc["amountUsd"] * 1_000_000)
    return {key: +counters for key, counters in days.items()}


def stored_user_days(db: firestore.Client) -> dict[tuple[str, dt.date], Counter[str]]:
    """The `user_days` documents of the chaos users, as flat counters."""
    found: dict[tuple[str, dt.date], Counter[str]] = {}
    for snap in db.collection("user_days").stream():
        data = snap.to_dict() or {}
        if data.get("userId") not in USERS:
            continue
        flat: Counter[str] = Counter()
        _flatten(data.get("c", {}), "", flat)
        found[(data["userId"], data["day"].date())] = +flat
    return {key: counters for key, counters in found.items() if counters}


def _flatten(nested: Mapping[str, Any], prefix: str, into: Counter[str]) -> None:
    for key, value in nested.items():
        if isinstance(value, Mapping):
            _flatten(value, f"{prefix}{key}/", into)
        else:
            into[f"{prefix}{key}"] += int(value)


def compare(
    functions_base: str, db: firestore.Client, start: dt.datetime, targets: list[tuple[str, str]]
) -> list[str]:
    """Differences between what the system shows and the truth of the final documents."""
    finals = final_documents(db, targets)
    generations = finals.get("video_generations", [])
    events = finals.get("analytics_events", [])
    truth = expected(generations, start, start + dt.timedelta(hours=1))
    token = emulator_token("chaos", "analytics", PROJECT)
    response = requests.get(
        f"{functions_base}/{PROJECT}/us-central1/video_analytics_dashboard/summary",
        params={"from": start.isoformat(), "to": (start + dt.timedelta(hours=1)).isoformat()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    response.raise_for_status()
    shown = response.json()
    by_status = truth.by_status
    want: dict[str, Any] = {
        "generations.total": truth.total,
        "generations.completed": by_status["completed"],
        "generations.failed": by_status["failed"],
        "generations.cancelled": by_status["cancelled"],
        "generations.inProgress": by_status["queued"] + by_status["processing"],
        "costUsd": round(truth.cost, 6),
        "quality.scored": len(truth.quality),
        "satisfaction.rated": len(truth.ratings),
        "business.revenueUsd": round(
            sum(d["amountUsd"] for d in events if valid_event(d) and d is not None), 6
        ),
    }
    mismatches = []
    for path, value in want.items():
        section, _, name = path.partition(".")
        got = shown[section][name] if name else shown[section]
        if isinstance(value, float):
            got = round(got, 6)
        if got != value:
            mismatches.append(f"/summary {path}: shown {got}, truth {value}")
    true_days, stored_days = true_user_days(generations, events), stored_user_days(db)
    for key in sorted(set(true_days) | set(stored_days)):
        if true_days.get(key, Counter()) != stored_days.get(key, Counter()):
            mismatches.append(
                f"user day {key}: stored {dict(stored_days.get(key, {}))}, "
                f"truth {dict(true_days.get(key, {}))}"
            )
    return mismatches
