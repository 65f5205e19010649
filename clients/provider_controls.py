"""A reference reader of `provider_controls` for the generation service.

The monitor writes one document per provider it controls (`provider_controls/{provider}`):
`state` (`closed`, `open`, `half_open`), `weight` (0..1: the share of the provider's usual
traffic to send it), `reason`, `alertId`, `since`, `until`, `by`. A provider without a document
gets its usual traffic. Read the documents before choosing a provider:

    reader = ProviderControlsReader(firestore.Client())
    provider = reader.choose({"runway": 0.5, "pika": 0.3, "heygen": 0.2}, random.random())

Each provider's usual share is multiplied by its weight and the result renormalised, so a paused
provider's traffic goes to the others in proportion to their usual shares. The reader fails
open: it keeps the documents for `max_age_seconds` (one read per interval, whatever the request
rate), keeps the last documents it read when a read fails, and sends the usual traffic if every
candidate is paused (the monitor's guard rails never pause the last healthy provider, but an
admin may) or before the first read succeeds. A monitoring outage never stops generation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)
COLLECTION = "provider_controls"


def effective_shares(usual: Mapping[str, float], weights: Mapping[str, float]) -> dict[str, float]:
    """Usual shares times weights (1 for a provider without a control), renormalised; the
    usual shares, normalised, when every candidate's weight is 0."""
    scaled = {p: max(0.0, s) * min(1.0, max(0.0, weights.get(p, 1.0))) for p, s in usual.items()}
    total = sum(scaled.values())
    if total <= 0:
        scaled = {p: max(0.0, s) for p, s in usual.items()}
        total = sum(scaled.values())
    if total <= 0:
        raise ValueError("usual shares must include a positive share")
    return {p: s / total for p, s in scaled.items()}


def pick(shares: Mapping[str, float], roll: float) -> str:
    """The provider a uniform roll in [0, 1) lands on (providers in name order)."""
    names = sorted(shares)
    for name in names:
        roll -= shares[name]
        if roll < 0:
            return name
    return next(n for n in reversed(names) if shares[n] > 0)


class ProviderControlsReader:
    """Weights from `provider_controls`, cached and failing open."""

    def __init__(
        self,
        client: Any,
        max_age_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        collection: str = COLLECTION,
    ) -> None:
        self._client = client
        self._max_age = max_age_seconds
        self._clock = clock
        self._collection = collection
        self._weights: dict[str, float] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def weights(self) -> dict[str, float]:
        """Each controlled provider's weight (read at most once per `max_age_seconds`)."""
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._max_age:
                self._read_at = now
                try:
                    docs = self._client.collection(self._collection).stream()
                    self._weights = {d.id: float((d.to_dict() or {}).get("weight", 1.0))
                                     for d in docs}  # fmt: skip
                except Exception:  # fail open: keep what was read last
                    log.warning("provider_controls unreadable; keeping the last weights read")
            return dict(self._weights)

    def choose(self, usual: Mapping[str, float], roll: float) -> str:
        """The provider for one request, given the usual shares and a uniform roll in [0, 1)."""
        return pick(effective_shares(usual, self.weights()), roll)
