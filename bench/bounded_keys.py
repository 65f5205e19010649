"""Size of one day's rollup and user-day documents when every free-form value is new.

N failed generations, each with its own provider, error code, model, resolution, fallback
provider, feature and user, and N app events, each of its own type, are counted by the
pipeline's own contribution functions into one day bucket; the script prints each document's
size by Firestore's storage size rules. Run it with `--functions DIR` to measure another
checkout's code (e.g. the commit before bounded keys).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def value_size(value: Any) -> int:
    """A field value's size by Firestore's rules (numbers 8 bytes, strings length + 1)."""
    if isinstance(value, Mapping):
        return sum(len(str(k).encode()) + 1 + value_size(v) for k, v in value.items())
    if isinstance(value, str):
        return len(value.encode()) + 1
    return 8


def document_size(path: str, fields: Mapping[str, Any]) -> int:
    """Name (segments + 1 each, + 16), fields, + 32."""
    name = sum(len(part) + 1 for part in path.split("/")) + 16
    return name + value_size(fields) + 32


def measure(n: int) -> dict[str, int]:
    """Bytes of the day's generation rollup, event rollup and largest user-day document."""
    models = importlib.import_module("video_monitoring.core.models")
    rollup = importlib.import_module("video_monitoring.ingest.rollup")
    events = importlib.import_module("video_monitoring.ingest.events")
    day = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    cells: dict[str, dict[str, int]] = {}
    event_cells: dict[str, dict[str, int]] = {}
    user_day: dict[str, int] = {}

    def add(into: dict[str, dict[str, int]], cell: str, values: Mapping[str, int]) -> None:
        acc = into.setdefault(cell, {})
        for key, value in values.items():
            acc[key] = acc.get(key, 0) + value

    for i in range(n):
        created = day + dt.timedelta(seconds=i)
        doc = models.parse_generation(
            {
                "userId": f"user-{i}", "provider": f"acme-{i}", "status": "failed",
                "createdAt": created, "startedAt": created,
                "completedAt": created + dt.timedelta(seconds=20), "userTier": "free",
                "model": f"model-{i}", "resolution": f"{i}p", "fallbackFrom": f"fallback-{i}",
                "error": {"code": f"weird_code_{i}", "message": "odd", "retryable": False},
                "features": [f"feature-{i}"], "costUsd": 0.01,
            }
        )  # fmt: skip
        made = rollup.contribution(f"g{i}", doc, 16)
        add(cells, made.cell, made.values)
        event = models.AppEvent(type=f"invented_{i}", userId="one-user", timestamp=created)
        made = events.event_contribution(f"e{i}", event, 16)
        add(event_cells, made.cell, made.values)
        # One user's day holds a counter per event type the user sent.
        key = f"ev/{made.cell}"
        user_day[key] = user_day.get(key, 0) + 1

    def nested(flat_cells: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
        return {cell: rollup.nest(values) for cell, values in flat_cells.items()}

    fields = {"g": "day", "start": day, "expireAt": day}
    return {
        "generation_rollups day": document_size(
            "generation_rollups/day_20261124T0000", {**fields, "cells": nested(cells)}
        ),
        "event_rollups day": document_size(
            "event_rollups/day_20261124T0000", {**fields, "cells": nested(event_cells)}
        ),
        "user_days (one user, N event types)": document_size(
            "user_days/20261124_one-user",
            {"day": day, "userId": "one-user", "c": rollup.nest(user_day)},
        ),
    }


def main() -> None:
    """Print the sizes for each N."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--functions", type=Path, default=Path(__file__).parents[1] / "functions")
    parser.add_argument("--values", type=int, nargs="+", default=[1_000, 10_000])
    args = parser.parse_args()
    sys.path.insert(0, str(args.functions.resolve()))
    for n in args.values:
        for name, size in measure(n).items():
            verdict = "OVER 1 MiB" if size > MIB else f"{size / MIB:.1%} of 1 MiB"
            sys.stdout.write(f"{n:>6} distinct values  {name:<38} {size:>10,} bytes  {verdict}\n")


if __name__ == "__main__":
    main()
