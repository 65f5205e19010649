"""Bucket tiling and contribution arithmetic."""

from __future__ import annotations

import datetime as dt
import random

from video_monitoring.ingest import rollup
from video_monitoring.ingest.bounds import UNBOUNDED, Bounds

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_cover_tiles_windows_exactly_with_few_buckets() -> None:
    rng = random.Random(3)
    for _ in range(500):
        start = T0 + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
        end = start + dt.timedelta(minutes=rng.randrange(1, 60 * 24 * 45))
        ranges = rollup.cover(start, end)
        cursor = start
        buckets = 0
        for r in ranges:
            assert r.start == cursor, "ranges must be contiguous and ordered"
            assert rollup.floor_time(r.start, r.granularity) == r.start
            assert rollup.floor_time(r.end, r.granularity) == r.end
            buckets += int((r.end - r.start) / rollup.step(r.granularity))
            cursor = r.end
        assert cursor == end
        assert len(ranges) <= 5
        days = (end - start).days
        assert buckets <= days + 2 * 23 + 2 * 59


def test_cover_can_stop_at_a_coarsest_granularity() -> None:
    ranges = rollup.cover(T0, T0 + dt.timedelta(days=3), coarsest="hour")
    assert [r.granularity for r in ranges] == ["hour"]


def test_deltas_cancel_and_move() -> None:
    old = rollup.Contribution(T0, "runway|free", 1, {"n": 1, "s/queued": 1})
    same = rollup.deltas(old, old)
    assert same == []
    new = rollup.Contribution(T0, "runway|free", 1, {"n": 1, "s/completed": 1, "gt/n": 1})
    changed = rollup.deltas(old, new)
    # One delta, at the minute: hours and days are folded from minutes (one write per change).
    assert [(d.granularity, d.bucket_start) for d in changed] == [("minute", T0)]
    assert dict(changed[0].values) == {"s/queued": -1, "s/completed": 1, "gt/n": 1}
    moved = rollup.deltas(old, rollup.Contribution(T0, "pika|free", 1, {"n": 1, "s/queued": 1}))
    assert [(d.cell, dict(d.values)) for d in moved] == [
        ("runway|free", {"n": -1, "s/queued": -1}),
        ("pika|free", {"n": 1, "s/queued": 1}),
    ]


def test_nest_and_flatten_round_trip() -> None:
    flat = {"n": 1, "gt/b/123": 2, "gt/b/-4": 1, "gt/sum": 5000, "err/timeout": 1}
    assert rollup.flatten(rollup.nest(flat)) == flat


def test_shard_is_stable_and_spread() -> None:
    shards = [rollup.shard_of(f"gen-{i}", 16) for i in range(1600)]
    assert shards == [rollup.shard_of(f"gen-{i}", 16) for i in range(1600)]
    counts = [shards.count(s) for s in range(16)]
    assert min(counts) > 60 and max(counts) < 140


def test_compacted_blob_and_shard_maps_read_the_same() -> None:
    from video_monitoring.adapters.firestore_rollups import decode_cells, encode_cells, flat_cells

    flat = {"runway|free": {"n": 3, "gt/b/512": 2, "err/timeout": 1}, "pika|premium": {"n": 1}}
    blob = encode_cells(flat)
    assert decode_cells(blob) == flat
    assert flat_cells({"blob": blob}) == flat
    nested = {cell: rollup.nest(values) for cell, values in flat.items()}
    assert flat_cells({"cells": nested}) == flat


def test_untracked_feature_names_fold_into_other() -> None:
    import datetime as dt

    from video_monitoring.core.models import parse_generation

    created = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    doc = parse_generation(
        {
            "userId": "u", "provider": "runway", "status": "queued", "createdAt": created,
            "userTier": "premium", "features": ["custom_avatar", "x1", "x2"],
        }
    )  # fmt: skip
    tracked = Bounds(features=frozenset({"custom_avatar"}))
    values = rollup.contribution("g", doc, 4, tracked).values
    assert {k: v for k, v in values.items() if k.startswith("feat")} == {
        "feat/custom_avatar": 1, "feat/other": 1, "feat_any": 1,
    }  # fmt: skip
    everything = rollup.contribution("g", doc, 4, UNBOUNDED).values
    assert {"feat/x1", "feat/x2"} <= set(everything)


def test_user_day_counters_nest_for_firestore() -> None:
    import datetime as dt

    from video_monitoring.core.models import parse_generation
    from video_monitoring.ingest.pipeline import generation_user_day

    doc = parse_generation(
        {
            "userId": "u", "provider": "runway", "status": "queued", "userTier": "premium",
            "createdAt": dt.datetime(2026, 11, 24, 5, tzinfo=dt.UTC),
        }
    )  # fmt: skip
    values = dict(generation_user_day(doc).values)
    assert rollup.flatten(rollup.nest(values)) == values  # no key is both a leaf and a map
