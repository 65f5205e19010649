"""Session events and generations written to Firestore for the sessions tests (emulator and
browser), with what /user-insights should answer computed from what was written."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore

from tests.integration.support import Stack, wait_until

DAY = dt.timedelta(days=1)
USERS = 12


@dataclass
class Traffic:
    """What was written: sessions (user, start, seconds or None), lone ends, generations."""

    now: dt.datetime
    sessions: list[tuple[str, dt.datetime, float | None]] = field(default_factory=list)
    lone_ends: list[dt.datetime] = field(default_factory=list)
    generations: list[dt.datetime] = field(default_factory=list)
    active: dict[str, set[dt.datetime]] = field(default_factory=dict)  # user -> active days

    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """The window the tests ask for: the last 40 days to this minute."""
        return self.now - 40 * DAY, self.now

    def session_figures(self) -> dict[str, Any]:
        start, end = self.window()
        inside = [s for s in self.sessions if start <= s[1] < end]
        ended = sorted(s for _, _, s in inside if s is not None)
        users = {u for u, _, _ in inside}

        def rank(q: float) -> float:
            return ended[math.ceil(q * len(ended)) - 1]

        return {
            "count": len(inside),
            "ended": len(ended),
            "unended": len(inside) - len(ended),
            "endsWithoutStart": sum(1 for at in self.lone_ends if start <= at < end),
            "users": len(users),
            "perUser": len(inside) / len(users),
            "durationSeconds": {"median": rank(0.5), "p95": rank(0.95)},
        }

    def grid(self, instants: list[dt.datetime]) -> list[list[int]]:
        start, end = self.window()
        cells = [[0] * 24 for _ in range(7)]
        for at in instants:
            if start <= at < end:
                cells[at.isoweekday() - 1][at.hour] += 1
        return cells

    def cohorts(self, day: dt.datetime) -> list[tuple[dt.date, int, list[int]]]:
        """Per cohort week (Monday) as of the end of `day`: users first active that week, and
        per week offset begun by then how many of them were active (written out by dates)."""
        until = day.date()
        days = {u: {d.date() for d in ds if d.date() <= until} for u, ds in self.active.items()}
        days = {u: ds for u, ds in days.items() if ds}
        last = until - dt.timedelta(days=until.weekday())
        rows = []
        for k in range(11, -1, -1):
            monday = last - dt.timedelta(weeks=k)
            members = [u for u, ds in days.items() if monday <= min(ds) < monday + WEEK]
            counts: list[int] = []
            while len(counts) < 12 and monday + len(counts) * WEEK <= until:
                low = monday + len(counts) * WEEK
                counts.append(
                    sum(1 for u in members if any(low <= d < low + WEEK for d in days[u]))
                )
            rows.append((monday, len(members), counts))
        return rows


WEEK = dt.timedelta(weeks=1)


def write(stack: Stack, db: firestore.Client, seed: int = 5) -> Traffic:
    """Write the traffic through the real triggers (twice for some, ends before their starts)
    and wait until every event and generation is recorded."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    traffic = Traffic(now)
    writes: list[tuple[str, str, dict[str, Any]]] = []
    for k in range(USERS):
        user = f"sess-user-{k}"
        first = now - (3 * k + 2) * DAY - dt.timedelta(minutes=rng.randrange(0, 600))
        for n in range(rng.randrange(2, 6)):
            start = first + n * rng.randrange(1, 6) * DAY + dt.timedelta(minutes=7 * n)
            if start >= now - dt.timedelta(hours=2):
                break
            base = {"userId": user, "sessionId": f"{k}-{n}"}
            writes.append(("analytics_events", f"s-{k}-{n}",
                           {**base, "type": "session_start", "timestamp": start}))  # fmt: skip
            if n == 1:  # the client sent its start twice
                writes.append(("analytics_events", f"s2-{k}-{n}",
                               {**base, "type": "session_start", "timestamp": start}))  # fmt: skip
            seconds: float | None = None
            if (k + n) % 4:
                seconds = float(rng.randrange(30, 3600))
                end = start + dt.timedelta(seconds=seconds)
                writes.append(("analytics_events", f"e-{k}-{n}",
                               {**base, "type": "session_end", "timestamp": end}))  # fmt: skip
            traffic.sessions.append((user, start, seconds))
            traffic.active.setdefault(user, set()).add(start)
    for k in range(3):  # ends whose start never came
        at = now - (k + 1) * DAY
        writes.append(("analytics_events", f"lone-{k}",
                       {"userId": "sess-user-0", "sessionId": f"lost-{k}",
                        "type": "session_end", "timestamp": at}))  # fmt: skip
        traffic.lone_ends.append(at)
        traffic.active["sess-user-0"].add(at)
    for i in range(40):
        created = now - dt.timedelta(minutes=rng.randrange(60, 30 * 24 * 60))
        writes.append(("video_generations", f"sess-gen-{i}", {
            "userId": f"sess-user-{i % USERS}", "provider": "runway", "status": "completed",
            "createdAt": created, "startedAt": created + dt.timedelta(seconds=3),
            "completedAt": created + dt.timedelta(seconds=40), "userTier": "free",
        }))  # fmt: skip
        traffic.generations.append(created)
        traffic.active[f"sess-user-{i % USERS}"].add(created)
    rng.shuffle(writes)  # ends land before their starts
    for collection, doc_id, body in writes:
        db.collection(collection).document(doc_id).set(body)
    for collection, doc_id, body in writes[::5]:  # written again: delivered again
        db.collection(collection).document(doc_id).set(body)
    events = sum(1 for c, _, _ in writes if c == "analytics_events")
    records = db.collection("event_contributions")
    wait_until(lambda: sum(1 for _ in records.select([]).stream()) == events, 120)
    metrics = db.collection("video_generation_metrics")
    wait_until(lambda: sum(1 for _ in metrics.select([]).stream()) == len(traffic.generations), 120)
    stack.settle()
    return traffic
