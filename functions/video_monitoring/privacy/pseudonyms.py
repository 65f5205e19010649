"""Who may be named outside the operational store: the stand-ins for an erased or opted-out
user, and the keyed pseudonym (HMAC-SHA256) that replaces a user id in BigQuery."""

from __future__ import annotations

import hashlib
import hmac

# What stands in for a user id that must not leave: an erased user's (privacy/erasure.py) and an
# opted-out user's (their rows stay, so counts stay true, but no longer point at them).
ERASED = "erased"


OPTED_OUT = "opted-out"


ANONYMOUS = frozenset({ERASED, OPTED_OUT})


def pseudonym(user_id: str, key: bytes) -> str:
    """A stable pseudonym: HMAC-SHA256 of the user id under the key (hex). Without the key the
    pseudonym cannot be linked back to the user id or across keys."""
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()
