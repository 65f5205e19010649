"""The drill-down behind a figure: the generations of a window, filtered by provider, status and
error code, newest first, a page at a time behind an opaque cursor, each with the export's
columns and its user id as the exports give it."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.dashboard.files import DATASETS, row_of
from video_monitoring.privacy.pseudonyms import ANONYMOUS, OPTED_OUT, pseudonym

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_ERROR_CODE = 128  # as long as a generation's `error.code` may be
# The parameters a cursor belongs to: a later page must repeat them unchanged.
CURSOR_PARAMS = ("window", "from", "to", "provider", "status", "errorCode")
# (createdAt, document id) of the last generation a page gave: the next page starts after it.
Position = tuple[dt.datetime, str]
CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]{1,2000}")
ORDER = "createdAt descending, then generationId descending"


@dataclass(frozen=True)
class GenerationFilter:
    """Which generations a list holds: created in the window (of its provider, if any), with
    the status and error code when given."""

    window: Window
    status: str | None = None
    error_code: str | None = None


class GenerationSource(Protocol):
    """Where generation records come from (the metrics collection in production)."""

    def page(
        self, wanted: GenerationFilter, after: Position | None, limit: int
    ) -> Sequence[tuple[str, Mapping[str, Any]]]:
        """At most `limit` (id, fields) of matching records, createdAt then id descending,
        starting after `after`."""
        ...

    def opted_out_users(self) -> frozenset[str]:
        """Users who opted out of analytics."""
        ...


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts, with the window it was resolved to and the parameters it
    belongs to (so a named window does not slide between pages)."""

    window: Window
    params: tuple[str | None, ...]
    after: Position

    def encode(self) -> str:
        """The opaque text a client hands back as `cursor`."""
        data = {
            "w": [rfc3339(self.window.start), rfc3339(self.window.end)],
            "q": list(self.params),
            "a": [rfc3339(self.after[0]), self.after[1]],
        }
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(text: str, provider: str | None) -> Cursor:
        """A cursor from its text, or a 400 naming `cursor`."""
        try:
            if not CURSOR_TEXT.fullmatch(text):  # the decoder would skip other characters
                raise ValueError(text)
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
            start, end = (_time(t) for t in data["w"])
            at, doc_id = _time(data["a"][0]), data["a"][1]
            params = tuple(data["q"])
            if not isinstance(doc_id, str) or not doc_id or len(params) != len(CURSOR_PARAMS):
                raise ValueError(doc_id)
            if not all(p is None or isinstance(p, str) for p in params) or not start < end:
                raise ValueError(params)
        except (ValueError, TypeError, KeyError, IndexError, binascii.Error):
            raise InvalidArgument(
                "cursor: expected the `next` value of an earlier page of this list"
            ) from None
        return Cursor(Window(start=start, end=end, provider=provider), params, (at, doc_id))


def _time(text: Any) -> dt.datetime:
    if not isinstance(text, str):
        raise TypeError(text)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(text)
    return value.astimezone(dt.UTC)


def cursor_params(params: Mapping[str, str]) -> tuple[str | None, ...]:
    """The request's parameters a cursor belongs to, in CURSOR_PARAMS order."""
    return tuple(params.get(name) for name in CURSOR_PARAMS)


def check_error_code(text: str | None) -> str | None:
    """The `errorCode` filter: an error code as generations carry it, or a 400 naming it."""
    if text is None:
        return None
    if not 1 <= len(text) <= MAX_ERROR_CODE or not text.isprintable():
        raise InvalidArgument(
            f"errorCode: expected an error code of 1 to {MAX_ERROR_CODE} printable characters "
            f"(as in a generation's error.code); got {text[:40]!r}"
        )
    return text


@dataclass(frozen=True)
class UserIds:
    """User ids as the exports give them: an opted-out user's as "opted-out", an erased one's as
    "erased", any other as its keyed pseudonym where exports pseudonymise (`key`), else as is."""

    opted_out: frozenset[str]
    key: bytes | None = None

    def shown(self, user_id: Any) -> Any:
        """The id a generation's row carries."""
        if not isinstance(user_id, str) or user_id in ANONYMOUS:
            return user_id
        if user_id in self.opted_out:
            return OPTED_OUT
        return user_id if self.key is None else pseudonym(user_id, self.key)


@dataclass(frozen=True)
class GenerationList:
    """What `GET /generations` reads: the records, and the key exports pseudonymise user ids
    under (None: they leave as they are)."""

    source: GenerationSource
    key: Callable[[], bytes | None] = lambda: None

    def page(
        self,
        wanted: GenerationFilter,
        params: tuple[str | None, ...],
        after: Position | None,
        limit: int,
    ) -> dict[str, Any]:
        """One page: up to `limit` generations after `after`, and the cursor of the next page
        (None once this one holds the last)."""
        found = list(self.source.page(wanted, after, limit + 1))
        more = len(found) > limit
        found = found[:limit]
        users = UserIds(self.source.opted_out_users(), self.key())
        columns = DATASETS["generations"]
        rows = []
        for doc_id, data in found:
            row = row_of(columns, doc_id, data)
            row["userId"] = users.shown(data.get("userId"))
            rows.append(row)
        following = None
        if more:
            doc_id, data = found[-1]
            following = Cursor(wanted.window, params, (data["createdAt"], doc_id)).encode()
        return {
            "window": wanted.window.to_json(),
            "order": ORDER,
            "generations": rows,
            "next": following,
        }
