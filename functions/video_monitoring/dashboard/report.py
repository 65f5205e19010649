"""The PDF export as a report a manager reads: the window, the headline figures against their
targets, charts drawn here with reportlab's graphics (volume, success rate against its target,
generation time percentiles), the per-provider table, then the exported rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from xml.sax.saxutils import escape

from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.config.settings import Target
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.ingest.rollup import Granularity

PDF_MAX_ROWS = 2000  # a PDF is a report to read; the full data goes to csv or xlsx
SERIES_COLOURS = ("#2457c5", "#b4490a", "#6b3fb0")


@dataclass(frozen=True)
class ReportFigures:
    """The API's answers for the export's window: /summary, /trends and /providers, and the
    targets (GET /targets)."""

    summary: Mapping[str, Any]
    trends: Mapping[str, Any]
    providers: Sequence[Mapping[str, Any]]
    targets: Mapping[str, Target] = field(default_factory=dict)


def report_figures(
    engine: AnalyticsEngine, window: Window, targets: Mapping[str, Target]
) -> ReportFigures:
    """The figures for a window: its summary, trends (per minute up to 3 hours, per hour up to
    8 days, else per day) and provider comparison."""
    span = window.end - window.start
    granularity: Granularity = (
        "minute" if span <= dt.timedelta(hours=3) else "hour" if span <= dt.timedelta(days=8)
        else "day"
    )  # fmt: skip
    return ReportFigures(
        summary=engine.summary(window),
        trends=engine.trends(window, granularity, "total", 0),
        providers=engine.provider_comparison(window)["providers"],
        targets=targets,
    )


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 0, unit: str = "") -> str:
    return "–" if value is None else f"{value:,.{digits}f}{unit}"


def _usd(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"${value:,.{digits}f}"


def headline_rows(figures: ReportFigures) -> list[list[str]]:
    """Figure, value, target and whether it is met, for the report's first table."""
    s, t = figures.summary, figures.targets
    g, times = s["generations"], s["generationTimeSeconds"]

    def judged(name: str, value: float | None, text: str, fmt: Callable[[float], str]) -> list[str]:
        target = t.get(name)
        if target is None:
            return [text, "", ""]
        sign = ">=" if target.direction == "min" else "<="
        if value is None:
            verdict = "no data"
        else:
            met = value >= target.value if target.direction == "min" else value <= target.value
            verdict = "met" if met else "MISSED"
        return [text, f"{sign} {fmt(target.value)}", verdict]

    secs: Callable[[float], str] = lambda v: _num(v, 1, " s")  # noqa: E731
    return [
        ["Figure", "Value", "Target", "Status"],
        ["Generations", _num(g["total"]), "", ""],
        ["Completed / failed / cancelled",
         f"{g['completed']:,} / {g['failed']:,} / {g['cancelled']:,}", "", ""],
        ["Success rate", *judged("successRate", g["successRate"], _pct(g["successRate"]), _pct)],
        ["Average generation time",
         *judged("avgGenerationSeconds", times["avg"], secs(times["avg"]), secs)],
        ["p50 / p95 / p99 generation time",
         " / ".join(secs(times[q]) for q in ("p50", "p95", "p99")), "", ""],
        ["Quality score", *judged("qualityScore", s["quality"]["avgScore"],
                                  _num(s["quality"]["avgScore"], 2), lambda v: f"{v:.1f}")],
        ["User rating", *judged("satisfaction", s["satisfaction"]["avgRating"],
                                _num(s["satisfaction"]["avgRating"], 2), lambda v: f"{v:.1f}")],
        ["Provider cost", _usd(s["costUsd"]), "", ""],
        ["Revenue", _usd(s["business"]["revenueUsd"]), "", ""],
        ["Conversion", _pct(s["business"]["conversionRate"]), "", ""],
        ["Open alerts (critical)", f"{s['alerts']['active']} ({s['alerts']['critical']})", "", ""],
    ]  # fmt: skip


def provider_rows(providers: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """The per-provider comparison, worst success rate first."""
    rows = [["Provider", "Generations", "Success", "p95 time", "Quality", "Cost / output s",
             "Errors"]]  # fmt: skip
    ranked = sorted(providers, key=lambda p: (p["successRate"] is None, p["successRate"] or 0))
    for p in ranked:
        errors = sorted((p.get("errors") or {}).items(), key=lambda e: -e[1])
        rows.append([
            p["provider"], f"{p['generations']['total']:,}", _pct(p["successRate"]),
            _num(p["generationTimeSeconds"]["p95"], 1, " s"),
            _num((p.get("quality") or {}).get("avgScore"), 2),
            _usd(p.get("costPerOutputSecondUsd"), 4),
            ", ".join(f"{code} {n}" for code, n in errors[:3]) or "none",
        ])  # fmt: skip
    return rows


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    start: dt.datetime,
    end: dt.datetime,
    value_format: Callable[[float], str],
    target: float | None = None,
) -> Any:
    """A line chart of (hours since start, value) series; a dashed red target line if given.
    Times are labelled by day and hour, or by day and month over more than 8 days."""
    from reportlab.graphics.charts.legends import LineLegend
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing, Line, String
    from reportlab.lib import colors

    width, height = 228, 150
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, title, fontName="Helvetica-Bold", fontSize=9))
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 38, 30, width - 48, height - 58
    data = [list(points) or [(0.0, 0.0)] for _, points in series]
    plot.data = data
    hours = max((end - start).total_seconds() / 3600, 1e-9)
    time_format = "%d %b" if hours > 8 * 24 else "%d %H:%M"
    # A bucket may start before the window (a whole hour before a window starting at :37).
    earliest = min((x for _, points in series for x, _ in points), default=0.0)
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = min(0.0, earliest), hours
    plot.xValueAxis.labelTextFormat = lambda h: (start + dt.timedelta(hours=h)).strftime(
        time_format
    )
    plot.xValueAxis.labels.fontSize = 6
    plot.yValueAxis.labels.fontSize = 6
    plot.yValueAxis.labelTextFormat = value_format
    values = [v for _, points in series for _, v in points]
    if target is not None:
        values.append(target)
    if values:
        low, high = min(values), max(values)
        pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
        plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = low - pad, high + pad
    for i in range(len(series)):
        plot.lines[i].strokeColor = colors.HexColor(SERIES_COLOURS[i % len(SERIES_COLOURS)])
        plot.lines[i].strokeWidth = 1.2
    drawing.add(plot)
    if target is not None and values:
        y_min, y_max = plot.yValueAxis.valueMin, plot.yValueAxis.valueMax
        y = plot.y + (target - y_min) / (y_max - y_min) * plot.height
        line = Line(plot.x, y, plot.x + plot.width, y, strokeColor=colors.red, strokeWidth=0.8)
        line.strokeDashArray = [3, 2]
        drawing.add(line)
    legend = LineLegend()
    legend.x, legend.y = 40, 8
    legend.fontSize, legend.dx, legend.dy, legend.deltax = 6, 8, 2, 52
    legend.columnMaximum = 1
    names = [name for name, _ in series] + (["target"] if target is not None else [])
    palette = [colors.HexColor(c) for c in SERIES_COLOURS] + [colors.red]
    legend.colorNamePairs = [(palette[i] if name != "target" else colors.red, name)
                             for i, name in enumerate(names)]  # fmt: skip
    drawing.add(legend)
    return drawing


def charts(figures: ReportFigures) -> list[Any]:
    """Volume, success rate (with its target) and generation time percentiles per bucket."""
    trends = figures.trends
    start = dt.datetime.fromisoformat(trends["window"]["from"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(trends["window"]["to"].replace("Z", "+00:00"))

    def points(value: Callable[[Mapping[str, Any]], float | None]) -> list[tuple[float, float]]:
        out = []
        for point in trends["series"]:
            at = point["start"]
            moment = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)
            v = value(point)
            if v is not None:
                out.append(((moment - start).total_seconds() / 3600, float(v)))
        return out

    target = figures.targets.get("successRate")
    unit = trends["granularity"]
    return [
        line_chart(f"Generations per {unit}", [("generations", points(lambda p: p["total"]))],
                   start, end, lambda v: f"{v:.0f}"),
        line_chart(f"Success rate per {unit}",
                   [("success rate", points(lambda p: p["successRate"]))], start, end,
                   lambda v: f"{v * 100:.0f}%", target.value if target else None),
        line_chart(f"Generation time per {unit}",
                   [(q, points(lambda p, q=q: p["generationTimeSeconds"][q]))  # type: ignore[misc]
                    for q in ("p50", "p95", "p99")],
                   start, end, lambda v: f"{v:.0f} s"),
    ]  # fmt: skip


@dataclass(frozen=True)
class PdfTable:
    """What a PDF export prints of its rows: the dataset's name, the columns shown, and the
    column whose values break the row count down (None: no breakdown)."""

    name: str
    columns: Sequence[str]
    tally: str | None = None


@dataclass
class _Tabulated:
    """The rows as the PDF prints them: the first PDF_MAX_ROWS as text, and counts of all."""

    table: list[list[str]]
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0


def _tabulate(layout: PdfTable, rows: Iterable[Mapping[str, Any]]) -> _Tabulated:
    """Count every row (by the tally column too) and keep the first PDF_MAX_ROWS as text."""
    tabulated = _Tabulated([list(layout.columns)])
    for row in rows:
        tabulated.total += 1
        if layout.tally:
            key = str(row.get(layout.tally))
            tabulated.counts[key] = tabulated.counts.get(key, 0) + 1
        if tabulated.total <= PDF_MAX_ROWS:
            tabulated.table.append([_text(row.get(c)) for c in layout.columns])
    return tabulated


def table_style() -> Any:
    """The style of the report's tables: small type, a grey header, thin rules."""
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    return TableStyle(
        [
            ("FONTSIZE", (0, 0), (-1, -1), 7),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]
    )


def _title_story(name: str, window: Window | None, report: bool, styles: Any) -> list[Any]:
    """The title, and the window with its scope when there is one."""
    from reportlab.platypus import Paragraph

    title = "Generation report" if report else f"Export: {name}"
    story: list[Any] = [Paragraph(title, styles["Title"])]
    if window is not None:
        scope = f"provider {window.provider}" if window.provider else "all providers"
        text = f"Window {rfc3339(window.start)} to {rfc3339(window.end)} ({scope})"
        story.append(Paragraph(text, styles["Normal"]))
    return story


def _figures_story(figures: ReportFigures, name: str, styles: Any, grid_style: Any) -> list[Any]:
    """The first page: headline figures against targets, the trend charts, the providers."""
    from reportlab.lib import colors
    from reportlab.platypus import KeepTogether, PageBreak, Paragraph, Spacer, Table, TableStyle

    lines = headline_rows(figures)
    headline = Table(lines, repeatRows=1, hAlign="LEFT")
    style = TableStyle(grid_style.getCommands())
    for i, line in enumerate(lines):
        if line[3] == "MISSED":
            style.add("TEXTCOLOR", (3, i), (3, i), colors.red)
    headline.setStyle(style)
    providers = Table(provider_rows(figures.providers), repeatRows=1, hAlign="LEFT")
    providers.setStyle(grid_style)
    return [
        Spacer(1, 6),
        Paragraph("Headline figures", styles["Heading2"]),
        headline,
        Spacer(1, 8),
        KeepTogether(
            [Paragraph("Trends", styles["Heading2"]), Table([charts(figures)], hAlign="LEFT")]
        ),
        KeepTogether([Paragraph("Providers", styles["Heading2"]), providers]),
        PageBreak(),
        Paragraph(f"Rows: {name}", styles["Heading2"]),
    ]


def _rows_story(tabulated: _Tabulated, styles: Any, grid_style: Any) -> list[Any]:
    """The row count (broken down by the tally), a note when cut short, and the table."""
    from reportlab.platypus import Paragraph, Spacer, Table

    summary = f"{tabulated.total} rows"
    if tabulated.counts:
        summary += " — " + ", ".join(f"{k}: {v}" for k, v in sorted(tabulated.counts.items()))
    story: list[Any] = [Paragraph(escape(summary), styles["Normal"])]
    if tabulated.total > PDF_MAX_ROWS:
        story.append(
            Paragraph(
                f"The table shows the first {PDF_MAX_ROWS} of {tabulated.total} rows; "
                "export csv or xlsx for all of them.",
                styles["Italic"],
            )
        )
    grid = Table(tabulated.table, repeatRows=1)
    grid.setStyle(grid_style)
    return [*story, Spacer(1, 8), grid]


def pdf_report(
    layout: PdfTable,
    rows: Iterable[Mapping[str, Any]],
    window: Window | None,
    figures: ReportFigures | None,
    spooled: Callable[[Callable[[IO[bytes]], None]], Iterator[bytes]],
) -> Iterator[bytes]:
    """The report, chunk by chunk: figures first (when given), then the rows."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import SimpleDocTemplate

    grid_style = table_style()

    def write(spool: IO[bytes]) -> None:
        tabulated = _tabulate(layout, rows)
        styles = getSampleStyleSheet()
        story = _title_story(layout.name, window, figures is not None, styles)
        if figures is not None:
            story += _figures_story(figures, layout.name, styles, grid_style)
        story += _rows_story(tabulated, styles, grid_style)
        doc_title = "Generation report" if figures is not None else f"{layout.name} export"
        margin = 36  # half an inch: the first page holds the figures, the charts and providers
        SimpleDocTemplate(
            spool, pagesize=landscape(A4), title=doc_title, leftMargin=margin,
            rightMargin=margin, topMargin=margin, bottomMargin=margin,
        ).build(story)  # fmt: skip

    return spooled(write)


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 40 else text[:39] + "…"
