"""The generation service's reference reader: shares after the weights, picking, caching, and
failing open."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from clients.provider_controls import ProviderControlsReader, effective_shares, pick

USUAL = {"runway": 0.5, "pika": 0.3, "heygen": 0.2}


def test_a_paused_providers_traffic_goes_to_the_others_in_proportion() -> None:
    shares = effective_shares(USUAL, {"pika": 0.0})
    assert shares == pytest.approx({"runway": 0.5 / 0.7, "pika": 0.0, "heygen": 0.2 / 0.7})
    probing = effective_shares(USUAL, {"pika": 0.1})
    total = 0.5 + 0.03 + 0.2
    assert probing == pytest.approx({"runway": 0.5 / total, "pika": 0.03 / total,
                                     "heygen": 0.2 / total})  # fmt: skip
    assert effective_shares(USUAL, {p: 0.0 for p in USUAL}) == pytest.approx(USUAL)  # fail open
    assert effective_shares(USUAL, {"other": 0.0}) == pytest.approx(USUAL)


def test_pick_spreads_rolls_by_share_and_never_picks_a_zero_share() -> None:
    shares = effective_shares(USUAL, {"pika": 0.0})
    rolls = [i / 10_000 for i in range(10_000)]
    counts = {p: sum(1 for r in rolls if pick(shares, r) == p) for p in USUAL}
    assert counts["pika"] == 0
    assert counts["runway"] == pytest.approx(10_000 * 0.5 / 0.7, abs=2)


@dataclass
class Snap:
    id: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data


@dataclass
class Collection:
    docs: list[Snap]
    reads: list[int] = field(default_factory=list)
    broken: bool = False

    def stream(self) -> Iterator[Snap]:
        self.reads.append(1)
        if self.broken:
            raise ConnectionError("unavailable")
        return iter(self.docs)


@dataclass
class Client:
    controls: Collection

    def collection(self, name: str) -> Collection:
        assert name == "provider_controls"
        return self.controls


def test_the_reader_caches_and_keeps_the_last_weights_when_a_read_fails() -> None:
    now = [0.0]
    store = Collection([Snap("pika", {"state": "open", "weight": 0.0})])
    reader = ProviderControlsReader(Client(store), max_age_seconds=30, clock=lambda: now[0])
    assert reader.weights() == {"pika": 0.0}
    assert all(reader.choose(USUAL, r / 100) != "pika" for r in range(100))
    assert len(store.reads) == 1  # one read per 30 s however many choices
    now[0] = 31.0
    store.broken = True
    assert reader.weights() == {"pika": 0.0} and len(store.reads) == 2
    now[0] = 62.0
    store.broken = False
    store.docs = [Snap("pika", {"state": "half_open", "weight": 0.25})]
    assert reader.weights() == {"pika": 0.25}
