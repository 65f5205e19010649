"""Each test on the session stack starts on an empty Firestore, even when the test before it left
documents behind and their trigger deliveries in flight; a test marked `shared_data` keeps what
came before it (tests/integration/conftest.py, clean_database). The tests run in this order."""

from __future__ import annotations

import datetime as dt

import pytest
from google.cloud import firestore

from tests.integration.support import Stack
from tests.integration.test_alerting_emulator import generation

pytestmark = pytest.mark.integration
WRITTEN = 60
PROBE = "isolation_probe"  # no trigger watches it


def collections(db: firestore.Client) -> list[str]:
    """The top-level collections that hold a document."""
    return sorted(c.id for c in db.collections())


def test_a_test_leaves_documents_and_deliveries_in_flight(db: firestore.Client) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    batch = db.batch()
    for i in range(WRITTEN):
        created = now - dt.timedelta(minutes=i)
        batch.set(db.collection("video_generations").document(f"iso-{i}"),
                  generation("runway", "completed", 30, created))  # fmt: skip
    batch.commit()
    # It returns at once: their deliveries are still arriving when the next test starts.
    assert sum(1 for _ in db.collection("video_generations").select([]).stream()) == WRITTEN


def test_the_next_test_starts_empty_and_no_late_delivery_writes(
    stack: Stack, db: firestore.Client
) -> None:
    assert collections(db) == []
    stack.settle()  # a delivery of the previous test's writes still running would write now
    assert collections(db) == []
    db.collection(PROBE).document("kept").set({"by": "the test before"})


@pytest.mark.shared_data
def test_a_shared_data_test_keeps_what_came_before(db: firestore.Client) -> None:
    assert collections(db) == [PROBE]
