"""Window parameters: defaults, alignment and 400s that name the parameter."""

from __future__ import annotations

import datetime as dt

import pytest

from video_monitoring.core.errors import InvalidArgument
from video_monitoring.dashboard.params import parse_window

NOW = dt.datetime(2026, 11, 24, 10, 30, 15, tzinfo=dt.UTC)


def test_default_is_24h_ending_at_the_next_whole_minute() -> None:
    window = parse_window({}, NOW, 400)
    assert window.end == dt.datetime(2026, 11, 24, 10, 31, tzinfo=dt.UTC)
    assert window.end - window.start == dt.timedelta(hours=24)


def test_from_to_are_widened_to_whole_minutes() -> None:
    window = parse_window(
        {"from": "2026-11-20T01:02:03Z", "to": "2026-11-21T00:00:00+01:00", "provider": "d-id"},
        NOW,
        400,
    )
    assert window.start == dt.datetime(2026, 11, 20, 1, 2, tzinfo=dt.UTC)
    assert window.end == dt.datetime(2026, 11, 20, 23, 0, tzinfo=dt.UTC)
    assert window.provider == "d-id"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"window": "2h"}, "window"),
        ({"window": "1h", "from": "2026-11-20T00:00:00Z"}, "window"),
        ({"from": "2026-11-20T00:00:00Z"}, "to"),
        ({"to": "2026-11-20T00:00:00Z"}, "from"),
        ({"from": "2026-11-20", "to": "2026-11-21T00:00:00Z"}, "from"),
        ({"from": "2026-11-20T00:00:00", "to": "2026-11-21T00:00:00Z"}, "from"),
        ({"from": "2026-11-22T00:00:00Z", "to": "2026-11-21T00:00:00Z"}, "to"),
        ({"from": "2024-01-01T00:00:00Z", "to": "2026-11-21T00:00:00Z"}, "from"),
        ({"provider": "Runway!"}, "provider"),
    ],
)
def test_bad_parameters_name_themselves(params: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_window(params, NOW, 400)
    assert str(caught.value).startswith(f"{named}:")
