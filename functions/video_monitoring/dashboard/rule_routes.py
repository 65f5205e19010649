"""`GET /alert-rules/{ruleId}/backtest`: the stored rule replayed over the stored runs, its
window and the optional `threshold` and `pagesPerWeek`, each checked and named when wrong."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.rules import RULE_ID
from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.core.models import rfc3339
from video_monitoring.dashboard.auth import READ_ROLES, Caller, require
from video_monitoring.dashboard.http import Request, Response
from video_monitoring.dashboard.params import parse_window
from video_monitoring.dashboard.routes import Admit

BACKTEST_PARAMS = frozenset({"window", "from", "to", "threshold", "pagesPerWeek"})
BACKTEST_DEFAULT_WINDOW = "7d"
# A month of runs at the 5-minute schedule: about 8,600 runs per scope, read in one query.
BACKTEST_MAX_DAYS = 31
MAX_PAGES_PER_WEEK = 1000.0
NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?")


def _number(params: Mapping[str, str], name: str, accepts: str) -> float | None:
    text = params.get(name)
    if text is None:
        return None
    # A plain decimal number only: float() would also take padding, "inf", "nan" and "1_0".
    value = float(text) if NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value):
        raise InvalidArgument(f"{name}: expected {accepts}; got {text!r}")
    return value


def backtest_body(
    manager: AlertManager,
    rule_id: str,
    params: Mapping[str, str],
    now: dt.datetime,
    kept_since: dt.datetime,
) -> Callable[[], dict[str, Any]]:
    """The parameters checked, then the replay of the rule over the window (default the last
    7 days), which must start at or after `kept_since` (the system metric documents expire
    with the raw retention) unless the runs before it are read from BigQuery."""
    unknown = sorted(set(params) - BACKTEST_PARAMS)
    if unknown:
        accepted = ", ".join(sorted(BACKTEST_PARAMS))
        raise InvalidArgument(f"{unknown[0]}: unknown parameter; accepted: {accepted}")
    window_params = {k: v for k, v in params.items() if k in ("window", "from", "to")}
    if not window_params:
        window_params = {"window": BACKTEST_DEFAULT_WINDOW}
    window = parse_window(window_params, now, BACKTEST_MAX_DAYS)
    if window.start < kept_since and not manager.archived_runs:
        raise InvalidArgument(
            f"from: Firestore keeps the stored runs a backtest replays since "
            f"{rfc3339(kept_since)} and no BigQuery archive is configured; start the window "
            "then or later"
        )
    threshold = _number(params, "threshold", "a number (the rule's threshold to try)")
    pages = _number(params, "pagesPerWeek", f"a number from 0 to {MAX_PAGES_PER_WEEK:g}")
    if pages is not None and not 0 <= pages <= MAX_PAGES_PER_WEEK:
        raise InvalidArgument(
            f"pagesPerWeek: expected a number from 0 to {MAX_PAGES_PER_WEEK:g}; got {pages:g}"
        )
    return lambda: manager.backtest(rule_id, window.start, window.end, threshold, pages)


def backtest_response(
    manager: AlertManager,
    request: Request,
    caller: Caller,
    rule_id: str,
    now: dt.datetime,
    kept_since: dt.datetime,
    admit: Admit,
) -> Response:
    """GET /alert-rules/{ruleId}/backtest for readers."""
    require(caller, READ_ROLES)
    if not RULE_ID.fullmatch(rule_id):
        raise NotFound(f"ruleId: no alert rule {rule_id!r} (ids match {RULE_ID.pattern})")
    run = backtest_body(manager, rule_id, request.params, now, kept_since)
    admit()
    return Response(200, run())
