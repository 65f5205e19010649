"""The console's and the watchdog's routes about the system itself: `/health` (no token needed;
a reader's token adds the detail) and `/targets` (what the headline figures are held against)."""

from __future__ import annotations

from collections.abc import Callable

from video_monitoring.analytics.health import Health
from video_monitoring.core.errors import Unauthenticated, Unavailable
from video_monitoring.dashboard.auth import READ_ROLES
from video_monitoring.dashboard.http import Response
from video_monitoring.dashboard.params import Prepared, ready
from video_monitoring.dashboard.routes import Call
from video_monitoring.dashboard.services import ApiServices


def health_response(check: Callable[[], Health], call: Call) -> Prepared:
    """200 `ok` or 503 `degraded` with the reasons; the detail for an analytics or admin token."""
    reader = False
    if call.request.authorization:
        try:
            reader = call.api.verifier(call.request.authorization).role in READ_ROLES
        except (Unauthenticated, Unavailable):
            # A bad token, or an account check Firebase Auth could not answer, never fails the
            # health check; it gets no detail.
            reader = False

    def run() -> Response:
        health = check()
        return Response(200 if health.ok else 503, health.to_json(with_detail=reader))

    return run


def targets_body(api: ApiServices, call: Call) -> Prepared:
    """GET /targets."""
    return ready({name: target.to_json() for name, target in api.targets.items()})
