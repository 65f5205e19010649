"""merged(): every item once, each source's order kept, errors raised, early close stops all."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from video_monitoring.adapters.streams import merged


def numbers(start: int, n: int, pause: float = 0.0) -> Iterator[int]:
    for i in range(start, start + n):
        if pause:
            time.sleep(pause)
        yield i


def test_every_item_arrives_once_in_each_sources_order() -> None:
    out = list(merged([numbers(0, 500), numbers(1000, 300, 0.0001), numbers(5000, 0)], depth=7))
    assert sorted(out) == list(range(500)) + list(range(1000, 1300))
    assert [i for i in out if i < 1000] == list(range(500))
    assert [i for i in out if i >= 1000] == list(range(1000, 1300))


def test_the_first_error_of_a_source_is_raised() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ConnectionError("stream reset")

    with pytest.raises(ConnectionError, match="stream reset"):
        list(merged([numbers(0, 10_000, 0.0001), broken()]))


def test_closing_early_stops_every_source() -> None:
    produced: list[int] = []
    finished = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                produced.append(i)
                yield i
                i += 1
        finally:
            finished.set()

    stream = merged([endless()], depth=5)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert finished.wait(5)
    assert len(produced) <= 3 + 5 + 2  # bounded by the queue, not run away


def test_a_waiting_consumer_gets_items_without_waiting_for_a_full_batch() -> None:
    stream = merged([numbers(0, 3, pause=0.5)], depth=10_000)
    started = time.perf_counter()
    assert next(stream) == 0
    assert time.perf_counter() - started < 1.0  # not 3 items' worth of pauses
    assert list(stream) == [1, 2]


def test_nothing_comes_out_after_close() -> None:
    stream = merged([numbers(0, 5000)], depth=10_000)
    assert next(stream) == 0
    stream.close()
    assert list(stream) == []


def test_an_item_followed_by_a_long_wait_is_not_held_back() -> None:
    def one_then_silence() -> Iterator[int]:
        yield 7
        time.sleep(1.5)

    stream = merged([one_then_silence()], depth=10_000)
    started = time.perf_counter()
    assert next(stream) == 7
    assert time.perf_counter() - started < 1.0
    assert list(stream) == []
