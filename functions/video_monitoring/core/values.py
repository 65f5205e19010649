"""Plain JSON values from anything Firestore can hold (file exports and BigQuery rows)."""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from video_monitoring.core.models import rfc3339


def plain(value: Any) -> Any:
    """A JSON-ready value for anything Firestore can hold: times as RFC 3339, geo points as
    {lat, lng}, references as their path, bytes as base64, non-finite numbers as null; maps and
    lists recursively. Raw app events can hold any of these."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return {"lat": value.latitude, "lng": value.longitude}
    if hasattr(value, "path"):
        return str(value.path)
    return str(value)
