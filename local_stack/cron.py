"""A small unix-cron matcher (minute hour day-of-month month day-of-week), UTC."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, every = part.partition("/")
        step = int(every) if every else 1
        if step < 1:
            raise ValueError(f"cron step must be >= 1: {part!r}")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, last = body.split("-", 1)
            start, end = int(first), int(last)
        else:
            start = int(body)
            end = high if every else start
        if not low <= start <= end <= high:
            raise ValueError(f"cron field {part!r} outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed schedule; `matches` says whether a minute is scheduled."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Cron:
        """Parse five space-separated fields."""
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(f"cron needs 5 fields, got {expression!r}")
        parsed = [_field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True)]
        return cls(*parsed)

    def matches(self, moment: dt.datetime) -> bool:
        """Whether the minute of `moment` (UTC) is scheduled."""
        moment = moment.astimezone(dt.UTC)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.day in self.days
            and moment.month in self.months
            and (moment.isoweekday() % 7) in self.weekdays
        )
