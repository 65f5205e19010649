"""The BI views' statements: one idempotent CREATE OR REPLACE per view, on the given dataset,
with descriptions that cannot end their SQL string literal (the SQL itself runs on the
BigQuery emulator: tests/integration/test_bi_views_emulator.py)."""

from __future__ import annotations

import re

from video_monitoring.warehouse.views import VIEWS, view_statements


def test_every_view_is_created_or_replaced_on_the_dataset() -> None:
    statements = view_statements("proj-1.video_monitoring")
    head = re.compile(r"CREATE OR REPLACE VIEW `proj-1\.video_monitoring\.(\w+)` ")
    names = [match.group(1) for s in statements if (match := head.match(s))]
    assert names == ["generation_facts", "daily_provider_summary", "cohort_retention"]
    for statement in statements:
        tables = set(re.findall(r"FROM `([^`]+)`", statement))
        assert tables == {"proj-1.video_monitoring.generation_metrics"}


def test_descriptions_hold_no_quote_or_backslash() -> None:
    for description, _ in VIEWS.values():
        assert not set(description) & {"'", "\\", "\n"}
