"""Models split by purpose: the input document, the stored per-generation metrics, query windows."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Status = Literal["queued", "processing", "completed", "failed", "cancelled"]
Tier = Literal["free", "premium"]
STATUSES: tuple[Status, ...] = ("queued", "processing", "completed", "failed", "cancelled")
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
IN_PROGRESS: frozenset[str] = frozenset({"queued", "processing"})

PROVIDER_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_Timestamp = Annotated[dt.datetime, Field(strict=True)]
# A feature name is a short identifier; the stored metrics record copies the list.
FeatureName = Annotated[str, Field(max_length=128)]


def _finite(value: float | None, name: str) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number")


def _plain_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is None:
        return value
    # Firestore's DatetimeWithNanoseconds misbehaves after arithmetic; keep plain UTC datetimes.
    utc = value.astimezone(dt.UTC)
    return dt.datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond,
        tzinfo=dt.UTC,
    )  # fmt: skip


class GenerationError(BaseModel):
    """The `error` map of a failed generation."""

    model_config = ConfigDict(strict=True, extra="ignore")

    code: str = Field(min_length=1, max_length=128)
    message: str = Field(max_length=10_000)
    retryable: bool


class GenerationDocument(BaseModel):
    """One `video_generations` document as docs/interfaces.md §1 defines it; anything else is
    rejected."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    userId: str = Field(min_length=1, max_length=128)
    provider: str = Field(pattern=PROVIDER_PATTERN)
    model: str | None = Field(default=None, max_length=256)
    status: Status
    createdAt: _Timestamp
    startedAt: _Timestamp | None = None
    completedAt: _Timestamp | None = None
    userTier: Tier
    attempts: int = Field(default=1, ge=1, le=1000)
    fallbackFrom: str | None = Field(default=None, pattern=PROVIDER_PATTERN)
    error: GenerationError | None = None
    qualityScore: float | None = Field(default=None, ge=0, le=10)
    userRating: float | None = Field(default=None, ge=1, le=5)
    costUsd: float | None = Field(default=None, ge=0)
    outputSeconds: float | None = Field(default=None, gt=0)
    resolution: str | None = Field(default=None, max_length=32)
    features: list[FeatureName] = Field(default_factory=list, max_length=100)

    @field_validator("createdAt", "startedAt", "completedAt", mode="after")
    @classmethod
    def _plain(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _plain_utc(value)

    @model_validator(mode="after")
    def _consistent(self) -> GenerationDocument:
        for name in ("qualityScore", "userRating", "costUsd", "outputSeconds"):
            _finite(getattr(self, name), name)
        for name in ("createdAt", "startedAt", "completedAt"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must carry a time zone (Firestore timestamps do)")
        if self.status in TERMINAL and self.completedAt is None:
            raise ValueError(f"completedAt is required when status is {self.status}")
        if self.status == "failed" and self.error is None:
            raise ValueError("error {code, message, retryable} is required when status is failed")
        if self.completedAt is not None and self.completedAt < self.createdAt:
            raise ValueError("completedAt is before createdAt")
        if self.startedAt is not None and self.startedAt < self.createdAt:
            raise ValueError("startedAt is before createdAt")
        if (
            self.startedAt is not None
            and self.completedAt is not None
            and self.completedAt < self.startedAt
        ):
            raise ValueError("completedAt is before startedAt")
        return self

    @property
    def generation_seconds(self) -> float | None:
        """completedAt - createdAt, for completed jobs only."""
        if self.status != "completed" or self.completedAt is None:
            return None
        return (self.completedAt - self.createdAt).total_seconds()

    @property
    def queue_seconds(self) -> float | None:
        """startedAt - createdAt."""
        if self.startedAt is None:
            return None
        return (self.startedAt - self.createdAt).total_seconds()

    @property
    def render_seconds(self) -> float | None:
        """completedAt - startedAt."""
        if self.startedAt is None or self.completedAt is None:
            return None
        return (self.completedAt - self.startedAt).total_seconds()


EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class AppEvent(BaseModel):
    """One app event of docs/interfaces.md §2 (written by the web app or backend). Types outside the
    contract's list are counted under their own name; `amountUsd` is required on upgrades."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    userId: str = Field(min_length=1, max_length=128)
    timestamp: _Timestamp
    sessionId: str | None = Field(default=None, max_length=256)
    generationId: str | None = Field(default=None, max_length=1500)
    amountUsd: float | None = Field(default=None, ge=0)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp", mode="after")
    @classmethod
    def _plain(cls, value: dt.datetime) -> dt.datetime:
        return _plain_utc(value) or value

    @model_validator(mode="after")
    def _consistent(self) -> AppEvent:
        _finite(self.amountUsd, "amountUsd")
        if self.timestamp.tzinfo is None:
            raise ValueError("timestamp must carry a time zone (Firestore timestamps do)")
        if self.type == "premium_upgrade" and self.amountUsd is None:
            raise ValueError("amountUsd is required when type is premium_upgrade")
        return self


def describe_validation_error(error: ValidationError) -> str:
    """One readable line naming each offending field and what was expected."""
    parts: list[str] = []
    for item in error.errors(include_url=False):
        location = ".".join(str(p) for p in item["loc"]) or "document"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}")
    return "; ".join(parts)


def parse_generation(data: dict[str, Any]) -> GenerationDocument:
    """Validate a raw document; raises ValidationError."""
    return GenerationDocument.model_validate(data)


class Window(BaseModel):
    """A half-open time range [start, end), aligned to whole minutes."""

    model_config = ConfigDict(frozen=True)

    start: dt.datetime
    end: dt.datetime
    provider: str | None = None

    def to_json(self) -> dict[str, str]:
        """The `window` object of every dashboard response."""
        return {"from": rfc3339(self.start), "to": rfc3339(self.end)}


def rfc3339(value: dt.datetime) -> str:
    """UTC RFC 3339 with a Z suffix."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
