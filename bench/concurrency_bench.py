"""The randomised concurrency check of the emulator suite at a large size.

A stack of its own whose host handles deliveries concurrently and whose handlers wait a random
0-40 ms before committing (as in tests/integration/test_concurrency_emulator.py); writer threads
rewrite and delete the same documents while replay threads post recorded, duplicated and stale
CloudEvents; then rollups, `/summary` and user days are compared with the final documents.
Prints writes, replays, time, time to settle and every mismatch (none expected).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import bench_stack
from local_stack.chaos import ChaosPlan, run_chaos
from local_stack.harness import Stack
from local_stack.ports import free_ports

PROJECT = "demo-cvplus"


def main() -> int:
    """One large run; exit 1 on any mismatch."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generations", type=int, default=60)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--replays", type=int, default=600)
    args = parser.parse_args()
    env = {"LOCAL_COMMIT_DELAY_MS": "40", "LOCAL_CONCURRENT_TRIGGERS": "true"}
    firestore_port, functions_port = free_ports(2)
    with bench_stack(PROJECT, firestore_port, functions_port, env=env) as (stack, db):
        report = run_chaos(
            stack.functions_base,
            db,
            lambda: Stack(stack, stack.functions_base).settle(quiet=2.0, timeout=600),
            ChaosPlan(
                generations=args.generations,
                events=args.events,
                writers=8,
                writes=args.writes,
                replayers=4,
                replays=args.replays,
                seed=42,
            ),
        )
        failures = {
            name: counts.get("failed", 0) for name, counts in stack.stats()["triggers"].items()
        }
    print(
        f"concurrency: {report.writes} writes ({report.deletes} deletes) to "
        f"{args.generations + args.events} documents and {report.replays} replayed events in "
        f"{report.seconds:.1f} s; settled {report.settle_seconds:.1f} s later; handler failures "
        f"{failures}; mismatches {len(report.mismatches)}"
    )
    for line in report.mismatches:
        print("  ", line)
    return 1 if report.mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
