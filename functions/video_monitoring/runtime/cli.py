"""Operator commands: `python -m video_monitoring export --from 2026-11-01 --to 2026-11-20`,
`python -m video_monitoring grant-role someone@example.com analytics`, and
`python -m video_monitoring quarantine list|replay [ID ...]`.

`grant-role` sets (or with `none` removes) the console role of a Firebase Auth user, the custom
claim `role`; the user sees it at their next sign-in or token refresh (within the hour). Removing
the role also deletes the user's digest subscription. It uses the project's Admin SDK
credentials (or the Auth emulator where FIREBASE_AUTH_EMULATOR_HOST is set) and Firestore (the
emulator where FIRESTORE_EMULATOR_HOST is set).

`export` backfills or re-exports whole UTC days to BigQuery, oldest first, each day replaced
exactly as the nightly run does; it shows a progress bar and ends with the rows per table per
day. Settings come from the environment, as for the functions (FIRESTORE_EMULATOR_HOST,
BIGQUERY_PROJECT, BIGQUERY_DATASET, BIGQUERY_API_ENDPOINT, EXPORT_PSEUDONYMIZE_USERS,
PSEUDONYM_KEY).

`quarantine list` shows the rollup journal entries the fold quarantined (id, when, why);
`quarantine replay` puts them (all, or the ids given) back into the journal once the cause is
fixed, and the next `fold_rollups` folds them (or quarantines again what still fails).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from typing import TextIO

from tqdm import tqdm

from video_monitoring.adapters.firebase_auth import grant_role
from video_monitoring.adapters.firestore_digests import FirestoreDigestStore
from video_monitoring.core.errors import ConfigError
from video_monitoring.dashboard.auth import ROLES
from video_monitoring.warehouse.nightly import DayRun
from video_monitoring.warehouse.rows import TABLES

MAX_DAYS = 3660


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def parser() -> argparse.ArgumentParser:
    """The command line."""
    root = argparse.ArgumentParser(prog="python -m video_monitoring")
    commands = root.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export", help="export whole UTC days to BigQuery (each day replaced exactly)"
    )
    export.add_argument("--from", dest="first", type=_day, required=True, help="first day")
    export.add_argument("--to", dest="last", type=_day, required=True, help="last day (included)")
    export.add_argument(
        "--keep-going",
        action="store_true",
        help="go on with the next day when one fails (default: stop at the first failure)",
    )
    grant = commands.add_parser(
        "grant-role", help="set the console role of a user (the custom claim `role`)"
    )
    grant.add_argument("email", help="the user's email address")
    grant.add_argument("role", choices=[*ROLES, "none"], help="`none` removes the role")
    held = commands.add_parser(
        "quarantine", help="list, or replay after a fix, the journal entries the fold quarantined"
    )
    held.add_argument("action", choices=["list", "replay"])
    held.add_argument("ids", nargs="*", help="replay only these quarantine ids (default: all)")
    return root


def summary_table(runs: Sequence[DayRun]) -> str:
    """Rows per table per day (skipped and opted-out counts in brackets when any)."""
    tables = list(TABLES)
    width = max(len(t) for t in tables)
    lines = ["day         status     " + "  ".join(t.rjust(width) for t in tables)]
    for run in runs:
        cells = []
        for table in tables:
            counts = run.tables.get(table)
            if counts is None:
                cells.append("-".rjust(width))
                continue
            extra = []
            if counts.skipped:
                extra.append(f"{counts.skipped} skipped")
            if counts.opted_out:
                extra.append(f"{counts.opted_out} opted out")
            text = str(counts.rows) + (f" ({', '.join(extra)})" if extra else "")
            cells.append(text.rjust(width))
        lines.append(f"{run.day.isoformat()}  {run.status:<9}  " + "  ".join(cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run a command; returns the exit status."""
    args = parser().parse_args(argv)
    if args.command == "grant-role":
        try:
            role = None if args.role == "none" else args.role
            uid = grant_role(args.email, role, FirestoreDigestStore().unsubscribe)
        except LookupError as error:
            sys.stderr.write(f"error: {error}\n")
            return 1
        unsubscribed = "; digests unsubscribed" if role is None else ""
        out.write(f"{args.email} ({uid}): role {args.role}{unsubscribed}\n")
        return 0
    if args.command == "quarantine":
        return _quarantine(args, out)
    return _export(args, out)


def _quarantine(args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "list" and args.ids:
        parser().error("quarantine list takes no ids")
    from video_monitoring.runtime.bootstrap import services  # after argument checks

    store = services().store
    held = store.quarantined(limit=100_000)
    if args.action == "list":
        for doc_id, record in held:
            out.write(f"{doc_id}  {record.quarantined_at.isoformat()}  {record.reason}\n")
        out.write(f"{len(held)} entries held\n")
        return 0
    ids = list(args.ids) or [doc_id for doc_id, _ in held]
    done = store.replay_quarantined(ids)
    out.write(
        f"{len(done)} of {len(ids)} entries put back into the journal; "
        "the next fold_rollups folds them\n"
    )
    return 0


def _export(args: argparse.Namespace, out: TextIO) -> int:
    if args.last < args.first:
        parser().error("--to must not be before --from")
    count = (args.last - args.first).days + 1
    if count > MAX_DAYS:
        parser().error(f"at most {MAX_DAYS} days per run (asked for {count})")
    from video_monitoring.runtime.bootstrap import services  # after argument checks
    from video_monitoring.runtime.jobs import export_one_day

    days = [args.first + dt.timedelta(days=i) for i in range(count)]
    runs: list[DayRun] = []
    failed = 0
    with tqdm(days, desc="export", unit="day", file=sys.stderr) as bar:
        for day in bar:
            bar.set_postfix_str(day.isoformat())
            try:
                runs.append(export_one_day(services(), day, "cli"))
            except ConfigError as error:
                sys.stderr.write(f"error: {error}\n")
                return 2
            except Exception as error:
                failed += 1
                sys.stderr.write(
                    f"error: {day.isoformat()} failed: {type(error).__name__}: {error}\n"
                )
                runs.append(_failed(day))
                if not args.keep_going:
                    break
    out.write(summary_table(runs) + "\n")
    out.write(f"{len(runs) - failed} of {count} days exported\n")
    return 1 if failed else 0


def _failed(day: dt.date) -> DayRun:
    run = DayRun(day=day, trigger="cli", started_at=dt.datetime.now(dt.UTC))
    run.status = "failed"
    return run
