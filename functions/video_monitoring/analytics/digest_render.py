"""A digest as people read it: plain text, HTML with inline PNG charts (by Content-ID), and a
Slack message. Every value comes from the digest JSON; text is escaped for HTML."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from typing import Any

from video_monitoring.analytics.digest_content import MONTHS, Period
from video_monitoring.analytics.review import label
from video_monitoring.core import png

CHARTS = {"generations": ("Generations per {bucket}", "total", (37, 99, 235), None),
          "success": ("Success rate per {bucket}", "successRate", (22, 163, 74), 0.8)}  # fmt: skip


def fmt(value: Any, unit: str) -> str:
    """A figure for people."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "usd":
        return f"${value:,.2f}"
    if unit == "usd/s":
        return f"${value:,.4f}"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def fmt_change(row: Mapping[str, Any]) -> str:
    """The change on the previous period: points for ratios, percent otherwise."""
    if row["unit"] == "ratio" and row["value"] is not None and row["previous"] is not None:
        return f"{(row['value'] - row['previous']) * 100:+.1f} pp"
    if row["change"] is None:
        return "–"
    return f"{row['change']:+.1%}"


def target_text(row: Mapping[str, Any]) -> str:
    """'target >= 99.5%: met' or ''."""
    target = row["target"]
    if target is None:
        return ""
    sign = ">=" if target["direction"] == "min" else "<="
    verdict = {True: "met", False: "missed", None: "no data"}[row["met"]]
    return f"target {sign} {fmt(target['value'], row['unit'])}: {verdict}"


def _time(value: Any) -> dt.datetime:
    """A time from the digest, as built (datetime) or as served (RFC 3339)."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _when(value: Any) -> str:
    return _time(value).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def title(digest: Mapping[str, Any]) -> str:
    """Subject line."""
    period = digest["period"]
    if period["kind"] in MONTHS:
        shown = Period(period["kind"], _time(period["from"]), _time(period["to"]))
        return f"{period['kind'].capitalize()} review: {label(shown)}"
    kind = "Weekly" if period["kind"] == "weekly" else "Daily"
    end = _time(period["to"]) - dt.timedelta(seconds=1)
    return f"{kind} digest: {_time(period['from']):%Y-%m-%d} to {end:%Y-%m-%d} (UTC)"


def _alert_line(item: Mapping[str, Any]) -> str:
    ack = "never acknowledged" if item["ackMinutes"] is None else (
        f"acknowledged after {item['ackMinutes']:g} min")  # fmt: skip
    fixed = "still open" if item["resolveMinutes"] is None else (
        f"resolved after {item['resolveMinutes']:g} min ({item['resolution']})")  # fmt: skip
    return (f"{item['ruleId']} {item['scope']} {item['severity']} fired "
            f"{_when(item['firedAt'])}, {ack}, {fixed}")  # fmt: skip


def _alerts_line(alerts: Mapping[str, Any]) -> str:
    ack, fix = alerts["medianAckMinutes"], alerts["medianResolveMinutes"]
    return (
        f"{alerts['fired']} fired ({alerts['critical']} critical); median time to acknowledge "
        f"{'–' if ack is None else f'{ack:g} min'}, to resolve "
        f"{'–' if fix is None else f'{fix:g} min'}; {alerts['unacknowledged']} never acknowledged"
    )


def slo_line(item: Mapping[str, Any]) -> str:
    """One objective's budget in one scope."""
    left = item["budgetRemaining"]
    good = "no data" if item["sli"] is None else f"{item['sli']:.2%} good"
    budget = "" if left is None else f", {left:.0%} of the budget left"
    if left is not None and left < 0:
        budget = f", the budget spent {1 - left:.1f} times over"
    return (f"{item['sloId']} {item['scope']}: {good} (target {item['target']:.2%} over "
            f"{item['windowDays']} days){budget}, {item['status'].replace('_', ' ')}")  # fmt: skip


def capacity_lines(digest: Mapping[str, Any]) -> list[str]:
    """The weekly capacity outlook, one line each (none in daily digests)."""
    outlook = digest.get("capacity")
    if outlook is None:
        return []
    lines = [
        f"{r['provider']}: peak-hour demand reaches 80% of capacity on {r['crosses80At']} "
        f"(forecast peak {r['peakPerHour']:,.0f}/h of {r['capacityPerHour']:,.0f}/h, "
        f"limited by {r['limitedBy']})"
        for r in outlook["crossing"]
    ] or ["no provider reaches 80% of capacity within 14 days"]
    for r in outlook["budgets"]:
        verdict = "over budget" if r["over"] else "within budget"
        lines.append(
            f"{r['provider']}: {fmt(r['monthToDateUsd'], 'usd')} so far this month, forecast "
            f"{fmt(r['forecastMonthUsd'], 'usd')} of {fmt(r['monthlyBudgetUsd'], 'usd')} "
            f"({verdict})"
        )
    return lines


def text(digest: Mapping[str, Any], link: str) -> str:
    """The plain-text alternative."""
    lines = [title(digest), "", f"Headline (against the previous {_noun(digest)})"]
    for row in digest["headline"]:
        lines.append(f"  {row['label']:26s} {fmt(row['value'], row['unit']):>12s}  "
                     f"{fmt_change(row):>9s}  {target_text(row)}".rstrip())  # fmt: skip
    lines += ["", "Providers that regressed"]
    lines += [f"  {r['provider']}: {r['metric']} {r['value']:.4g} (was {r['previous']:.4g})"
              for r in digest["regressions"]] or ["  none"]  # fmt: skip
    alerts = digest["alerts"]
    lines += ["", f"Alerts: {_alerts_line(alerts)}"]
    lines += [f"  {_alert_line(i)}" for i in alerts["items"][:20]]
    lines += ["", "Error budgets at the end of the period"]
    lines += [f"  {slo_line(item)}" for item in digest.get("slos", [])] or ["  no objectives"]
    if digest.get("capacity") is not None:
        lines += ["", "Capacity outlook"] + [f"  {line}" for line in capacity_lines(digest)]
    lines += ["", "Provider traffic controls"]
    lines += [f"  {_when(c['at'])} {c['text']} (by {c['by']})" for c in digest["controls"]] or [
        "  no change"
    ]
    lines += ["", "Recommendations"]
    lines += [f"  {r['rank']}. {r['title']}\n     {r['text']}" for r in digest["recommendations"]]
    if not digest["recommendations"]:
        lines.append("  none this period")
    lines += ["", f"Open the console: {link}"]
    return "\n".join(lines) + "\n"


def _noun(digest: Mapping[str, Any]) -> str:
    kind = digest["period"]["kind"]
    return {"weekly": "week", "monthly": "month", "quarterly": "quarter"}.get(kind, "day")


def charts(digest: Mapping[str, Any]) -> dict[str, bytes]:
    """The inline charts by Content-ID: generations and success rate per bucket."""
    return {
        cid: png.bar_chart([s.get(field) for s in digest["series"]], color=color, floor=floor)
        for cid, (_, field, color, floor) in CHARTS.items()
    }


def to_html(digest: Mapping[str, Any], link: str) -> str:
    """The HTML body (inline styles only; charts referenced as cid: images)."""
    e = html.escape
    bucket = "hour" if digest["period"]["kind"] == "daily" else "day"
    rows = "".join(
        f"<tr><td>{e(r['label'])}</td><td align='right'><b>{e(fmt(r['value'], r['unit']))}</b>"
        f"</td><td align='right'>{e(fmt_change(r))}</td><td>{e(target_text(r))}</td></tr>"
        for r in digest["headline"]
    )
    images = "".join(
        f"<p style='margin:8px 0 2px'>{e(label.format(bucket=bucket))}</p>"
        f"<img src='cid:{cid}' width='360' height='80' alt='{e(label.format(bucket=bucket))}'>"
        for cid, (label, _, _, _) in CHARTS.items()
    )
    regressed = (
        "".join(
            f"<li>{e(r['provider'])}: {e(r['metric'])} {r['value']:.4g} "
            f"(was {r['previous']:.4g})</li>"
            for r in digest["regressions"]
        )
        or "<li>none</li>"
    )
    alerts = digest["alerts"]
    alert_items = "".join(f"<li>{e(_alert_line(i))}</li>" for i in alerts["items"][:20])
    budgets = "".join(f"<li>{e(slo_line(i))}</li>" for i in digest.get("slos", [])) or (
        "<li>no objectives</li>"
    )
    controls = "".join(f"<li>{e(_when(c['at']))} {e(c['text'])} (by {e(c['by'])})</li>"
                       for c in digest["controls"]) or "<li>no change</li>"  # fmt: skip
    outlook = "".join(f"<li>{e(line)}</li>" for line in capacity_lines(digest))
    recs = (
        "".join(
            f"<li><b>{e(r['title'])}</b><br>{e(r['text'])}</li>" for r in digest["recommendations"]
        )
        or "<li>none this period</li>"
    )
    return (
        "<html><body style='font-family:Arial,sans-serif;color:#1f2937;max-width:680px'>"
        f"<h2>{e(title(digest))}</h2>"
        f"<table cellpadding='4' style='border-collapse:collapse'><tr><th align='left'>Figure</th>"
        f"<th>Value</th><th>vs previous {e(_noun(digest))}</th><th align='left'>Target</th></tr>"
        f"{rows}</table>{images}"
        f"<h3>Providers that regressed</h3><ul>{regressed}</ul>"
        f"<h3>Alerts</h3><p>{e(_alerts_line(alerts))}</p><ul>{alert_items}</ul>"
        f"<h3>Error budgets</h3><ul>{budgets}</ul>"
        + (f"<h3>Capacity outlook</h3><ul>{outlook}</ul>" if outlook else "")
        + f"<h3>Provider traffic controls</h3><ul>{controls}</ul>"
        f"<h3>Recommendations</h3><ol>{recs}</ol>"
        f"<p><a href='{e(link)}'>Open the console</a></p></body></html>"
    )


def slack(digest: Mapping[str, Any], link: str) -> dict[str, Any]:
    """A Block Kit message with a text fallback."""
    fields = []
    for row in digest["headline"][:8]:
        value = f"{fmt(row['value'], row['unit'])} ({fmt_change(row)})"
        fields.append({"type": "mrkdwn", "text": f"*{row['label']}*\n{value}"})
    recs = "\n".join(f"{r['rank']}. {r['title']}" for r in digest["recommendations"][:5])
    budgets = [slo_line(item) for item in digest.get("slos", [])[:8]]
    outlook = capacity_lines(digest)[:8]

    def section(text: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    console = {"type": "mrkdwn", "text": f"<{link}|Open the console>"}
    return {
        "text": title(digest),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title(digest)[:150]}},
            {"type": "section", "fields": fields},
            section(f"*Alerts:* {_alerts_line(digest['alerts'])}"),
            section("*Error budgets*\n" + ("\n".join(budgets) or "no objectives")),
            *([section("*Capacity outlook*\n" + "\n".join(outlook))] if outlook else []),
            section(f"*Recommendations*\n{recs or 'none'}"),
            {"type": "context", "elements": [console]},
        ],
    }
