"""Run every benchmark in bench/, print their figures, and write them as a table on request.

`make bench` runs `run_all.py --table docs/benchmarks-latest.md`. `--only a.py,b.py` runs those
scripts alone (the table then holds only them); every other argument goes to each script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench_table import BenchRun, Provenance, render_table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPTS = [
    "percentile_error.py", "reconcile_bench.py", "concurrency_bench.py", "pipeline_bench.py",
    "alerting_bench.py", "dashboard_bench.py", "rollup_scale_bench.py", "export_memory.py",
    "export_bench.py",
    "bigquery_export_bench.py", "console_bench.py", "backtest_bench.py", "digest_bench.py",
    "slo_bench.py", "identity_bench.py", "fold_quarantine_bench.py",
    "generations_bench.py", "tick_bench.py", "capacity_forecast_bench.py",
]  # fmt: skip


def run_script(path: Path, args: Sequence[str]) -> BenchRun:
    """Run one script, echoing its output as it comes and keeping its lines for the table."""
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, str(path), *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    ) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
        returncode = process.wait()
    return BenchRun(path.name, returncode, time.monotonic() - started, tuple(lines))


def git(*args: str) -> str:
    """One git command's output in the repository, empty when git cannot answer."""
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def provenance(now: Callable[[], dt.datetime], command: str) -> Provenance:
    """The date, commit and machine the figures were measured at."""
    return Provenance(
        ran_at=now(),
        commit=git("rev-parse", "--short=12", "HEAD") or "unknown",
        dirty=bool(git("status", "--porcelain", "--untracked-files=no")),
        machine=f"{os.cpu_count()} CPUs, {platform.system()}, Python {platform.python_version()}",
        command=command,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run each script; the exit code is the worst of theirs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--table", type=Path, help="write the figures as markdown to this file")
    parser.add_argument("--only", help="comma-separated scripts to run instead of all")
    options, passed = parser.parse_known_args(argv)
    scripts = options.only.split(",") if options.only else SCRIPTS
    unknown = sorted(set(scripts) - set(SCRIPTS))
    if unknown:
        parser.error(f"--only accepts scripts of {', '.join(SCRIPTS)}; not {', '.join(unknown)}")
    command = " ".join(["bench/run_all.py", *(sys.argv[1:] if argv is None else argv)])
    measured_at = provenance(lambda: dt.datetime.now(dt.UTC), command)
    runs = []
    for script in scripts:
        print(f"== {script}", flush=True)
        runs.append(run_script(HERE / script, passed))
    if options.table:
        not_run = [script for script in SCRIPTS if script not in scripts]
        options.table.write_text(render_table(runs, measured_at, not_run))
        print(f"figures written to {options.table}", flush=True)
    return max((run.returncode for run in runs), default=0)


if __name__ == "__main__":
    raise SystemExit(main())
