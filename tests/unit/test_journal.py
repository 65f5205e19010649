"""The rollup journal's arithmetic: entries, attribution to buckets, and bounded folds."""

from __future__ import annotations

import datetime as dt
import random

from video_monitoring.adapters.firestore_rollups import journal_writes
from video_monitoring.ingest import journal, rollup

T0 = dt.datetime(2026, 11, 1, 23, 59, tzinfo=dt.UTC)


def delta(minute: dt.datetime, cell: str = "runway|free", **values: int) -> rollup.RollupDelta:
    return rollup.RollupDelta("minute", minute, 3, cell, values or {"n": 1})


def test_entry_round_trip_and_containing_buckets() -> None:
    entry = journal.parse_entry(journal.entry_text(delta(T0, "pika|premium", n=1, **{"gt/n": 2})))
    assert entry == journal.Entry("20261101T2359", "pika|premium", {"n": 1, "gt/n": 2})
    assert journal.containing(entry.minute) == (
        ("day", "20261101T0000"),
        ("hour", "20261101T2300"),
        ("minute", "20261101T2359"),
    )
    assert journal.key_time("20261101T2300") == dt.datetime(2026, 11, 1, 23, tzinfo=dt.UTC)


def test_one_journal_write_per_change_with_keys_of_its_own() -> None:
    arrived = dt.datetime(2026, 11, 30, 5, 7, 42, tzinfo=dt.UTC)
    moved = [delta(T0, n=-1), delta(T0 + dt.timedelta(days=3), n=1)]
    writes = journal_writes(moved, arrived)
    assert [doc_id for doc_id, _ in writes] == ["20261130T0507_003"]
    body = writes[0][1]
    assert body["epoch"] == dt.datetime(2026, 11, 30, 5, 7, tzinfo=dt.UTC)
    assert sorted(journal.parse_entry(t).values["n"] for t in body["d"].values()) == [-1, 1]
    again = journal_writes(moved, arrived)[0][1]["d"]
    assert not set(again) & set(body["d"]), "a second commit of equal deltas must not overwrite"


def test_attribute_adds_entries_to_every_wanted_bucket_holding_them() -> None:
    entries = [
        journal.entry_text(delta(dt.datetime(2026, 11, 1, 23, 59, tzinfo=dt.UTC), "a|free", n=1)),
        journal.entry_text(delta(dt.datetime(2026, 11, 1, 23, 0, tzinfo=dt.UTC), "a|free", n=2)),
        journal.entry_text(delta(dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.UTC), "a|free", n=4)),
        journal.entry_text(delta(dt.datetime(2026, 11, 1, 23, 1, tzinfo=dt.UTC), "a|free", r=1)),
    ]
    wanted: set[journal.BucketKey] = {
        ("day", "20261101T0000"),
        ("hour", "20261101T2300"),
        ("minute", "20261102T0000"),
    }
    got: dict[journal.BucketKey, journal.Cells] = {}
    journal.attribute(entries, wanted, got)
    assert got == {
        ("day", "20261101T0000"): {"a|free": {"n": 3, "r": 1}},
        ("hour", "20261101T2300"): {"a|free": {"n": 3, "r": 1}},
        ("minute", "20261102T0000"): {"a|free": {"n": 4}},
    }


def test_sum_cells_drops_what_cancels() -> None:
    total = journal.sum_cells({"a|free": {"n": 1, "r/n": 1}}, {"a|free": {"r/n": -1}, "b|x": {}})
    assert total == {"a|free": {"n": 1}}


def test_choose_bounds_buckets_and_keeps_the_rest() -> None:
    days = [journal.Entry(f"2026110{1 + i}T0000", "a|f", {"n": 1}) for i in range(3)]
    docs = [
        ("e_000", [(f"k{i}", entry) for i, entry in enumerate(days)]),
        ("e_001", [("k9", journal.Entry("20261101T0000", "a|f", {"n": 1}))]),
    ]
    first = journal.choose(docs, max_targets=7)
    # Each entry on another day needs 3 new buckets: two fit in 7, the third would make 9.
    assert first.taken == {"e_000": ["k0", "k1"]} and first.drained == set()
    assert first.entries == 2 and len(first.targets) == 6
    everything = journal.choose(docs, max_targets=100)
    assert everything.drained == {"e_000", "e_001"} and everything.entries == 4
    assert everything.targets[("day", "20261101T0000")] == {"a|f": {"n": 2}}
    assert journal.choose(docs, max_targets=1).entries == 1  # always some progress


def test_folding_in_any_chunks_gives_the_plain_sums() -> None:
    """Random deltas folded a few buckets at a time: every minute, hour and day bucket ends up
    with what plain arithmetic over the deltas says."""
    rng = random.Random(7)
    deltas = [
        delta(T0 - dt.timedelta(minutes=rng.randrange(4000)), rng.choice(["a|f", "b|p"]),
              n=rng.choice([1, -1]), **{"cost/sum": rng.randrange(100)})
        for _ in range(500)
    ]  # fmt: skip
    expected: dict[tuple[str, dt.datetime], dict[str, dict[str, int]]] = {}
    for d in deltas:
        for granularity in rollup.GRANULARITIES:
            cells = expected.setdefault(
                (granularity, rollup.floor_time(d.bucket_start, granularity)), {}
            )
            acc = cells.setdefault(d.cell, {})
            for key, value in d.values.items():
                acc[key] = acc.get(key, 0) + value
    parsed = [journal.parse_entry(journal.entry_text(d)) for d in deltas]
    docs = {
        f"doc{n}": [(f"{n}-{i}", e) for i, e in enumerate(parsed[n * 60 : n * 60 + 60])]
        for n in range(len(parsed) // 60 + 1)
    }
    folded: dict[journal.BucketKey, journal.Cells] = {}
    transactions = 0
    while docs:
        choice = journal.choose(sorted(docs.items()), max_targets=rng.randrange(3, 40))
        transactions += 1
        for bucket, sums in choice.targets.items():
            folded[bucket] = journal.sum_cells(folded.get(bucket, {}), sums)
        for doc_id, keys in choice.taken.items():
            left = [(k, e) for k, e in docs[doc_id] if k not in keys]
            assert (not left) == (doc_id in choice.drained)
            if left:
                docs[doc_id] = left
            else:
                del docs[doc_id]
    assert transactions > 20
    got = {journal.bucket_of(key): cells for key, cells in folded.items() if cells}
    want = {
        bucket: kept for bucket, cells in expected.items() if (kept := journal.sum_cells(cells))
    }
    assert got == want


def test_fold_log_says_what_changed_since_a_read() -> None:
    log = journal.FoldLog().after(["minute_a", "day_x"], size=3, new_id="L1")
    assert (log.log_id, log.seq, log.complete_since) == ("L1", 1, 1)
    assert log.still_valid("minute_b", "L1", 0)  # never changed
    assert not log.still_valid("minute_a", "L1", 0)  # changed by fold 1, read before it
    assert log.still_valid("minute_a", "L1", 1)
    assert not log.still_valid("minute_b", "L0", 5), "another log (the store was wiped)"
    assert not journal.FoldLog().still_valid("minute_b", "L1", 0), "no log, no trust"
    later = log.after(["minute_c", "minute_d"], size=3, new_id="ignored")
    # Four changed ids, room for three: fold 1's oldest change is dropped, so only reads made
    # at sequence >= 1 can still be checked.
    assert later.log_id == "L1" and later.seq == 2 and later.complete_since == 2
    assert not later.still_valid("minute_b", "L1", 0)
    assert later.still_valid("minute_b", "L1", 1)
    assert journal.FoldLog.from_doc(later.to_doc()) == later


def test_folded_cache_is_bounded_and_checks_the_log() -> None:
    from video_monitoring.adapters.firestore_rollups import FoldedCache

    log = journal.FoldLog("L1", 4)
    cache = FoldedCache(max_bytes=3 * (FoldedCache.ENTRY_OVERHEAD + 100))
    for i in range(5):
        cache.store("generation_rollups", f"d{i}", log, bytes(100))
    assert cache.size_bytes <= cache.max_bytes
    assert cache.lookup("generation_rollups", "d0", log) == (False, None)  # evicted first
    assert cache.lookup("generation_rollups", "d4", log) == (True, bytes(100))
    cache.store("generation_rollups", "absent", log, None)
    assert cache.lookup("generation_rollups", "absent", log) == (True, None)
    changed = log.after(["d4"], size=10, new_id="x")
    assert cache.lookup("generation_rollups", "d4", changed) == (False, None)
    assert cache.lookup("generation_rollups", "absent", changed) == (True, None)
    cache.store("generation_rollups", "never", journal.FoldLog(), b"x")
    assert cache.lookup("generation_rollups", "never", changed) == (False, None)


def test_journal_view_attributes_like_the_entries() -> None:
    """The arranged journal gives every window what attributing each entry gives."""
    rng = random.Random(11)
    texts = [
        journal.entry_text(
            delta(T0 - dt.timedelta(minutes=rng.randrange(3 * 1440)), rng.choice(["a|f", "b|p"]),
                  n=rng.choice([1, -1]), **{"gt/b/7": rng.randrange(3)})
        )
        for _ in range(400)
    ]  # fmt: skip
    view = journal.JournalView.build(texts)
    for _ in range(30):
        start = T0 - dt.timedelta(minutes=rng.randrange(4 * 1440))
        end = start + dt.timedelta(minutes=rng.randrange(1, 3 * 1440))
        wanted: set[journal.BucketKey] = {
            (r.granularity, rollup.bucket_key(s))
            for r in rollup.cover(start, end)
            for s in rollup.bucket_starts(r)
        }
        plain: dict[journal.BucketKey, journal.Cells] = {}
        journal.attribute(texts, wanted, plain)
        arranged: dict[journal.BucketKey, journal.Cells] = {}
        view.attribute(wanted, arranged)
        assert arranged == plain
