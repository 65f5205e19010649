"""Merging iterators that block on I/O: each runs in its own thread and feeds one bounded queue,
so reading overlaps with whatever consumes the items and memory holds at most `depth` items."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
_DONE = object()


def merged(sources: Iterable[Iterator[T]], depth: int = 1000) -> Generator[T, None, None]:
    """Items of every source, in arrival order (each source's own order is kept). The first
    error of any source is raised here; closing the result early stops every source."""
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    errors: list[BaseException] = []

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def drain(source: Iterator[T]) -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as error:  # handed to the consumer
            errors.append(error)
            stop.set()
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's cleanup runs now (a query stream is cancelled)
            put(_DONE)

    threads = [
        threading.Thread(target=drain, args=(source,), daemon=True, name="merged-source")
        for source in sources
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            if errors:
                raise errors[0]
            try:
                item = items.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE:
                running -= 1
            else:
                yield cast(T, item)
        if errors:
            raise errors[0]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
