"""The benchmark figures as a markdown table with the date and commit they were measured at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchRun:
    """One benchmark script's run: its exit status, wall time and the lines it printed."""

    script: str
    returncode: int
    seconds: float
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Provenance:
    """Where and when the figures were measured."""

    ran_at: dt.datetime
    commit: str
    dirty: bool
    machine: str
    command: str


def cell(lines: Sequence[str]) -> str:
    """Printed lines as one table cell: escaped for markdown, joined by line breaks."""
    kept = [line.strip() for line in lines if line.strip()]
    if not kept:
        return "(no output)"
    escaped = (
        line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
        for line in kept
    )
    return "<br>".join(escaped)


def status(run: BenchRun) -> str:
    """`ok`, or the exit status of a benchmark that failed or missed a target."""
    return "ok" if run.returncode == 0 else f"exit {run.returncode}"


def render_table(
    runs: Sequence[BenchRun], provenance: Provenance, not_run: Sequence[str] = ()
) -> str:
    """The whole generated page: provenance, then one row per benchmark in the order run."""
    commit = provenance.commit + (" (with uncommitted changes)" if provenance.dirty else "")
    lines = [
        "# Benchmark figures (generated)",
        "",
        "Written by the command below (`make bench` runs them all); do not edit by hand. What",
        "each benchmark measures and why: [benchmarks.md](benchmarks.md).",
        "",
        f"- command: `{provenance.command}`",
        f"- ran: {provenance.ran_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- commit: `{commit}`",
        f"- machine: {provenance.machine}",
    ]
    if not_run:
        lines.append(f"- not run this time: {', '.join(f'`{name}`' for name in not_run)}")
    lines += [
        "",
        "| benchmark | status | seconds | figures as printed |",
        "|---|---|---:|---|",
    ]
    lines += [
        f"| `{run.script}` | {status(run)} | {run.seconds:.1f} | {cell(run.lines)} |"
        for run in runs
    ]
    return "\n".join(lines) + "\n"
