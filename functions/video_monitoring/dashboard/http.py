"""The API's HTTP shapes, independent of Flask: the request it needs, a JSON response, a streamed
file, and the error body (docs/interfaces.md §6)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from video_monitoring.core.models import rfc3339


@dataclass(frozen=True)
class Request:
    """What the API needs of an HTTP request."""

    method: str
    path: str
    params: Mapping[str, str]
    authorization: str | None
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    """Status, JSON body and any extra headers (`Allow`, `Retry-After`)."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """The body as JSON."""
        return json.dumps(self.body, default=_json_default, separators=(",", ":"))


@dataclass(frozen=True)
class StreamResponse:
    """A file streamed in chunks (exports)."""

    content_type: str
    filename: str
    chunks: Iterator[bytes]
    status: int = 200


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return rfc3339(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def error_body(code: str, message: str) -> dict[str, Any]:
    """docs/interfaces.md §6 error shape."""
    return {"error": {"code": code, "message": message}}
