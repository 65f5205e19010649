"""The one retry policy: its waits, its bounds, and retrying with a time budget."""

from __future__ import annotations

import itertools

import pytest

from video_monitoring.alerting.notifications import RetryPolicy
from video_monitoring.core.backoff import Backoff, RetryTime, retrying


def test_waits_double_up_to_the_cap_and_stop_after_the_retries() -> None:
    assert list(Backoff(first=1.0, cap=4.0, retries=4).delays()) == [1.0, 2.0, 4.0, 4.0]
    unbounded = Backoff(first=0.2, cap=5.0).delays()
    assert list(itertools.islice(unbounded, 7)) == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_jitter_takes_a_uniform_fraction_of_each_wait() -> None:
    fractions = iter([0.5, 0.25, 1.0])
    waits = Backoff(first=0.01, cap=0.5, retries=3, jitter=True).delays(lambda: next(fractions))
    assert list(waits) == pytest.approx([0.005, 0.005, 0.04])


def test_retrying_stops_at_the_retries_and_raises_the_last_error() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def failing() -> None:
        calls.append(1)
        raise TimeoutError(f"try {len(calls)}")

    with pytest.raises(TimeoutError, match="try 3"):
        retrying(
            failing, (TimeoutError,), Backoff(0.1, 1.0, retries=2), RetryTime(sleep=slept.append)
        )
    assert slept == [0.1, 0.2]


def test_retrying_gives_up_before_a_wait_would_pass_the_budget() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    def failing() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        retrying(failing, (ConnectionError,), Backoff(1.0, 8.0),
                 RetryTime(10.0, sleep, clock=lambda: now[0]))  # fmt: skip
    assert slept == [1.0, 2.0, 4.0]  # the next wait (8 s) would end at 15 s


def test_other_errors_are_not_retried_and_success_returns() -> None:
    attempts = iter([ConnectionError("once"), None])

    def flaky() -> str:
        error = next(attempts)
        if error is not None:
            raise error
        return "done"

    no_wait = RetryTime(sleep=lambda _: None)
    assert retrying(flaky, (ConnectionError,), Backoff(0.0, 0.0), no_wait) == "done"
    empty: dict[str, int] = {}
    with pytest.raises(KeyError):
        retrying(lambda: empty["x"], (ConnectionError,), Backoff(0.0, 0.0), no_wait)


def test_notification_retries_follow_the_same_policy() -> None:
    policy = RetryPolicy(attempts=4, base_delay_seconds=0.5, max_delay_seconds=1.5)
    assert list(policy.backoff.delays()) == [0.5, 1.0, 1.5]
    assert policy.delay(5) == 1.5
