"""A verified token's account standing: the per-instance account cache (one lookup per user per
TTL, bounded, failures not cached) and the refusal of deleted, disabled and revoked users."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.fakes import FakeAccounts, FakeStore, FixedClock
from tests.unit.test_dashboard import call
from tests.unit.test_health import CountingSource, inputs
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.health import HealthCheck
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.config.settings import DashboardSettings, Settings
from video_monitoring.core.errors import ConfigError, Unauthenticated, Unavailable
from video_monitoring.core.identity import Account
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.auth import Caller
from video_monitoring.dashboard.standing import AccountCache, check_standing
from video_monitoring.runtime.bootstrap import account_checks

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=60)


def test_a_user_is_looked_up_once_per_ttl_and_a_revocation_lands_within_it() -> None:
    accounts = FakeAccounts(Account("u1"))
    clock = FixedClock(NOW)
    cache = AccountCache(accounts, clock, TTL)
    issued = NOW - dt.timedelta(minutes=5)
    for _ in range(50):
        check_standing("u1", issued, cache)
        clock.advance(seconds=1)  # 50 requests over 50 s
    assert accounts.lookups == 1
    # Revoked now: the instance still trusts its entry until the TTL runs out, then refuses.
    accounts.accounts["u1"] = Account("u1", tokens_valid_after=clock.now)
    check_standing("u1", issued, cache)
    clock.advance(seconds=10)  # 60 s after the lookup
    with pytest.raises(Unauthenticated, match="revoked; sign in again"):
        check_standing("u1", issued, cache)
    assert accounts.lookups == 2
    # A token issued at or after the revocation stands (the cut is to the second, as Auth's).
    check_standing("u1", clock.now - dt.timedelta(seconds=10), cache)


def test_deleted_and_disabled_users_are_refused_each_with_its_reason() -> None:
    accounts = FakeAccounts(Account("off", disabled=True))
    cache = AccountCache(accounts, FixedClock(NOW), TTL)
    with pytest.raises(Unauthenticated, match="account is disabled"):
        check_standing("off", NOW, cache)
    with pytest.raises(Unauthenticated, match="no longer exists"):
        check_standing("gone", NOW, cache)
    with pytest.raises(Unauthenticated, match="no longer exists"):
        check_standing("gone", NOW, cache)  # a deleted user is remembered too
    assert accounts.lookups == 2


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    accounts = FakeAccounts(*(Account(f"u{i}") for i in range(5)))
    clock = FixedClock(NOW)
    cache = AccountCache(accounts, clock, TTL, size=3)
    for uid in ("u0", "u1", "u2", "u0", "u3", "u4"):  # u0 used again before u3 and u4 arrive
        cache.account(uid)
    assert len(cache) == 3 and accounts.lookups == 5
    cache.account("u0")  # still held
    assert accounts.lookups == 5
    cache.account("u1")  # dropped: looked up again
    assert accounts.lookups == 6


def test_a_failed_lookup_is_not_cached_and_a_zero_ttl_looks_up_every_time() -> None:
    accounts = FakeAccounts(Account("u1"))
    cache = AccountCache(accounts, FixedClock(NOW), TTL)
    accounts.down = True
    with pytest.raises(Unavailable):
        check_standing("u1", NOW, cache)
    accounts.down = False
    check_standing("u1", NOW, cache)
    assert accounts.lookups == 2 and len(cache) == 1
    uncached = AccountCache(accounts, FixedClock(NOW), dt.timedelta(0))
    for _ in range(3):
        uncached.account("u1")
    assert accounts.lookups == 5 and len(uncached) == 0


def test_a_deployed_function_refuses_to_run_without_account_checks(
    clean_env: pytest.MonkeyPatch,
) -> None:
    off = Settings(dashboard=DashboardSettings(auth_account_checks=False))
    assert account_checks(off) is None  # a local stack without an Auth emulator
    clean_env.setenv("K_SERVICE", "video_analytics_dashboard")
    with pytest.raises(ConfigError, match="AUTH_ACCOUNT_CHECKS"):
        account_checks(off)
    on = account_checks(Settings(dashboard=DashboardSettings(auth_account_cache_seconds=30)))
    assert isinstance(on, AccountCache)


def test_an_account_check_auth_cannot_answer_is_a_503_but_never_fails_the_health_check() -> None:
    given = inputs()
    store = FakeStore()
    clock = FixedClock(given.now)
    monitor = PerformanceMonitor(store)
    accounts = FakeAccounts(Account("tester"))
    accounts.down = True

    def verifier(header: str | None) -> Caller:  # verify() once the token's signature passed
        check_standing("tester", given.now, accounts)
        return Caller("tester", "analytics")

    board = Dashboard(ApiServices(
        AnalyticsEngine(store, monitor), clock, 400, verifier=verifier,
        health=HealthCheck(CountingSource(given), lambda now: (0, 0), clock),
    ))  # fmt: skip
    assert call(board, "/health", "tok-analytics") == (200, {"status": "ok"})
    status, body = call(board, "/summary", "tok-analytics")
    assert status == 503 and body["error"]["code"] == "unavailable"
    assert body["error"]["message"].startswith("Authorization: Firebase Auth did not answer")
