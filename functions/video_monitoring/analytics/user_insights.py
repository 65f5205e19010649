"""User behaviour from per-user-day activity (pure; definitions in docs/figures.md).

A user is active on a UTC day when any of their counters for that day is positive (a generation
created that day, or an app event timestamped that day). Segments are per day: premium (a premium
generation or an upgrade that day), free (active and not premium), power (at least
`POWER_GENERATIONS` generations that day, either tier).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from video_monitoring.config import constants
from video_monitoring.ingest import counters
from video_monitoring.ingest.counters import Count
from video_monitoring.ingest.rollup import floor_time, ratio

POWER_GENERATIONS = 10
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(weeks=1)
# Cohort weeks a snapshot keeps (the ISO weeks ending with its day's) and week offsets per cohort.
COHORT_WEEKS = 12
# A user is new in a week when inactive in this many weeks before it (their first activity seen).
NEW_USER_LOOKBACK_WEEKS = 8


class Activity(Protocol):
    """One user's counters on one day."""

    @property
    def day(self) -> dt.datetime: ...

    @property
    def user_id(self) -> str: ...

    @property
    def counters(self) -> Mapping[str, float]: ...


# A user day's premium upgrades.
UPGRADES = counters.USER_EVENTS.key(constants.EVENT_PREMIUM_UPGRADE)


def is_active(activity: Activity) -> bool:
    """Any positive counter (documents of removed activity keep zeros)."""
    return any(v > 0 for v in activity.counters.values())


def day_figures(activities: Iterable[Activity]) -> dict[str, Any]:
    """The figures of one day's activity."""
    active = [a for a in activities if is_active(a)]
    users = len(active)

    def total(counter: Count) -> int:
        return int(sum(a.counters.get(counter.key, 0) for a in active))

    def events(event_type: str) -> int:
        key = counters.USER_EVENTS.key(event_type)
        return int(sum(a.counters.get(key, 0) for a in active))

    premium = sum(
        1 for a in active if a.counters.get(counters.USER_PREMIUM.key, 0) > 0
        or a.counters.get(UPGRADES, 0) > 0
    )  # fmt: skip
    power = sum(
        1 for a in active if a.counters.get(counters.USER_GENERATIONS.key, 0) >= POWER_GENERATIONS
    )
    engagement = {
        "views": events("video_viewed"),
        "shares": events("video_shared"),
        "downloads": events("video_downloaded"),
    }
    return {
        "activeUsers": users,
        "generations": total(counters.USER_GENERATIONS),
        "generationsPerActiveUser": ratio(total(counters.USER_GENERATIONS), users),
        "sessions": events("session_start"),
        "sessionsPerActiveUser": ratio(events("session_start"), users),
        "engagement": {
            **engagement,
            "perActiveUser": {name: ratio(v, users) for name, v in engagement.items()},
        },
        "upgraders": sum(1 for a in active if a.counters.get(UPGRADES, 0) > 0),
        "segments": {
            "free": {"users": users - premium, "share": ratio(users - premium, users)},
            "premium": {"users": premium, "share": ratio(premium, users)},
            "power": {"users": power, "share": ratio(power, users)},
        },
    }


def active_sets(activities: Iterable[Activity]) -> dict[dt.datetime, set[str]]:
    """Active users per day."""
    days: dict[dt.datetime, set[str]] = {}
    for a in activities:
        if is_active(a):
            days.setdefault(a.day, set()).add(a.user_id)
    return days


def retention(days: Mapping[dt.datetime, set[str]], day: dt.datetime, span: int) -> dict[str, Any]:
    """Of the users active on `day - span`, those active again on a day in (day - span, day]."""
    cohort_day = day - span * DAY
    cohort = days.get(cohort_day, set())
    later: set[str] = set()
    for offset in range(1, span + 1):
        later |= days.get(cohort_day + offset * DAY, set())
    retained = len(cohort & later)
    return {
        "cohortDay": cohort_day,
        "cohort": len(cohort),
        "retained": retained,
        "rate": ratio(retained, len(cohort)),
    }


def churn_risk(
    days: Mapping[dt.datetime, set[str]], premium: set[str], day: dt.datetime
) -> dict[str, Any]:
    """Users active in the 30 days ending on `day` but not in its last 7: how many, their share
    of the 30 days' active users, and how many of them were premium on some day."""
    recent: set[str] = set()
    for offset in range(7):
        recent |= days.get(day - offset * DAY, set())
    month: set[str] = set(recent)
    for offset in range(7, 30):
        month |= days.get(day - offset * DAY, set())
    at_risk = month - recent
    return {
        "users": len(at_risk),
        "share": ratio(len(at_risk), len(month)),
        "premium": len(at_risk & premium),
        "activeIn30Days": len(month),
    }


def week_of(instant: dt.datetime) -> dt.datetime:
    """Monday 00:00 UTC of the ISO week holding the instant."""
    start = floor_time(instant, "day")
    return start - dt.timedelta(days=start.weekday())


def cohort_weeks(day: dt.datetime) -> list[dt.datetime]:
    """The COHORT_WEEKS ISO weeks ending with the week of `day`, oldest first."""
    last = week_of(day)
    return [last - n * WEEK for n in range(COHORT_WEEKS - 1, -1, -1)]


def activity_since(day: dt.datetime) -> dt.datetime:
    """The first day of activity a snapshot of `day` reads: its cohorts' lookback, or the 30
    days before it (retention and churn risk) if earlier."""
    return min(cohort_weeks(day)[0] - NEW_USER_LOOKBACK_WEEKS * WEEK, day - 30 * DAY)


def cohorts(activities: Iterable[Activity], day: dt.datetime) -> dict[str, Any]:
    """Weekly cohorts as of the end of `day`: per cohort week (the users first active that week,
    inactive in the NEW_USER_LOOKBACK_WEEKS before it), per week offset that began by `day`,
    the share of the cohort active that week (`partial` while the week runs past `day`)."""
    weeks = cohort_weeks(day)
    since, end = weeks[0] - NEW_USER_LOOKBACK_WEEKS * WEEK, floor_time(day, "day") + DAY
    active: dict[str, set[dt.datetime]] = {}
    for a in activities:
        if is_active(a) and since <= a.day < end:
            active.setdefault(a.user_id, set()).add(week_of(a.day))
    members: dict[dt.datetime, set[str]] = {week: set() for week in weeks}
    for user, user_weeks in active.items():
        first = min(user_weeks)
        if first in members:
            members[first].add(user)
    rows = []
    for week in weeks:
        cohort = members[week]
        cells = []
        for offset in range(COHORT_WEEKS):
            at = week + offset * WEEK
            if at >= end:
                break
            n = sum(1 for u in cohort if at in active[u])
            share = ratio(n, len(cohort))
            cells.append(
                {"offset": offset, "active": n, "share": share, "partial": at + WEEK > end}
            )
        rows.append({"week": week, "users": len(cohort), "weeks": cells})
    return {"asOf": day, "lookbackWeeks": NEW_USER_LOOKBACK_WEEKS, "rows": rows}


def snapshot(activities: Sequence[Activity], day: dt.datetime) -> dict[str, Any]:
    """The stored daily snapshot of `day` from the activity since `activity_since(day)`: the
    retention and churn risk of the 31 days ending on it, and the cohorts."""
    days = active_sets(activities)
    premium = {
        a.user_id
        for a in activities
        if a.day >= day - 30 * DAY
        and (a.counters.get(counters.USER_PREMIUM.key, 0) > 0 or a.counters.get(UPGRADES, 0) > 0)
    }
    figures = day_figures(a for a in activities if a.day == day)
    return {
        "day": day,
        **figures,
        "retention7": retention(days, day, 7),
        "retention30": retention(days, day, 30),
        "churnRisk": churn_risk(days, premium, day),
        "cohorts": cohorts(activities, day),
    }
