"""Merging iterators that block on I/O: each runs in its own thread, started at once, and feeds
one bounded queue, so reading overlaps with whatever consumes the items (and with other merged
readers) while memory holds at most `depth` items per merge."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class merged(Generic[T]):
    """Items of every source, in arrival order (each source's own order is kept). Reading starts
    when this is created; the first error of any source is raised to the consumer; close()
    (or reaching the end) stops and joins every reader."""

    def __init__(self, sources: Iterable[Iterator[T]], depth: int = 1000) -> None:
        self._items: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._drain, args=(source,), daemon=True, name="merged")
            for source in sources
        ]
        self._running = len(self._threads)
        for thread in self._threads:
            thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _drain(self, source: Iterator[T]) -> None:
        try:
            for item in source:
                if not self._put(item):
                    return
        except BaseException as error:  # handed to the consumer
            self._errors.append(error)
            self._stop.set()
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's cleanup runs now (a query stream is cancelled)
            self._put(_DONE)

    def __iter__(self) -> merged[T]:
        return self

    def __next__(self) -> T:
        while self._running:
            if self._errors:
                self.close()
                raise self._errors[0]
            try:
                item = self._items.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE:
                self._running -= 1
            else:
                return item  # type: ignore[return-value]
        self.close()
        if self._errors:
            raise self._errors[0]
        raise StopIteration

    def close(self) -> None:
        """Stop every reader and wait for them (briefly)."""
        self._stop.set()
        self._running = 0
        for thread in self._threads:
            thread.join(timeout=5)
