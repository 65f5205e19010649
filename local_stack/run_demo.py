"""`make demo`: the local stack, 2,000 simulated generations, and the system's 24 h summary."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import sys
import time
from typing import Any

import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.bigquery_emulator import BigQueryEmulator
from local_stack.closed_loop import run_closed_loop, run_digest, run_slos
from local_stack.demo_operator import page_lines, run_operator_job
from local_stack.demo_system import run_system_pressure
from local_stack.launch import LaunchError, add_stack_arguments, default_env, launch
from local_stack.receivers import Receivers
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token
from local_stack.traffic import Tally, simulate
from video_monitoring.adapters.bigquery import BigQueryWarehouse, bigquery_client
from video_monitoring.alerting.channels.webhook import verify_signature
from video_monitoring.config.settings import BigQuerySettings
from video_monitoring.warehouse.rows import TABLES
from video_monitoring.warehouse.views import VIEWS

COUNTS = ("total", "completed", "failed", "cancelled", "inProgress")


def fetch_summary(url: str, token: str) -> dict[str, Any]:
    """GET /summary?window=24h."""
    response = requests.get(
        url, params={"window": "24h"}, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def wait_for_pipeline(url: str, token: str, tally: Tally, stall_seconds: float = 60) -> bool:
    """Poll the summary until its counts equal the tally, or nothing moves for `stall_seconds`."""
    wanted = tally.generations()
    last: dict[str, Any] = {}
    last_change = time.monotonic()
    while True:
        body = fetch_summary(url, token)
        counts = {**body["generations"], "upgrades": body["business"]["upgrades"]}
        if all(counts[k] == wanted[k] for k in COUNTS) and counts["upgrades"] == tally.upgrades:
            return True
        if counts != last:
            last, last_change = counts, time.monotonic()
        elif time.monotonic() - last_change > stall_seconds:
            return False
        time.sleep(0.5)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def report(summary: dict[str, Any], tally: Tally) -> bool:
    """Print the summary beside the simulator's tally; True when every count matches."""
    g, wanted = summary["generations"], tally.generations()
    print()
    print(f"24 h summary ({summary['window']['from']} .. {summary['window']['to']})")
    print(f"  {'figure':28s} {'system':>12s} {'simulator':>12s}  match")
    all_match = True
    for key in COUNTS:
        match = g[key] == wanted[key]
        all_match &= match
        print(
            f"  {'generations.' + key:28s} {g[key]:12d} {wanted[key]:12d}  "
            f"{'yes' if match else 'NO'}"
        )
    rows = [
        ("successRate", g["successRate"], wanted["successRate"], 4),
        ("quality.avgScore", summary["quality"]["avgScore"], tally.mean(tally.quality), 3),
        (
            "satisfaction.avgRating",
            summary["satisfaction"]["avgRating"],
            tally.mean(tally.ratings),
            3,
        ),
        ("costUsd", summary["costUsd"], tally.cost_usd, 2),
        ("business.revenueUsd", summary["business"]["revenueUsd"], tally.revenue_usd, 2),
    ]
    for name, system, simulator, digits in rows:
        print(f"  {name:28s} {_fmt(system, digits):>12s} {_fmt(simulator, digits):>12s}")
    t = summary["generationTimeSeconds"]
    print(
        f"  generation time (s): avg {_fmt(t['avg'], 1)}  p50 {_fmt(t['p50'], 1)}  "
        f"p95 {_fmt(t['p95'], 1)}  p99 {_fmt(t['p99'], 1)}  (sketch, within 1%)"
    )
    print(
        f"  conversionRate {_fmt(summary['business']['conversionRate'], 4)}; "
        f"alerts active {summary['alerts']['active']}, critical {summary['alerts']['critical']}"
    )
    print(f"counts match the simulator's tally: {'yes' if all_match else 'NO'}")
    return all_match


def run_alerting(stack: LocalStack, receivers: Receivers, secret: str, project: str) -> bool:
    """Two scheduled ticks (the rules' pending period), then what each local receiver got and
    the open alerts; True when the degraded provider fired both of its rules."""
    # Ticks after any the stack's own scheduler may have run meanwhile (an evaluation only
    # counts for a tick later than the last one evaluated).
    first = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    print()
    print("alerting: two aggregate_and_alert ticks (pending period of 2 evaluations)")
    for when in (first, first + dt.timedelta(minutes=1)):
        stack.run_schedule("aggregate_and_alert", when, timeout=300).raise_for_status()
    token = emulator_token("demo-operator", "analytics", project)
    response = requests.get(
        stack.functions_url("video_analytics_dashboard", "/alerts"),
        headers={"Authorization": f"Bearer {token}"},
        params={"status": "open"},
        timeout=30,
    )
    response.raise_for_status()
    active = response.json()["active"]
    print(f"  open alerts ({len(active)}):")
    for alert in active:
        value = alert["value"]
        print(
            f"    {alert['severity']:8s} {alert['ruleId']:20s} {alert['scope']:18s} "
            f"{alert['status']:9s} value {_fmt(value, 3)} vs {alert['comparator']} "
            f"{alert['threshold']} over {alert['window']}"
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not receivers.inbox.messages:
        time.sleep(0.2)
    mails = receivers.inbox.messages
    print(f"  SMTP inbox ({receivers.inbox.host}:{receivers.inbox.port}): {len(mails)} messages")
    for mail in mails:
        print(f"    To {mail['To']}: {' '.join(str(mail['Subject']).split())}")
    hooks = receivers.webhook.delivered()
    print(f"  webhook receiver ({receivers.webhook.url}): {len(hooks)} requests")
    for hook in hooks:
        body = json.loads(hook.body)
        headers = {k.lower(): v for k, v in hook.headers.items()}
        signed = verify_signature(
            secret,
            headers.get("x-monitor-timestamp", ""),
            hook.body,
            headers.get("x-monitor-signature", ""),
            now=time.time(),
        )
        print(
            f"    {body.get('event')}: {body.get('ruleId')} {body.get('scope')} "
            f"(HMAC signature {'valid' if signed else 'INVALID'})"
        )
    print(
        f"  Slack receiver: {len(receivers.slack.delivered())} messages; "
        f"SMS receiver: {len(receivers.sms.delivered())} messages"
    )
    fired = {(a["ruleId"], a["scope"]) for a in active if a["status"] == "firing"}
    wanted = {("low_success_rate", "provider:pika"), ("slow_generation", "provider:pika")}
    print(
        "degraded provider pika fired low_success_rate and slow_generation: "
        f"{'yes' if wanted <= fired else 'NO'}"
    )
    business = {a["ruleId"] for a in active} & {"conversion_drop", "revenue_decline"}
    print(
        "the business is healthy, and neither conversion_drop nor revenue_decline fired: "
        f"{'yes' if not business else 'NO'}"
    )
    return wanted <= fired and not business


def health(stack: LocalStack) -> tuple[int, dict[str, Any]]:
    """GET /health as an uptime check does (no token)."""
    response = requests.get(stack.functions_url("video_analytics_dashboard", "/health"), timeout=30)
    body: dict[str, Any] = response.json()
    return response.status_code, body


def open_alert(db: firestore.Client, rule: str) -> bool:
    """Whether `rule` has an open, firing alert."""
    query = db.collection("alert_instances").where(filter=FieldFilter("ruleId", "==", rule))
    return any((s.to_dict() or {}).get("status") == "firing" for s in query.stream())


def run_self_monitoring(stack: LocalStack, db: firestore.Client) -> bool:
    """The monitor watching itself: /health, a paused tick (its heartbeat set 20 minutes back, as
    if the scheduler had stopped) that makes /health 503 and fires monitor_stale when ticks
    resume, and a burst of malformed documents that fires pipeline_rejections."""
    print()
    print("self-monitoring: GET /health (no token, as an uptime check calls it)")
    status, body = health(stack)
    print(f"  now: {status} {body}")
    heartbeat = db.collection("monitor_heartbeats").document("aggregate_and_alert")
    beat = (heartbeat.get().to_dict() or {}).get("at")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    paused = now - dt.timedelta(minutes=20)
    heartbeat.set({"at": paused, "finishedAt": paused})  # the scheduler "stopped" 20 min ago
    stale_status, stale = health(stack)
    print(f"  tick paused since {paused:%H:%M}: {stale_status} {stale.get('reasons')}")
    resume = max(now, beat or now) + dt.timedelta(minutes=3)
    stack.run_schedule("aggregate_and_alert", resume, timeout=300).raise_for_status()
    stale_fired = open_alert(db, "monitor_stale")
    print(f"  ticks resume at {resume:%H:%M}: monitor_stale firing: {stale_fired}; "
          f"/health {health(stack)[0]}")  # fmt: skip
    batch = db.batch()
    for i in range(150):
        batch.set(
            db.collection("video_generations").document(f"demo-malformed-{i:03d}"),
            {"userId": f"user-bad-{i}", "provider": "runway", "status": "exploded"},
        )
    batch.commit()
    rejected = db.collection("rejected_generations")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(1 for _ in rejected.select([]).stream()) < 150:
        time.sleep(0.5)
    stack.run_schedule(
        "aggregate_and_alert", resume + dt.timedelta(minutes=1), timeout=300
    ).raise_for_status()
    rejections_fired = open_alert(db, "pipeline_rejections")
    status, body = health(stack)
    print(f"  150 malformed documents: pipeline_rejections firing: {rejections_fired}; "
          f"/health {status} {body.get('reasons')}")  # fmt: skip
    ok = stale_status == 503 and stale_fired and rejections_fired
    print(
        "a paused tick made /health 503 and fired monitor_stale; a burst of bad documents "
        f"fired pipeline_rejections: {'yes' if ok else 'NO'}"
    )
    return ok


def last_tick(db: firestore.Client) -> dt.datetime:
    """The latest scheduled tick run so far (or now): later ticks are the only ones evaluated."""
    beat = db.collection("monitor_heartbeats").document("aggregate_and_alert").get().to_dict()
    now = dt.datetime.now(dt.UTC)
    return max(now, (beat or {}).get("at") or now)


def run_export(
    stack: LocalStack, emulator: BigQueryEmulator, db: firestore.Client, project: str
) -> bool:
    """The nightly export of each UTC day the traffic touched (as Cloud Scheduler runs it the
    morning after), then the rows BigQuery holds; True when they equal Firestore's."""
    metrics = list(db.collection("video_generation_metrics").select(["createdAt"]).stream())
    days = sorted({snap.get("createdAt").date() for snap in metrics})
    print()
    print(f"BigQuery export ({emulator.endpoint}): the nightly run for {len(days)} day(s)")
    for day in days:
        when = dt.datetime(day.year, day.month, day.day, 2, tzinfo=dt.UTC) + dt.timedelta(days=1)
        stack.run_schedule("export_to_bigquery", when, timeout=300).raise_for_status()
    warehouse = BigQueryWarehouse(
        bigquery_client(
            BigQuerySettings(bigquery_api_endpoint=emulator.endpoint, bigquery_project=project),
            project,
        ),
        "video_monitoring",
    )
    for table in TABLES:
        (row,) = warehouse.query(f"SELECT COUNT(*) AS n FROM `{warehouse.dataset}.{table}`")
        print(f"  {table:28s} {row['n']:8d} rows")
    for view in VIEWS:  # created by the export for BI tools
        (row,) = warehouse.query(f"SELECT COUNT(*) AS n FROM `{warehouse.dataset}.{view}`")
        print(f"  {view:28s} {row['n']:8d} rows (view, docs/bi.md)")
    (exported,) = warehouse.query(
        f"SELECT COUNT(*) AS n FROM `{warehouse.dataset}.generation_metrics`"
    )
    stored = len(metrics)
    same = exported["n"] == stored
    print(
        f"BigQuery holds every generation Firestore has ({exported['n']} vs {stored}): "
        f"{'yes' if same else 'NO'}"
    )
    return bool(same)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; stays up until Ctrl-C unless --exit."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    add_stack_arguments(parser)
    parser.add_argument("--exit", action="store_true", help="stop the stack after the summary")
    args = parser.parse_args(argv)
    receivers = Receivers.start()
    webhook_secret = secrets.token_hex(16)  # per run; never stored
    try:
        launched = launch(
            args,
            lambda warehouse: {
                **receivers.env(webhook_secret, secrets.token_hex(16)),
                **default_env(warehouse, args.project),
                # The self-monitoring checks read /health right after each change.
                "HEALTH_CACHE_SECONDS": "0",
                # The team's Slack channel gets the weekly digest too.
                "DIGEST_SLACK": "weekly",
            },
        )
    except BaseException as error:
        receivers.stop()
        if not isinstance(error, LaunchError):
            raise
        print(f"cannot start the local stack: {error}", file=sys.stderr)
        return 1
    stack, warehouse_emulator = launched.stack, launched.warehouse
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # Ctrl-C stops the stack even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        print(
            f"local stack ready: firestore {stack.firestore_host}, functions {stack.functions_base}"
        )
        for line in launched.console_lines():
            print(line, flush=True)
        os.environ["FIRESTORE_EMULATOR_HOST"] = stack.firestore_host
        began = dt.datetime.now(dt.UTC)
        client = firestore.Client(project=args.project)
        started = time.monotonic()
        tally = simulate(client, count=args.count, seed=args.seed)
        written = time.monotonic() - started
        print(
            f"simulator: {tally.total} generations ({tally.writes} document writes) "
            f"in {written:.1f} s; "
            f"per provider {dict(sorted(tally.per_provider.items()))}"
        )
        token = emulator_token("demo-operator", "analytics", args.project)
        url = stack.functions_url("video_analytics_dashboard", "/summary")
        settled = wait_for_pipeline(url, token, tally)
        print(
            f"pipeline caught up {time.monotonic() - started:.1f} s after the first write"
            if settled
            else "pipeline did not catch up: counts still differ after 60 s of no change"
        )
        summary = fetch_summary(url, token)
        ok = report(summary, tally) and settled
        print()
        print("raw JSON:")
        print(json.dumps(summary, indent=2))
        done = tally.statuses
        ok = run_slos(stack, args.project, done["completed"], done["failed"]) and ok
        alerting_ok = run_alerting(stack, receivers, webhook_secret, args.project)
        ok = ok and alerting_ok
        ok = run_self_monitoring(stack, client) and ok
        if warehouse_emulator is not None:
            ok = run_export(stack, warehouse_emulator, client, args.project) and ok
        ok = run_closed_loop(stack, client, args.project, last_tick(client), began) and ok
        ok = run_system_pressure(stack, client, args.project, last_tick(client)) and ok
        ok = run_digest(stack, client, args.project, receivers.inbox, last_tick(client)) and ok
        ok = run_operator_job(stack, args.project) and ok
        print()
        print(f"query it:  curl -H 'Authorization: Bearer {token}' '{url}?window=24h'")
        for line in launched.console_lines():
            print(line)
        for line in page_lines(stack.console_url):
            print(line)
        if args.exit:
            return 0 if ok else 1
        print("the stack keeps running; Ctrl-C stops it")
        while stack.host_process.poll() is None:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        launched.stop()
        receivers.stop()


if __name__ == "__main__":
    raise SystemExit(main())
