"""A monthly or quarterly review as a PDF: the headline figures against their targets and the
period before, daily charts, the providers side by side, the objectives' error budgets, the
alerts with their times to acknowledge and resolve, and the ranked recommendations. Every value
comes from the review JSON (DigestService.review); the charts and tables are the export
report's."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from video_monitoring.analytics.digest_render import fmt, fmt_change
from video_monitoring.analytics.digest_render import title as review_title
from video_monitoring.core.models import rfc3339
from video_monitoring.dashboard.report import line_chart, provider_rows, table_style

ALERT_ROWS = 60  # the alerts listed one by one; the summary line counts them all
CHART_SCALE = 0.82  # four of the export report's charts across a landscape page


def _time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def headline_rows(review: Mapping[str, Any]) -> list[list[str]]:
    """Figure, this period, the previous one, the change, the target and whether it is met."""
    rows = [["Figure", "This period", "Previous period", "Change", "Target", "Status"]]
    for row in review["headline"]:
        target = row["target"]
        goal = "" if target is None else (
            f"{'>=' if target['direction'] == 'min' else '<='} {fmt(target['value'], row['unit'])}"
        )  # fmt: skip
        status = (
            "" if target is None else {True: "met", False: "MISSED", None: "no data"}[row["met"]]
        )
        rows.append([row["label"], fmt(row["value"], row["unit"]),
                     fmt(row["previous"], row["unit"]), fmt_change(row), goal, status])  # fmt: skip
    return rows


def slo_rows(slos: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Each objective's error budget at the period's end (overall, and scopes at risk)."""
    rows = [["Objective", "Scope", "Good", "Target", "Window", "Budget left", "Status"]]
    for s in slos:
        left = s["budgetRemaining"]
        rows.append([
            s["sloId"], s["scope"], "–" if s["sli"] is None else f"{s['sli']:.2%}",
            f"{s['target']:.2%}", f"{s['windowDays']} days",
            budget_left(left), s["status"].replace("_", " "),
        ])  # fmt: skip
    return rows


def budget_left(left: float | None) -> str:
    """The share of the error budget left, or how many times over it was spent."""
    if left is None:
        return "–"
    return f"{left:.0%}" if left >= 0 else f"spent {1 - left:.1f} times over"


def alert_rows(items: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """The alerts that fired, oldest first, with minutes to acknowledge and to resolve."""
    rows = [["Fired (UTC)", "Rule", "Scope", "Severity", "To acknowledge", "To resolve",
             "Resolution"]]  # fmt: skip
    for a in items[:ALERT_ROWS]:
        rows.append([
            f"{_time(a['firedAt']):%Y-%m-%d %H:%M}", a["ruleId"], a["scope"], a["severity"],
            "never" if a["ackMinutes"] is None else f"{a['ackMinutes']:g} min",
            "open" if a["resolveMinutes"] is None else f"{a['resolveMinutes']:g} min",
            a.get("resolution") or a["status"],
        ])  # fmt: skip
    return rows


def alerts_line(alerts: Mapping[str, Any]) -> str:
    """How many fired, and the median times to acknowledge and to resolve."""
    ack, fix = alerts["medianAckMinutes"], alerts["medianResolveMinutes"]
    shown = "" if alerts["fired"] <= ALERT_ROWS else f" (the first {ALERT_ROWS} are listed)"
    return (
        f"{alerts['fired']} alerts fired ({alerts['critical']} critical){shown}; median time to "
        f"acknowledge {'–' if ack is None else f'{ack:g} min'}, to resolve "
        f"{'–' if fix is None else f'{fix:g} min'}; {alerts['unacknowledged']} never "
        "acknowledged."
    )


def review_charts(review: Mapping[str, Any]) -> list[Any]:
    """Daily generations, success rate (with its target), p95 generation time and cost, drawn
    at CHART_SCALE so that the four fit across the first page."""
    start, end = _time(review["period"]["from"]), _time(review["period"]["to"])

    def points(field: str) -> list[tuple[float, float]]:
        return [((_time(p["start"]) - start).total_seconds() / 3600, float(p[field]))
                for p in review["series"] if p[field] is not None]  # fmt: skip

    target = next((r["target"] for r in review["headline"] if r["name"] == "successRate"), None)

    def chart(title: str, name: str, field: str, shown: Callable[[float], str],
              goal: float | None = None) -> Any:  # fmt: skip
        drawing = line_chart(title, [(name, points(field))], start, end, shown, goal)
        drawing.width, drawing.height = drawing.width * CHART_SCALE, drawing.height * CHART_SCALE
        drawing.scale(CHART_SCALE, CHART_SCALE)
        return drawing

    return [
        chart("Generations per day", "generations", "total", lambda v: f"{v:,.0f}"),
        chart("Success rate per day", "success rate", "successRate", lambda v: f"{v * 100:.0f}%",
              None if target is None else target["value"]),
        chart("p95 generation time per day", "p95", "p95GenerationSeconds",
              lambda v: f"{v:.0f} s"),
        chart("Provider cost per day", "cost", "costUsd",
              lambda v: f"${v:,.0f}" if abs(v) >= 100 else f"${v:,.2f}"),
    ]  # fmt: skip


def review_pdf(review: Mapping[str, Any]) -> bytes:
    """The review as a PDF document."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table

    styles, grid = getSampleStyleSheet(), table_style()
    period, previous = review["period"], review["previous"]

    def table(rows: list[list[str]]) -> Any:
        shown = Table(rows, repeatRows=1, hAlign="LEFT")
        shown.setStyle(grid)
        return shown

    def section(title: str, *body: Any) -> Any:
        return KeepTogether([Paragraph(title, styles["Heading2"]), *body])

    headline = table(headline_rows(review))
    for i, row in enumerate(headline_rows(review)):
        if row[5] == "MISSED":
            headline.setStyle([("TEXTCOLOR", (5, i), (5, i), colors.red)])
    source = review.get("source")
    story: list[Any] = [
        Paragraph(escape(review_title(review)), styles["Title"]),
        Paragraph(escape(
            f"{rfc3339(_time(period['from']))} to {rfc3339(_time(period['to']))}, compared with "
            f"{rfc3339(_time(previous['from']))} to {rfc3339(_time(previous['to']))}"
            + (f"; figures read from {source}" if source else "")
        ), styles["Normal"]),
        Spacer(1, 6),
        section("Headline figures", headline),
        Spacer(1, 6),
        section("Daily trends", Table([review_charts(review)], hAlign="LEFT")),
        section("Providers", table(provider_rows(review["providers"]))),
    ]  # fmt: skip
    if review["slos"]:
        story.append(section("Error budgets at the period's end", table(slo_rows(review["slos"]))))
    else:
        story.append(section("Error budgets", Paragraph("No objectives.", styles["Normal"])))
    alerts = review["alerts"]
    body: list[Any] = [Paragraph(escape(alerts_line(alerts)), styles["Normal"])]
    if alerts["items"]:
        body += [Spacer(1, 4), table(alert_rows(alerts["items"]))]
    story.append(section("Alerts", *body))
    found = review["recommendations"] or []
    story.append(Paragraph("Recommendations", styles["Heading2"]))
    story += [Paragraph(escape(f"{r['rank']}. {r['title']}: {r['text']}"), styles["Normal"])
              for r in found] or [Paragraph("None this period.", styles["Normal"])]  # fmt: skip
    spool = io.BytesIO()
    margin = 36
    SimpleDocTemplate(
        spool, pagesize=landscape(A4), title=review_title(review), leftMargin=margin,
        rightMargin=margin, topMargin=margin, bottomMargin=margin,
    ).build(story)  # fmt: skip
    return spool.getvalue()
