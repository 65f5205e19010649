"""A fold that never stalls: the splitting of a failing chunk down to the entries that fail
alone, the strict reading of journal entries (the fold quarantines what readers skip), and the
quarantine record."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from video_monitoring.ingest.journal import BadEntry, BucketKey, Cells, attribute, parse_entry
from video_monitoring.ingest.quarantine import (
    REASON_LIMIT,
    QuarantinedEntry,
    quarantine_id,
    reason_of,
    settle,
)
from video_monitoring.runtime import bootstrap, cli


class Poisoned(Exception):
    """What a transaction holding a poison entry raises (an entry's fault)."""


class Unavailable(Exception):
    """What the backend raises when it is down (not an entry's fault)."""


class FakeFold:
    """A fold transaction over integers: it fails when the chunk holds a poison item (or when
    the backend is down from a given attempt on), else it folds the whole chunk."""

    def __init__(
        self, poison: set[int], down_from: int | None = None, too_slow_over: int | None = None
    ) -> None:
        self.poison = poison
        self.down_from = down_from
        self.too_slow_over = too_slow_over
        self.folded: list[int] = []
        self.calls = 0

    def __call__(self, chunk: Sequence[int]) -> None:
        self.calls += 1
        if self.down_from is not None and self.calls >= self.down_from:
            raise Unavailable("503 unavailable")
        if self.too_slow_over is not None and len(chunk) > self.too_slow_over:
            raise Unavailable("504 deadline exceeded")
        bad = self.poison.intersection(chunk)
        if bad:
            raise Poisoned(f"entry {min(bad)}")
        self.folded.extend(chunk)


def is_backend(error: Exception) -> bool:
    return isinstance(error, Unavailable)


def always() -> bool:
    return True


def test_one_poison_entry_among_a_hundred_is_isolated_in_two_attempts_per_halving() -> None:
    fold = FakeFold({37})
    settled = settle(list(range(100)), fold, is_backend, always)
    assert [(item, str(error)) for item, error in settled.failed] == [(37, "entry 37")]
    assert settled.folded == fold.folded == [i for i in range(100) if i != 37]
    # 100 -> 50 -> 25 -> 13 -> 6 -> 3 -> 1: six halvings of two attempts each after the first.
    assert settled.attempts == 1 + 2 * 6 == fold.calls
    assert settled.failures == 7  # the whole chunk and the half holding 37 at each level
    assert settled.left == [] and settled.stopped_by is None


def test_a_healthy_chunk_takes_one_attempt() -> None:
    settled = settle(list(range(40)), FakeFold(set()), is_backend, always)
    assert (settled.attempts, settled.failures, settled.failed) == (1, 0, [])
    assert settled.folded == list(range(40))


@given(
    st.integers(min_value=1, max_value=300).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), max_size=8))
    )
)
def test_every_entry_is_folded_once_or_fails_alone_never_both(case: tuple[int, set[int]]) -> None:
    """Whatever the poison, each entry is folded exactly once or reported exactly once, the
    healthy ones in journal order, within about 2·log2(n) attempts per poison entry."""
    n, poison = case
    fold = FakeFold(poison)
    settled = settle(list(range(n)), fold, is_backend, always)
    failed = [item for item, _ in settled.failed]
    assert failed == sorted(poison)
    assert fold.folded == [i for i in range(n) if i not in poison]
    assert sorted(fold.folded + failed) == list(range(n))
    assert settled.attempts <= 1 + len(poison) * 2 * math.ceil(math.log2(max(n, 2)))


def test_a_backend_failure_stops_without_blaming_any_entry() -> None:
    """The backend going down mid-way quarantines nothing: the chunk at hand is split down to
    one entry, which stops it, and what is not folded is left for the next run, in order."""
    # [0, 16) and [0, 8) fail on the poison 5, [0, 4) folds, then the backend is down:
    # [4, 8), [4, 6) and [4] fail on it.
    fold = FakeFold({5}, down_from=4)
    settled = settle(list(range(16)), fold, is_backend, always)
    assert settled.failed == []
    assert isinstance(settled.stopped_by, Unavailable)
    assert settled.folded == [0, 1, 2, 3]
    assert settled.left == list(range(4, 16))
    assert (settled.attempts, settled.failures) == (6, 5)


def test_a_chunk_too_large_for_the_backend_goes_through_in_pieces() -> None:
    """A chunk whose transaction cannot finish in time (a deadline: the backend's error) is
    split like any other until the pieces go through; nothing is quarantined or left."""
    fold = FakeFold(set(), too_slow_over=8)
    settled = settle(list(range(40)), fold, is_backend, always)
    assert (settled.failed, settled.left, settled.stopped_by) == ([], [], None)
    assert fold.folded == list(range(40))
    # 40 -> 20 -> 10 -> 5: the chunks of 40, 20 (2) and 10 (4) fail, eight of 5 fold.
    assert (settled.attempts, settled.failures) == (15, 7)


def test_the_time_budget_leaves_the_rest_for_the_next_run() -> None:
    fold = FakeFold({0})
    budget = iter([True, True, False])
    settled = settle(list(range(10)), fold, is_backend, lambda: next(budget))
    # attempt 1: all ten fail; attempt 2: [0..5) fails; then the budget is spent.
    assert (settled.attempts, settled.folded, settled.failed) == (2, [], [])
    assert settled.left == list(range(10))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('["20261206T0700","runway|free",{"n":1', "entry: not a JSON array"),
        ('{"a":1}', "not a JSON array"),  # two keys: cannot unpack into three parts
        ("17", "not a JSON array"),
        ('["20261206T0700","runway|free"]', "not a JSON array"),
        ('["20261399T0700","c",{"n":1}]', "minute: expected a real minute"),
        ('["20261206T2500","c",{"n":1}]', "minute: expected a real minute"),
        ('["2026-12-06T07:00","c",{"n":1}]', "minute: expected a real minute"),
        ('[202612060700,"c",{"n":1}]', "minute: expected a real minute"),
        ('["20261206T0700",7,{"n":1}]', "cell: expected text"),
        ('["20261206T0700","c",[1]]', "counters: expected an object"),
        ('["20261206T0700","c",{"n":1.5}]', "counter 'n': expected an integer, got 1.5"),
        ('["20261206T0700","c",{"n":true}]', "counter 'n': expected an integer, got True"),
        ('["20261206T0700","c",{"n":"1"}]', "counter 'n': expected an integer, got '1'"),
        ('["20261206T0700","c",{"n":NaN}]', "counter 'n': expected an integer, got nan"),
    ],
)
def test_an_entry_that_cannot_be_folded_is_named_and_skipped_by_readers(
    text: str, problem: str
) -> None:
    with pytest.raises(BadEntry, match=problem.replace("(", r"\(").replace("[", r"\[")):
        parse_entry(text)
    good = '["20261206T0700","c",{"n":2,"s/completed":1}]'
    into: dict[BucketKey, Cells] = {}
    wanted: set[BucketKey] = {
        ("minute", "20261206T0700"), ("hour", "20261206T0700"), ("day", "20261206T0000")
    }  # fmt: skip
    attribute([text, good, text], wanted, into)
    assert into == {bucket: {"c": {"n": 2, "s/completed": 1}} for bucket in wanted}


def test_a_stored_value_that_is_not_text_is_a_bad_entry() -> None:
    with pytest.raises(BadEntry, match="expected the text of a JSON array, got 5"):
        parse_entry(5)
    entry = parse_entry('["20261206T0700","c",{"n":-3}]')  # a correction subtracts
    assert (entry.minute, entry.cell, dict(entry.values)) == ("20261206T0700", "c", {"n": -3})


def test_quarantine_ids_are_deterministic_and_always_valid() -> None:
    plain = quarantine_id("generation_rollups", "20261206T0700_003", "a1b2c3d4e5f6a7b80")
    assert plain == "generation_rollups__20261206T0700_003__a1b2c3d4e5f6a7b80"
    whole = quarantine_id("event_rollups", "20261206T0700_003", None)
    assert whole == "event_rollups__20261206T0700_003__all"
    odd = quarantine_id("event_rollups", "20261206T0700_003", "a/b.c")
    assert odd == quarantine_id("event_rollups", "20261206T0700_003", "a/b.c")
    assert odd.startswith("event_rollups__h") and "/" not in odd and len(odd) == 48
    assert odd != quarantine_id("event_rollups", "20261206T0700_003", "a/b.d")


def test_a_quarantine_record_keeps_the_entry_and_puts_it_back_as_it_was() -> None:
    at = dt.datetime(2026, 12, 6, 7, 1, tzinfo=dt.UTC)
    epoch = dt.datetime(2026, 12, 6, 7, 0, tzinfo=dt.UTC)
    record = QuarantinedEntry(
        "generation_rollups", "20261206T0700_003", "k1", "not json", "BadEntry: x", at, epoch, 3
    )
    doc = record.to_doc("expireAt", epoch + dt.timedelta(days=760))
    assert QuarantinedEntry.from_doc(doc) == record
    assert doc["entry"] == "not json" and doc["expireAt"] == epoch + dt.timedelta(days=760)
    expire = epoch + dt.timedelta(days=760)
    assert record.journal_body("expireAt", expire) == {
        "d": {"k1": "not json"}, "epoch": epoch, "shard": 3, "expireAt": expire,
    }  # fmt: skip
    whole = QuarantinedEntry("event_rollups", "x_001", None, "oops", "r", at, epoch, 1)
    assert whole.journal_body("expireAt", None) == {"d": "oops", "epoch": epoch, "shard": 1}


def test_a_reason_is_the_error_cut_to_its_limit() -> None:
    assert reason_of(ValueError("bad")) == "ValueError: bad"
    long = reason_of(ValueError("x" * 5000))
    assert len(long) == REASON_LIMIT and long.endswith("…")
    assert json.dumps(long)  # storable as it is


class HeldStore:
    """The quarantine as the command line sees it (FirestoreFold's two methods)."""

    def __init__(self, held: list[tuple[str, QuarantinedEntry]]) -> None:
        self.held = held
        self.asked: list[list[str]] = []

    def quarantined(self, limit: int) -> list[tuple[str, QuarantinedEntry]]:
        return self.held[:limit]

    def replay_quarantined(self, ids: Sequence[str]) -> list[str]:
        self.asked.append(list(ids))
        present = {doc_id for doc_id, _ in self.held}
        return [doc_id for doc_id in ids if doc_id in present]


def test_the_command_line_lists_and_replays_the_quarantine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at = dt.datetime(2026, 12, 6, 7, 1, tzinfo=dt.UTC)
    record = QuarantinedEntry("event_rollups", "j_001", "k", "x", "BadEntry: why", at, None, 1)
    store = HeldStore([("q1", record), ("q2", record)])
    monkeypatch.setattr(bootstrap, "services", lambda: SimpleNamespace(store=store))
    out = io.StringIO()
    assert cli.main(["quarantine", "list"], out) == 0
    assert out.getvalue().splitlines() == [
        "q1  2026-12-06T07:01:00+00:00  BadEntry: why",
        "q2  2026-12-06T07:01:00+00:00  BadEntry: why",
        "2 entries held",
    ]
    out = io.StringIO()
    assert cli.main(["quarantine", "replay"], out) == 0
    assert store.asked == [["q1", "q2"]]
    assert out.getvalue().startswith("2 of 2 entries put back into the journal")
    out = io.StringIO()
    assert cli.main(["quarantine", "replay", "q2", "gone"], out) == 0
    assert out.getvalue().startswith("1 of 2 entries put back")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["quarantine", "list", "q1"])
    assert exit_info.value.code == 2
    assert "quarantine list takes no ids" in capsys.readouterr().err
