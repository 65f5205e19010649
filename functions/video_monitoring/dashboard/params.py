"""Request parsing: the query window (`window` / `from` / `to` / `provider` of every GET), the
console's `/api` path prefix, and JSON bodies."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import PROVIDER_PATTERN, Window
from video_monitoring.ingest.rollup import ceil_time, floor_time

NAMED_WINDOWS: dict[str, dt.timedelta] = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}
DEFAULT_WINDOW = "24h"
_PROVIDER = re.compile(PROVIDER_PATTERN)


class RangeQuery(BaseModel):
    """A time range: a named `window`, or `from` and `to` (RFC 3339) together."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    window: Literal["1h", "24h", "7d", "30d"] | None = None
    from_: str | None = Field(None, alias="from")
    to: str | None = None


class WindowQuery(RangeQuery):
    """The window of a read, optionally of one provider."""

    provider: str | None = None


# A checked request's work, run once the caller has been admitted to its rate limit.
Prepared = Callable[[], Any]


def ready(value: Any) -> Prepared:
    """Work already done while checking (a body computed from settings alone)."""
    return lambda: value


def choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    """An optional parameter that must be one of `allowed`, or a 400 naming it."""
    value = params.get(name)
    if value is not None and value not in allowed:
        raise InvalidArgument(f"{name}: expected one of {', '.join(allowed)}; got {value!r}")
    return value


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An optional integer parameter from `low` to `high`, or a 400 naming it."""
    text = params.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise InvalidArgument(f"{name}: expected an integer from {low} to {high}; got {text!r}")
    return int(text)


def parse_time(name: str, text: str) -> dt.datetime:
    """An RFC 3339 time with an offset, or a 400 naming the parameter."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or "T" not in text.upper():
        raise InvalidArgument(
            f"{name}: expected an RFC 3339 time with offset, e.g. 2026-11-24T10:00:00Z; "
            f"got {text!r}"
        )
    return value.astimezone(dt.UTC)


def parse_window(params: Mapping[str, str], now: dt.datetime, max_days: int) -> Window:
    """Resolve the window parameters; edges are widened to whole minutes (the finest bucket)."""
    named = params.get("window")
    has_range = "from" in params or "to" in params
    if named is not None and has_range:
        raise InvalidArgument("window: give either window or from and to, not both")
    if has_range:
        if "from" not in params or "to" not in params:
            missing = "from" if "from" not in params else "to"
            raise InvalidArgument(f"{missing}: from and to must be given together (RFC 3339)")
        start = parse_time("from", params["from"])
        end = parse_time("to", params["to"])
        if end <= start:
            raise InvalidArgument("to: must be later than from")
    else:
        named = named or DEFAULT_WINDOW
        if named not in NAMED_WINDOWS:
            raise InvalidArgument(
                f"window: expected one of {', '.join(NAMED_WINDOWS)}; got {named!r}"
            )
        end = ceil_time(now, "minute")
        start = end - NAMED_WINDOWS[named]
    start, end = floor_time(start, "minute"), ceil_time(end, "minute")
    if end - start > dt.timedelta(days=max_days):
        raise InvalidArgument(f"from: windows span at most {max_days} days")
    provider = params.get("provider")
    if provider is not None and not _PROVIDER.fullmatch(provider):
        raise InvalidArgument(
            f"provider: expected a provider id matching {PROVIDER_PATTERN}; got {provider!r}"
        )
    return Window(start=start, end=end, provider=provider)


MAX_BODY_BYTES = 64 * 1024
# The console reaches the API on its own origin under this prefix (the hosting rewrite).
API_PREFIX = "/api"


def api_path(path: str) -> str:
    """The endpoint a request path names, with or without the console's `/api` prefix:
    `/api/summary` and `/summary` both name `/summary`."""
    path = "/" + path.strip("/")
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        path = "/" + path[len(API_PREFIX) :].strip("/")
    return path


def json_body(raw: bytes, optional: bool) -> dict[str, Any]:
    """A request body that must be a JSON object (empty allowed when `optional`)."""
    if not raw.strip():
        if optional:
            return {}
        raise InvalidArgument("body: expected a JSON object")
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidArgument(f"body: at most {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidArgument("body: expected a JSON object")
    try:
        # JSON may escape half a surrogate pair ("\ud83d" alone), which no UTF-8 store takes.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(
            "body: text holds an unpaired surrogate escape (\\ud800-\\udfff)"
        ) from None
    return data
