"""Who may be named outside the operational store: the stand-ins for an erased or opted-out
user, and the keyed pseudonym (HMAC-SHA256) that replaces a user id in BigQuery."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

# What stands in for a user id that must not leave: an erased user's (privacy/erasure.py) and an
# opted-out user's (their rows stay, so counts stay true, but no longer point at them).
ERASED = "erased"


OPTED_OUT = "opted-out"


ANONYMOUS = frozenset({ERASED, OPTED_OUT})


def pseudonym(user_id: str, key: bytes) -> str:
    """A stable pseudonym: HMAC-SHA256 of the user id under the key (hex). Without the key the
    pseudonym cannot be linked back to the user id or across keys."""
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()


def kept_properties(properties: Any) -> dict[str, str] | None:
    """What an anonymised event keeps of its free-form properties: only the feature name the
    figures count (a string naming a product feature, nothing about the user)."""
    feature = properties.get("feature") if isinstance(properties, dict) else None
    return {"feature": feature} if isinstance(feature, str) and feature else None


def anonymised(data: Mapping[str, Any], placeholder: str) -> dict[str, Any]:
    """A row's fields without what points at its user: the id replaced, an event's session
    cleared and its free-form properties reduced to the feature name the figures count."""
    return {
        **data,
        "userId": placeholder,
        "sessionId": None,
        "properties": kept_properties(data.get("properties")),
    }
