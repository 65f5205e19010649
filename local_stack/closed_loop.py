"""The demo's closed loop: an admin gives `low_success_rate` a pause_provider action; then, 5
simulated minutes at a time, the generation service (the simulator, choosing providers with the
reference reader of `provider_controls`) writes that step's generations and the scheduled tick
runs. The degraded provider is paused by its rule, probed after the cooldown (its outage over by
then), and restored when its alert resolves. Then a backtest of the rule over those runs."""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests
from google.cloud import firestore

from clients.provider_controls import ProviderControlsReader
from local_stack.stack import LocalStack
from local_stack.tokens import emulator_token
from local_stack.traffic import PROVIDERS, ProviderProfile

STEP = dt.timedelta(minutes=5)
PER_STEP = 40  # generations per 5 minutes (480 an hour)
MAX_STEPS = 30
# The demo's action: a short cooldown and a generous probe so the loop closes in minutes.
ACTION = {"type": "pause_provider", "cooldownMinutes": 10, "probeShare": 0.5}
RECOVERED = ProviderProfile("pika", 0.20, 50, 0.30, 0.01, 0.03)  # pika after its outage


def _final(
    rng: random.Random, profile: ProviderProfile, created: dt.datetime, i: int
) -> list[dict[str, Any]]:
    """One generation's states (queued, processing, then completed or failed)."""
    doc: dict[str, Any] = {
        "userId": f"user-{rng.randrange(400):04d}",
        "provider": profile.name,
        "model": f"{profile.name}-v3",
        "status": "queued",
        "createdAt": created,
        "userTier": "premium" if i % 3 == 0 else "free",
    }
    states = [dict(doc)]
    doc.update(status="processing", startedAt=created + dt.timedelta(seconds=2))
    states.append(dict(doc))
    seconds = rng.lognormvariate(math.log(profile.median_seconds), profile.spread)
    doc["completedAt"] = doc["startedAt"] + dt.timedelta(seconds=seconds)
    if rng.random() < profile.failure_rate:
        doc["status"] = "failed"
        doc["error"] = {"code": "provider_5xx", "message": "provider error", "retryable": True}
    else:
        doc.update(status="completed", outputSeconds=10.0, qualityScore=8.7,
                   costUsd=round(10 * profile.cost_per_second, 4))  # fmt: skip
    states.append(dict(doc))
    return states


def write_step(
    client: firestore.Client,
    start: dt.datetime,
    choose: Callable[[float], str],
    rng: random.Random,
    prefix: str,
) -> Counter[str]:
    """One step's generations, each provider chosen as the generation service would."""
    profiles = {p.name: p for p in PROVIDERS} | {"pika": RECOVERED}
    per_provider: Counter[str] = Counter()
    batch = client.batch()
    for i in range(PER_STEP):
        provider = choose(rng.random())
        per_provider[provider] += 1
        created = start + dt.timedelta(seconds=rng.uniform(0, STEP.total_seconds() - 30))
        ref = client.collection("video_generations").document(f"{prefix}-{i:03d}")
        *before, final = _final(rng, profiles[provider], created, i)
        for state in before:
            ref.set(state)
        batch.set(ref, final)
    batch.commit()
    return per_provider


def _settle(client: firestore.Client, expected: int, timeout: float = 90) -> None:
    ledger = client.collection("video_generation_metrics")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for _ in ledger.select([]).stream()) >= expected:
            return
        time.sleep(0.3)


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


def run_closed_loop(
    stack: LocalStack,
    client: firestore.Client,
    project: str,
    after: dt.datetime,
    since: dt.datetime,
) -> bool:
    """The loop from `after` (a time later than every tick run so far); True when pika was
    paused by its rule, probed, and restored, and a backtest from `since` (before the first
    run) agrees with the live alerts."""
    admin = emulator_token("demo-admin", "admin", project)
    print()
    print("closing the loop: an admin gives low_success_rate a pause_provider action")
    rule = _api(stack, admin, "GET", "/alert-rules/low_success_rate")["rule"]
    _api(stack, admin, "PUT", "/alert-rules/low_success_rate", json={**rule, "actions": [ACTION]})
    print(f"  actions: {[ACTION]}")
    reader = ProviderControlsReader(client, max_age_seconds=0)
    usual = {p.name: p.share for p in PROVIDERS}
    rng = random.Random(11)
    expected = sum(1 for _ in client.collection("video_generation_metrics").select([]).stream())
    first = after.replace(second=0, microsecond=0) + STEP
    seen: list[str] = []
    controls = client.collection("provider_controls")
    print("  5 min to  pika as the service read it   pika got   pika after that tick")

    def control_text() -> str:
        doc = controls.document("pika").get().to_dict() or {}
        return f"{doc.get('state', 'closed'):9s} weight {float(doc.get('weight', 1)):.2f}"

    last = first
    for step in range(MAX_STEPS):
        tick = first + step * STEP
        before = control_text()
        sent = write_step(client, tick - STEP, lambda r: reader.choose(usual, r), rng,
                          f"loop-{tick:%H%M}")  # fmt: skip
        expected += PER_STEP
        _settle(client, expected)
        stack.run_schedule("aggregate_and_alert", tick, timeout=300).raise_for_status()
        after_tick = control_text()
        print(f"  {tick:%H:%M}     {before}             {sent.get('pika', 0):2d} of {PER_STEP}"
              f"   {after_tick}")  # fmt: skip
        state = after_tick.split()[0]
        if not seen or seen[-1] != state:
            seen.append(state)
        last = tick
        if seen[-3:] == ["open", "half_open", "closed"]:
            break
    looped = seen[-3:] == ["open", "half_open", "closed"]
    print(
        "the degraded provider was paused by its rule, probed, and restored after recovery: "
        f"{'yes' if looped else 'NO'} ({' -> '.join(seen)})"
    )
    reader_token = emulator_token("demo-operator", "analytics", project)
    # From before the stack's first run to after the last: the replay starts where the live
    # alerts started, so the two agree exactly.
    window = {"from": (since - STEP).isoformat(), "to": (last + STEP).isoformat()}
    path = "/alert-rules/low_success_rate/backtest"
    backtest = _api(stack, reader_token, "GET", path, params=window)
    print(
        f"backtest of low_success_rate over the demo's {backtest['runs']} runs: "
        f"{backtest['evaluations']} evaluations, {backtest['firings']} firings"
    )
    replayed = sorted((e["scope"], e["from"], e["to"]) for e in backtest["episodes"])
    for scope, fired, resolved in replayed:
        print(f"    {scope:18s} fired {fired}  resolved {resolved}")
    alerts = _api(stack, reader_token, "GET", "/alerts",
                  params={**window, "rule": "low_success_rate", "status": "all"})  # fmt: skip
    live = sorted((a["scope"], a["firedAt"], a["resolvedAt"]) for a in alerts["history"]
                  if a["firedAt"])  # fmt: skip
    agree = replayed == live
    print(f"  the live alerts of those runs: {len(live)}; the backtest agrees with them: "
          f"{'yes' if agree else 'NO'}")  # fmt: skip
    answered = backtest["runs"] > 0 and backtest["evaluations"] > 0 and agree
    print(f"a backtest of low_success_rate over the demo's history answers: "
          f"{'yes' if answered else 'NO'}")  # fmt: skip
    return looped and answered


def run_slos(stack: LocalStack, project: str, completed: int, failed: int) -> bool:
    """GET /slos as an analyst: every objective's budget overall and per provider. True when the
    success objective overall counts exactly the completed and failed generations written."""
    analyst = emulator_token("demo-operator", "analytics", project)
    body = _api(stack, analyst, "GET", "/slos")
    print()
    print("error budgets (GET /slos, rolling 28 days; burn 1 spends the budget over the window)")
    for objective in body["objectives"]:
        print(f"  {objective['sloId']}: {objective['description']}")
        for b in objective["budgets"]:
            sli = "–" if b["sli"] is None else f"{b['sli']:.2%}"
            left = "–" if b["budgetRemaining"] is None else f"{b['budgetRemaining']:.0%}"
            burn = b["burnRates"]["6h"]
            print(f"    {b['scope']:20s} good {sli:>7s} of {b['valid']:5d}  budget left "
                  f"{left:>7s}  burn 6 h {'–' if burn is None else f'{burn:.1f}x':>6s}  "
                  f"{b['status']}")  # fmt: skip
    overall = body["objectives"][0]["budgets"][0]
    ok = (overall["valid"], overall["bad"]) == (completed + failed, failed)
    print(f"the success objective counts the simulator's completed and failed generations: "
          f"{'yes' if ok else 'NO'}")  # fmt: skip
    return ok


def run_digest(
    stack: LocalStack, client: firestore.Client, project: str, inbox: Any, after: dt.datetime
) -> bool:
    """The admin opts in to the weekly digest; the tick of the Monday after the demo's traffic
    mails it to the local inbox. True when it arrived, once, with recommendations."""
    admin = emulator_token("demo-admin", "admin", project, email="admin@example.com")
    print()
    print("weekly digest: admin@example.com opts in (PUT /me/digests)")
    _api(stack, admin, "PUT", "/me/digests", json={"weekly": True})
    today = after.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today + dt.timedelta(days=7 - today.weekday())
    tick = monday + dt.timedelta(hours=7, minutes=5)
    before = len(inbox.messages)
    for when in (tick, tick + STEP):  # the second run finds it sent
        stack.run_schedule("aggregate_and_alert", when, timeout=300).raise_for_status()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(inbox.messages) == before:
        time.sleep(0.2)
    digests = [m for m in inbox.messages[before:] if "digest" in str(m["Subject"])]
    for mail in digests:
        print(f"  To {mail['To']}: {mail['Subject']}")
        body = mail.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        lines = text.splitlines()
        start = lines.index("Recommendations") if "Recommendations" in lines else len(lines)
        budgets = [i for i, line in enumerate(lines) if line.startswith("Error budgets")]
        shown = lines[budgets[0] : budgets[0] + 4] if budgets else []
        for line in lines[2:12] + shown + lines[start : start + 7]:
            print(f"    {line}")
        parts = [p.get_content_type() for p in mail.walk() if not p.is_multipart()]
        print(f"    parts: {', '.join(parts)}")
    ok = len(digests) == 1 and "1. " in (digests[0].get_body(("plain",)) or digests[0]).as_string()
    print(f"a weekly digest arrived in the local inbox, once, with its recommendations: "
          f"{'yes' if ok else 'NO'}")  # fmt: skip
    return ok
