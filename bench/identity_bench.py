"""What checking a caller's account costs: ID tokens checked against the real Firebase Auth
emulator through the instance's account cache. Prints Auth API calls (getAccountInfo) per request
and the time of a check with and without the cache, for a simulated stream of requests from a
number of users over a span of time (clock injected, so the span costs no waiting)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import firebase_admin

from local_stack.auth_emulator import start_auth_emulator
from local_stack.ports import free_ports
from video_monitoring.adapters.firebase_accounts import FirebaseAccounts
from video_monitoring.dashboard.standing import AccountCache, check_standing

PROJECT = "demo-bench-identity"


class SimulatedClock:
    """A clock the stream of requests moves."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--span-seconds", type=float, default=600)
    parser.add_argument("--ttl-seconds", type=float, default=60)
    args = parser.parse_args()
    (port,) = free_ports(1)
    emulator = start_auth_emulator(PROJECT, port, Path(tempfile.mkdtemp(prefix="identity-bench")))
    os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = emulator.host
    app = firebase_admin.initialize_app(options={"projectId": PROJECT}, name="identity-bench")
    try:
        uids = [emulator.create_user(f"u{i}@example.com", "bench-pass", "analytics")
                for i in range(args.users)]  # fmt: skip
        accounts = FirebaseAccounts(lambda: app)
        issued = dt.datetime.now(dt.UTC)
        rng = random.Random(7)
        clock = SimulatedClock()
        start = clock.now
        cache = AccountCache(accounts, clock, dt.timedelta(seconds=args.ttl_seconds))
        uncached = AccountCache(accounts, clock, dt.timedelta(0))
        offsets = sorted(rng.uniform(0, args.span_seconds) for _ in range(args.requests))
        cached_times, direct_times = [], []
        for offset in offsets:
            clock.now = start + dt.timedelta(seconds=offset)
            uid = rng.choice(uids)
            began = time.perf_counter()
            check_standing(uid, issued, cache)
            cached_times.append(time.perf_counter() - began)
        for uid in uids * max(1, 200 // len(uids)):
            began = time.perf_counter()
            check_standing(uid, issued, uncached)
            direct_times.append(time.perf_counter() - began)
        print(f"requests {args.requests} from {args.users} users over {args.span_seconds:g} s, "
              f"cache TTL {args.ttl_seconds:g} s")  # fmt: skip
        print(f"Auth API calls: {cache.lookups} ({cache.lookups / args.requests:.3f} per request; "
              f"check_revoked=True: 1.000 per request)")  # fmt: skip
        bound = args.users * -(-args.span_seconds // args.ttl_seconds)
        print(f"bound: users x ceil(span / TTL) = {bound:g} calls")
        print(f"check with the cache: p50 {statistics.median(cached_times) * 1e6:.1f} us, "
              f"mean {statistics.fmean(cached_times) * 1e3:.3f} ms")  # fmt: skip
        direct = statistics.median(direct_times) * 1e3
        print(f"check without (one getAccountInfo to the emulator): p50 {direct:.2f} ms "
              f"over {len(direct_times)} calls")  # fmt: skip
    finally:
        firebase_admin.delete_app(app)
        emulator.stop()


if __name__ == "__main__":
    main()
