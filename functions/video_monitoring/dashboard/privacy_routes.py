"""`POST /users/{userId}/erase` (admins): a user's analytics data erased everywhere, audited
under the user's digest, never their id."""

from __future__ import annotations

import logging
from collections.abc import Callable

from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.routes import Call
from video_monitoring.privacy.erasure import ErasureReport, subject

log = logging.getLogger(__name__)


def erase_target(call: Call) -> str:
    """The audit entry's target: the user's digest."""
    return subject(call.path["userId"])


def erase(eraser: Callable[[str], ErasureReport], call: Call) -> Prepared:
    """Erase the user's data; the entry keeps what each store did."""
    user_id = call.path["userId"]

    def run() -> object:
        report = eraser(user_id)
        call.details.update({"firestore": report.firestore, "bigquery": report.bigquery})
        log.info("erased the analytics data of %s at %s's request", subject(user_id), call.who)
        return report.to_json(user_id)

    return run
