"""The console's and the watchdog's routes about the system itself: `/health` (no token needed;
a reader's token adds the detail) and `/targets` (what the headline figures are held against)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from video_monitoring.analytics.health import Health
from video_monitoring.config.settings import Target
from video_monitoring.core.errors import InvalidArgument, Unauthenticated, Unavailable
from video_monitoring.dashboard.auth import READ_ROLES, Caller
from video_monitoring.dashboard.http import Request, Response


def health_response(
    check: Callable[[], Health], request: Request, verify: Callable[[str | None], Caller]
) -> Response:
    """200 `ok` or 503 `degraded` with the reasons; the detail for an analytics or admin token."""
    if request.params:
        raise InvalidArgument(f"{sorted(request.params)[0]}: /health takes no parameters")
    reader = False
    if request.authorization:
        try:
            reader = verify(request.authorization).role in READ_ROLES
        except (Unauthenticated, Unavailable):
            # A bad token, or an account check Firebase Auth could not answer, never fails the
            # health check; it gets no detail.
            reader = False
    health = check()
    return Response(200 if health.ok else 503, health.to_json(with_detail=reader))


def targets_body(targets: Mapping[str, Target], params: Mapping[str, str]) -> dict[str, Any]:
    """GET /targets."""
    if params:
        raise InvalidArgument(f"{sorted(params)[0]}: /targets takes no parameters")
    return {name: target.to_json() for name, target in targets.items()}
