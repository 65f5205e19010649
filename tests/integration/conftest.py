"""Every integration test on the session stack (tests/conftest.py) starts on a clean database."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_DATA
from tests.integration.support import Stack


@pytest.fixture(autouse=True)
def clean_database(request: pytest.FixtureRequest) -> None:
    """Every test on the session stack starts on an empty Firestore with no trigger in flight,
    unless its module is marked `shared_data` (its tests share what a module-scoped fixture
    seeded, after wiping)."""
    if "stack" not in request.fixturenames or request.node.get_closest_marker(SHARED_DATA):
        return  # a test without the session stack need not start it
    stack: Stack = request.getfixturevalue("stack")
    stack.wipe()
