"""The browser suite runs against the integration suite's local stack: the same session
fixtures (one stack on ports and in a directory of its own), without that suite's per-test
fixtures, since the console's tests share one module of seeded traffic."""

from __future__ import annotations

from tests.integration.conftest import bigquery_emulator, db, receivers, run_dir, stack

__all__ = ["bigquery_emulator", "db", "receivers", "run_dir", "stack"]
