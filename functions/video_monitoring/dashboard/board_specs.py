"""Custom dashboards as data: the figures a panel may show (those the fixed pages answer), the
panel and dashboard shapes with their bounds, the body a PUT gives checked field by field, and
who may see and edit one (docs/dashboards.md)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from video_monitoring.core.errors import InvalidArgument, NotFound
from video_monitoring.core.models import PROVIDER_PATTERN, rfc3339
from video_monitoring.dashboard.auth import ADMIN_ROLES, Caller
from video_monitoring.dashboard.params import NAMED_WINDOWS

# Each figure by the endpoint that answers it, and the /trends metric that charts it over time
# (None: a figure of the window only, shown as a tile).
FIGURES: Mapping[str, tuple[str, str | None]] = {
    "generations.total": ("/summary", "total"),
    "generations.failed": ("/summary", "failed"),
    "successRate": ("/summary", "successRate"),
    "generationTimeSeconds.avg": ("/summary", "avgGenerationSeconds"),
    "generationTimeSeconds.p95": ("/summary", "p95GenerationSeconds"),
    "quality.avgScore": ("/summary", "avgQualityScore"),
    "satisfaction.avgRating": ("/summary", "avgUserRating"),
    "costUsd": ("/summary", "costUsd"),
    "business.revenueUsd": ("/business", "revenueUsd"),
    "business.upgrades": ("/business", "upgrades"),
    "business.conversionRate": ("/business", "conversionRate"),
    "premiumAdoption": ("/business", None),
    "throughputPerHour": ("/performance", None),
    "costPerOutputSecondUsd": ("/performance", None),
    "queue.queued": ("/system", None),
    "queue.waitP95Seconds": ("/system", None),
}
Chart = Literal["tile", "line", "bar", "table"]
CHARTS: tuple[str, ...] = get_args(Chart)
# Kinds that draw the figure per bucket of the window (from /trends).
OVER_TIME = frozenset({"line", "bar", "table"})
WINDOWS: tuple[str, ...] = tuple(NAMED_WINDOWS)
OVERALL = "overall"
MAX_PANELS = 12
MAX_TITLE = 80
MAX_PER_OWNER = 20
DASHBOARD_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
_PROVIDER = re.compile(PROVIDER_PATTERN)
_BODY_FIELDS = ("dashboardId", "title", "shared", "panels")
_PANEL_FIELDS = ("figure", "scope", "window", "chart")


def check_dashboard_id(dashboard_id: str) -> None:
    """A 404 naming `dashboardId` for a path segment no dashboard id can be."""
    if not DASHBOARD_ID.fullmatch(dashboard_id):
        raise NotFound(
            f"dashboardId: no dashboard {dashboard_id[:64]!r} (ids match {DASHBOARD_ID.pattern})"
        )


@dataclass(frozen=True)
class Panel:
    """One figure of one scope (overall or a provider) over a named window, drawn as `chart`."""

    figure: str
    scope: str = OVERALL
    window: str = "24h"
    chart: str = "tile"

    def to_doc(self) -> dict[str, str]:
        """The panel as stored and answered."""
        return {"figure": self.figure, "scope": self.scope, "window": self.window,
                "chart": self.chart}  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """What the owner chose: a title, shared or private, and the panels in order."""

    title: str
    shared: bool
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Board:
    """A stored dashboard: its layout, its owner's uid, and when it was made and last changed."""

    dashboard_id: str
    owner: str
    layout: Layout
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str

    def to_doc(self) -> dict[str, Any]:
        """The document as Firestore stores it (the id is the document's)."""
        return {
            "title": self.layout.title, "owner": self.owner, "shared": self.layout.shared,
            "panels": [p.to_doc() for p in self.layout.panels], "createdAt": self.created_at,
            "updatedAt": self.updated_at, "updatedBy": self.updated_by,
        }  # fmt: skip

    def answer(self, caller: Caller) -> dict[str, Any]:
        """The dashboard as the API answers it to `caller` (whether they may edit it)."""
        doc = self.to_doc()
        del doc["updatedBy"]
        times = {"createdAt": rfc3339(self.created_at), "updatedAt": rfc3339(self.updated_at)}
        return {"dashboardId": self.dashboard_id, **doc, **times,
                "editable": editable(self, caller)}  # fmt: skip


def visible(board: Board, caller: Caller) -> bool:
    """Shared dashboards are every console user's to see; private ones their owner's only."""
    return board.layout.shared or board.owner == caller.uid


def editable(board: Board, caller: Caller) -> bool:
    """The owner edits their own; admins also edit shared ones (never another's private one)."""
    if board.owner == caller.uid:
        return True
    return board.layout.shared and caller.role in ADMIN_ROLES


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidArgument(f"{name}: expected one of {', '.join(allowed)}; got {value!r:.80}")
    return value


def _known(name: str, data: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidArgument(f"{name}{unknown[0][:64]}: unknown field; accepted: "
                              f"{', '.join(fields)}")  # fmt: skip


def parse_panel(name: str, data: Any) -> Panel:
    """One panel of the body (`name` says where: `panels[2]`), or a 400 naming the field."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"{name}: expected an object with {', '.join(_PANEL_FIELDS)}")
    _known(f"{name}.", data, _PANEL_FIELDS)
    if "figure" not in data:
        raise InvalidArgument(f"{name}.figure: required; one of {', '.join(FIGURES)}")
    figure = _one_of(f"{name}.figure", data["figure"], tuple(FIGURES))
    scope = data.get("scope", OVERALL)
    if not isinstance(scope, str) or not (scope == OVERALL or _PROVIDER.fullmatch(scope)):
        raise InvalidArgument(
            f"{name}.scope: expected {OVERALL!r} or a provider id matching {PROVIDER_PATTERN}; "
            f"got {scope!r:.80}"
        )
    window = _one_of(f"{name}.window", data.get("window", "24h"), WINDOWS)
    chart = _one_of(f"{name}.chart", data.get("chart", "tile"), CHARTS)
    if chart in OVER_TIME and FIGURES[figure][1] is None:
        raise InvalidArgument(
            f"{name}.chart: {figure} is a figure of the whole window, drawn as a tile only"
        )
    return Panel(figure, scope, window, chart)


def parse_title(value: Any) -> str:
    """The title: 1 to MAX_TITLE characters of text, no control characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TITLE:
        raise InvalidArgument(f"title: expected text of 1 to {MAX_TITLE} characters")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidArgument("title: control characters (line breaks, tabs) are not allowed")
    return value.strip()


def parse_layout(body: Mapping[str, Any], dashboard_id: str) -> Layout:
    """PUT /dashboards/{dashboardId}'s body: title, shared (default false) and panels (at most
    MAX_PANELS); a `dashboardId`, if given, must be the path's. A 400 names the first field
    that is wrong."""
    _known("", body, _BODY_FIELDS)
    if "dashboardId" in body and body["dashboardId"] != dashboard_id:
        raise InvalidArgument("dashboardId: must equal the dashboard id in the path")
    if "title" not in body:
        raise InvalidArgument(f"title: required; text of 1 to {MAX_TITLE} characters")
    title = parse_title(body["title"])
    shared = body.get("shared", False)
    if not isinstance(shared, bool):
        raise InvalidArgument("shared: expected true (every console user sees it) or false")
    panels = body.get("panels", [])
    if not isinstance(panels, list) or len(panels) > MAX_PANELS:
        raise InvalidArgument(f"panels: expected a list of at most {MAX_PANELS} panels")
    return Layout(title, shared, tuple(parse_panel(f"panels[{i}]", p)
                                       for i, p in enumerate(panels)))  # fmt: skip
