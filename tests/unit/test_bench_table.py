"""`make bench` writes the figures as a table with the date and commit they were measured at."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

import run_all
from bench_table import BenchRun, Provenance, render_table

# What bench/percentile_error.py printed on this machine (abridged), and a failing benchmark.
PERCENTILES = (
    "percentile relative error, 100,000 samples, alpha = 0.01",
    "  lognormal(45s, 0.8)    bins  349  worst 0.995%  (p99.9 exact 440.1 sketch 436.9)",
    "",
    "worst relative error: 0.995% (target <= 1%): PASS",
)
FAILED = ("throughput | p50 12 ms", "ratio of p95s: 4.20 (target <= 4): FAIL")
WHEN = Provenance(
    ran_at=dt.datetime(2026, 12, 6, 12, 30, 59, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    commit="1dd1c4b0a2f3",
    dirty=True,
    machine="2 CPUs, Linux, Python 3.11.7",
    command="bench/run_all.py --table docs/benchmarks-latest.md",
)


def rows(page: str) -> list[list[str]]:
    """The table's body rows split on unescaped pipes, cells stripped."""
    body = [line for line in page.splitlines() if line.startswith("| `")]
    return [
        [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in body
    ]


def test_the_table_has_one_row_per_benchmark_with_its_figures() -> None:
    page = render_table(
        [
            BenchRun("percentile_error.py", 0, 3.25, PERCENTILES),
            BenchRun("pipeline_bench.py", 1, 61.04, FAILED),
            BenchRun("console_bench.py", 0, 0.4, ()),
        ],
        WHEN,
    )
    assert rows(page) == [
        [
            "`percentile_error.py`",
            "ok",
            "3.2",
            "percentile relative error, 100,000 samples, alpha = 0.01<br>"
            "lognormal(45s, 0.8)    bins  349  worst 0.995%  (p99.9 exact 440.1 sketch 436.9)<br>"
            "worst relative error: 0.995% (target &lt;= 1%): PASS",
        ],
        [
            "`pipeline_bench.py`",
            "exit 1",
            "61.0",
            "throughput | p50 12 ms<br>ratio of p95s: 4.20 (target &lt;= 4): FAIL",
        ],
        ["`console_bench.py`", "ok", "0.4", "(no output)"],
    ]


def test_the_page_says_when_where_and_how_it_was_measured() -> None:
    page = render_table([], WHEN)
    assert "- ran: 2026-12-06 11:30 UTC" in page.splitlines()
    assert "- commit: `1dd1c4b0a2f3 (with uncommitted changes)`" in page.splitlines()
    assert "- machine: 2 CPUs, Linux, Python 3.11.7" in page.splitlines()
    assert "- command: `bench/run_all.py --table docs/benchmarks-latest.md`" in page.splitlines()
    assert "not run" not in page
    assert "[benchmarks.md](benchmarks.md)" in page


def test_a_clean_checkout_is_not_marked() -> None:
    page = render_table([], Provenance(**{**vars(WHEN), "dirty": False}))
    assert "- commit: `1dd1c4b0a2f3`" in page.splitlines()


def test_a_script_run_keeps_its_lines_and_exit_status(tmp_path: Path) -> None:
    script = tmp_path / "fake_bench.py"
    script.write_text("import sys\nprint('rows/s: 1,234')\nprint(sys.argv[1:])\nsys.exit(3)\n")
    run = run_all.run_script(script, ["--quick"])
    assert (run.script, run.returncode, run.lines) == (
        "fake_bench.py",
        3,
        ("rows/s: 1,234", "['--quick']"),
    )
    assert run.seconds > 0


def test_the_runner_writes_the_table_of_what_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "percentile_error.py").write_text("print('worst relative error: 0.9%')\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    table = tmp_path / "latest.md"
    code = run_all.main(["--only", "percentile_error.py", "--table", str(table)])
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],
        cwd=run_all.ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    page = table.read_text()
    assert code == 0
    [(script, status, _seconds, figures)] = rows(page)
    assert (script, status, figures) == (
        "`percentile_error.py`",
        "ok",
        "worst relative error: 0.9%",
    )
    assert f"- commit: `{head}" in page
    assert f"Python {sys.version.split()[0]}" in page
    assert "- not run this time: `reconcile_bench.py`, `concurrency_bench.py`," in page


def test_an_unknown_script_is_refused_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as refused:
        run_all.main(["--only", "nope.py"])
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert "--only accepts scripts of percentile_error.py" in error
    assert error.rstrip().endswith("not nope.py")
