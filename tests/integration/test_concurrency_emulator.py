"""Randomised concurrency on the real stack: rewrites, deletions, duplicated and stale events
at once; the rollups, `/summary` and the user days must equal the truth of the final documents.

The stack here is one of its own whose host answers each delivery at once and handles it in a
thread (LOCAL_CONCURRENT_TRIGGERS; the emulator would otherwise wait for each handler before the
next delivery, which production does not) and whose handlers wait a random 0-40 ms between their
reads and their commit (LOCAL_COMMIT_DELAY_MS), as slow instances do, so deliveries of one
document really overlap.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import firestore

from local_stack.chaos import ChaosPlan, run_chaos
from local_stack.ports import free_ports
from local_stack.stack import StackPorts, start_stack
from tests.integration.support import PROJECT, Stack, client_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def slow_stack(stack: Stack) -> Iterator[tuple[Stack, firestore.Client]]:
    """A second stack (the session's proves the tools are there) with slow commits."""
    firestore_port, functions_port = free_ports(2)
    with tempfile.TemporaryDirectory(prefix="chaos-stack-") as logs:
        local = start_stack(
            PROJECT,
            StackPorts(firestore_port, functions_port),
            run_schedules=False,
            log_dir=Path(logs),
            env={
                "LOCAL_COMMIT_DELAY_MS": "40",
                "LOCAL_CONCURRENT_TRIGGERS": "true",
                "BIGQUERY_ENABLED": "false",
            },
        )
        client = client_of(local)
        try:
            yield Stack(local, local.functions_base), client
        finally:
            local.stop()


@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_rewrites_and_redeliveries_stay_exact(
    slow_stack: tuple[Stack, firestore.Client], seed: int
) -> None:
    stack, db = slow_stack
    stack.wipe()
    failures = stack.trigger_failures() + stack.trigger_failures("on_analytics_event_written")
    report = run_chaos(
        stack.functions_base,
        db,
        lambda: stack.settle(quiet=1.0),
        ChaosPlan(
            generations=8, events=4, writers=4, writes=160, replayers=4, replays=240, seed=seed
        ),
    )
    assert report.writes == 160
    assert report.replays > 0
    after = stack.trigger_failures() + stack.trigger_failures("on_analytics_event_written")
    assert after == failures
    assert report.mismatches == []
