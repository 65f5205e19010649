"""Which free-form values keep a cell or counter of their own in the rollups.

Providers name generation cells, event types name event cells and user-day counters, error codes
and features name counters. Each is free text from a provider or a client, so each is mapped
through a tracked list: a listed value keeps its own key, any other counts under `other`, and the
`other/<field>` counters say how many values went there (they add over buckets like every
counter). The raw value is never changed where it is stored: the per-generation record, the
event document and BigQuery keep it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from video_monitoring.config.constants import (
    DEFAULT_TRACKED_ERROR_CODES,
    DEFAULT_TRACKED_EVENT_TYPES,
    DEFAULT_TRACKED_FEATURES,
    DEFAULT_TRACKED_PROVIDERS,
    OTHER,
)

# The `other/<field>` members, one per bounded field.
FIELD_PROVIDER = "provider"
FIELD_ERROR = "errorCode"
FIELD_FEATURE = "feature"
FIELD_EVENT_TYPE = "eventType"
FIELDS: tuple[str, ...] = (FIELD_PROVIDER, FIELD_ERROR, FIELD_FEATURE, FIELD_EVENT_TYPE)


def safe_key(code: str) -> str:
    """A free-text value usable as one map key (no `/`, `|` or other separators)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in code)
    return cleaned[:64] or "_"


@dataclass(frozen=True)
class Bounds:
    """The tracked values of each bounded field (None: every value is tracked, for tests of
    other arithmetic only; production always passes lists)."""

    providers: frozenset[str] | None = frozenset(DEFAULT_TRACKED_PROVIDERS)
    event_types: frozenset[str] | None = frozenset(DEFAULT_TRACKED_EVENT_TYPES)
    error_codes: frozenset[str] | None = frozenset(DEFAULT_TRACKED_ERROR_CODES)
    features: frozenset[str] | None = frozenset(DEFAULT_TRACKED_FEATURES)

    @classmethod
    def of(
        cls,
        providers: Iterable[str],
        event_types: Iterable[str],
        error_codes: Iterable[str],
        features: Iterable[str],
    ) -> Bounds:
        """Bounds from the settings' lists."""
        return cls(
            frozenset(providers),
            frozenset(event_types),
            frozenset(error_codes),
            frozenset(features),
        )

    def provider(self, name: str) -> str:
        """A provider's cell name."""
        return _key(name, self.providers)

    def event_type(self, name: str) -> str:
        """An event type's cell name (and user-day counter)."""
        return _key(name, self.event_types)

    def error_code(self, code: str) -> str:
        """An error code's counter name."""
        return _key(code, self.error_codes)

    def feature(self, name: str) -> str:
        """A feature's counter name."""
        return _key(name, self.features)


def _key(value: str, tracked: frozenset[str] | None) -> str:
    # A tracked value that is not a safe key itself still gets a safe one.
    if tracked is None or value in tracked:
        return safe_key(value)
    return OTHER


DEFAULT_BOUNDS = Bounds()
UNBOUNDED = Bounds(None, None, None, None)
