"""The demo's system pillar: an admin gives runway a concurrency limit (`PUT /capacity/runway`),
the generation service keeps runway at it, and jobs arrive faster than any provider starts them;
then, 5 simulated minutes at a time, the scheduled tick runs. runway above 80% of its
`maxConcurrent` for four ticks fires `provider_saturation`; the queue past 100 for two ticks fires
`queue_depth`. The jobs stay where they are, so the console's System and Capacity pages show the
full queue, runway at its limit and both alerts open after the demo."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token

STEP = dt.timedelta(minutes=5)
SATURATED = "runway"
MAX_CONCURRENT = 20
# Jobs that arrive each 5 minutes and wait: the queue grows 40, 80, 120, 160 (queue_depth: 100).
ARRIVALS = 40
QUEUED_ON = ("heygen", "synthesia", "d-id", "runway")
MAX_TICKS = 6
PREFIX = "demo-system"


def _api(stack: LocalStack, token: str, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(
        method,
        stack.functions_url("video_analytics_dashboard", path),
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        **kwargs,
    )
    response.raise_for_status()
    return response.json()


def _write(client: firestore.Client, docs: dict[str, dict[str, Any]]) -> None:
    batch = client.batch()
    for doc_id, doc in docs.items():
        batch.set(client.collection("video_generations").document(doc_id), doc)
    batch.commit()


def _settle(client: firestore.Client, ids: list[str], status: str, timeout: float = 60) -> None:
    """Wait until the pipeline's ledger holds each of `ids` with `status`."""
    ledger = client.collection("video_generation_metrics")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snaps = client.get_all([ledger.document(i) for i in ids], field_paths=["status"])
        if all(s.exists and s.get("status") == status for s in snaps):
            return
        time.sleep(0.3)


def _firing(client: firestore.Client, rule: str) -> list[str]:
    query = client.collection("alert_instances").where(filter=FieldFilter("ruleId", "==", rule))
    docs = (s.to_dict() or {} for s in query.stream())
    return sorted(str(d.get("scope")) for d in docs if d.get("status") == "firing")


def _job(provider: str, status: str, created: dt.datetime, user: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "userId": f"user-{user % 400:04d}", "provider": provider, "model": f"{provider}-v3",
        "status": status, "createdAt": created, "userTier": "free",
    }  # fmt: skip
    if status == "processing":
        doc["startedAt"] = created + dt.timedelta(seconds=30)
    return doc


def run_system_pressure(
    stack: LocalStack, client: firestore.Client, project: str, after: dt.datetime
) -> bool:
    """Ticks from `after` (later than every tick run so far); True when `provider_saturation`
    fired for runway and `queue_depth` fired overall."""
    began = time.monotonic()
    admin = emulator_token("demo-admin", "admin", project)
    analyst = emulator_token("demo-operator", "analytics", project)
    print()
    print(f"system pressure: an admin sets {SATURATED} maxConcurrent {MAX_CONCURRENT} "
          f"(PUT /capacity/{SATURATED}); {SATURATED} runs {MAX_CONCURRENT} jobs at once and "
          f"{ARRIVALS} jobs join the queue every 5 minutes")  # fmt: skip
    _api(stack, admin, "PUT", f"/capacity/{SATURATED}", json={"maxConcurrent": MAX_CONCURRENT})
    first = after.replace(second=0, microsecond=0) + STEP
    # Dated on the demo's simulated clock, as the generation service would stamp them.
    busy = {
        f"{PREFIX}-busy-{i:02d}": _job(SATURATED, "processing", first - STEP, i)
        for i in range(MAX_CONCURRENT)
    }
    _write(client, busy)
    _settle(client, list(busy), "processing")
    print("  tick    queued  runway in flight  utilization  queue_depth  provider_saturation")
    saturation: list[str] = []
    depth: list[str] = []
    for n in range(MAX_TICKS):
        tick = first + n * STEP
        arrivals = {
            f"{PREFIX}-queued-{n}-{i:02d}": _job(
                QUEUED_ON[i % len(QUEUED_ON)],
                "queued",
                tick - STEP + i * STEP / ARRIVALS,
                n * 100 + i,
            )
            for i in range(ARRIVALS)
        }
        _write(client, arrivals)
        _settle(client, list(arrivals), "queued")
        stack.run_schedule("aggregate_and_alert", tick, timeout=300).raise_for_status()
        queued = _api(stack, analyst, "GET", "/system")["queue"]["queued"]
        providers = _api(stack, analyst, "GET", "/capacity")["providers"]
        runway = next(p for p in providers if p["provider"] == SATURATED)
        saturation, depth = _firing(client, "provider_saturation"), _firing(client, "queue_depth")
        use = runway["utilization"]
        print(f"  {tick:%H:%M}  {queued:8d}  {runway['inFlight']:7d} of {runway['maxConcurrent']}"
              f"  {'n/a' if use is None else f'{use:.2f}':>11s}  "
              f"{','.join(depth) or '-':11s}  {','.join(saturation) or '-'}")  # fmt: skip
        if f"provider:{SATURATED}" in saturation and "overall" in depth:
            break
    ok = f"provider:{SATURATED}" in saturation and "overall" in depth
    print(f"  {n + 1} ticks, {time.monotonic() - began:.0f} s; the jobs stay queued and in flight: "
          "the console's System and Capacity pages show them with both alerts open")  # fmt: skip
    print(f"{SATURATED} at its maxConcurrent fired provider_saturation, and the queue past 100 "
          f"fired queue_depth: {'yes' if ok else 'NO'}")  # fmt: skip
    return ok
