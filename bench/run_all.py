"""Run every benchmark in bench/ and print their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "percentile_error.py", "reconcile_bench.py", "concurrency_bench.py", "pipeline_bench.py",
    "alerting_bench.py", "dashboard_bench.py", "rollup_scale_bench.py", "export_memory.py",
    "export_bench.py",
    "bigquery_export_bench.py", "console_bench.py", "backtest_bench.py", "digest_bench.py",
    "slo_bench.py", "identity_bench.py", "fold_quarantine_bench.py",
]  # fmt: skip


def main() -> int:
    """Run each script; the exit code is the worst of theirs."""
    worst = 0
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        worst = max(worst, subprocess.call([sys.executable, str(HERE / script), *sys.argv[1:]]))
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
