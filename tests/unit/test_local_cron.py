"""The local host's cron matcher, against the schedules the functions declare."""

from __future__ import annotations

import datetime as dt

import pytest

from local_stack.cron import Cron


def at(hour: int, minute: int, day: int = 24) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def test_every_five_minutes() -> None:
    cron = Cron.parse("*/5 * * * *")
    matched = [m for m in range(60) if cron.matches(at(10, m))]
    assert matched == list(range(0, 60, 5))


def test_daily_at_two() -> None:
    cron = Cron.parse("0 2 * * *")
    assert cron.matches(at(2, 0))
    assert not cron.matches(at(2, 1))
    assert not cron.matches(at(3, 0))


def test_lists_ranges_and_weekdays() -> None:
    cron = Cron.parse("0,30 9-17 * * 1-5")
    assert cron.matches(at(9, 30, day=24))  # a Tuesday
    assert not cron.matches(at(9, 30, day=29))  # a Sunday
    assert not cron.matches(at(18, 0))


@pytest.mark.parametrize("expression", ["* * * *", "61 * * * *", "*/0 * * * *", "a * * * *"])
def test_bad_expressions(expression: str) -> None:
    with pytest.raises(ValueError):
        Cron.parse(expression)
