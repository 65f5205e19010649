"""Digests over HTTP: `GET /digest?period=daily|weekly` (the last whole period's digest, as it
is sent) and `GET|PUT /me/digests` (a user's own opt-in), each checked and named when wrong."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from video_monitoring.analytics.digest import last_complete
from video_monitoring.analytics.digests import DigestService
from video_monitoring.core.clock import Clock
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.dashboard.auth import READ_ROLES, Caller, require
from video_monitoring.dashboard.http import Request, Response
from video_monitoring.dashboard.params import Prepared, json_body
from video_monitoring.dashboard.routes import Admit

PERIODS = ("daily", "weekly")


def digest_request(service: DigestService, params: Mapping[str, str], clock: Clock) -> Prepared:
    """The period checked, then the digest of the last whole day or week to build."""
    unknown = sorted(set(params) - {"period"})
    if unknown:
        raise InvalidArgument(f"{unknown[0]}: unknown parameter; accepted: period")
    period = params.get("period", "weekly")
    if period not in PERIODS:
        raise InvalidArgument(f"period: expected one of {', '.join(PERIODS)}; got {period!r}")
    return lambda: service.build(last_complete(period, clock()))  # type: ignore[arg-type]


def my_digests(
    service: DigestService,
    request: Request,
    caller: Caller,
    clock: Callable[[], Any],
    admit: Admit,
) -> Response:
    """GET: the caller's choice; PUT {"daily": bool, "weekly": bool}: change it (readers)."""
    require(caller, READ_ROLES)
    if request.method == "GET":
        if request.params:
            raise InvalidArgument(f"{sorted(request.params)[0]}: /me/digests takes no parameters")
        admit()
        return Response(200, service.subscription(caller.uid))
    body = json_body(request.body, optional=False)
    unknown = sorted(set(body) - set(PERIODS))
    if unknown:
        raise InvalidArgument(f"{unknown[0]}: unknown field; accepted: daily, weekly")
    choice = {}
    for name in PERIODS:
        value = body.get(name, False)
        if not isinstance(value, bool):
            raise InvalidArgument(f"{name}: expected true or false")
        choice[name] = value
    admit()
    return Response(
        200,
        service.subscribe(caller.uid, caller.email, choice["daily"], choice["weekly"], clock()),
    )
