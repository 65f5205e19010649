"""/export: formats, formula neutralisation, row cap, file names, chunked streaming."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_dashboard import json_response, verifier
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.models import Window
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports
from video_monitoring.dashboard.files import DATASETS, Dataset, PseudonymisedSource, safe_cell
from video_monitoring.dashboard.http import Request, StreamResponse
from video_monitoring.privacy.pseudonyms import pseudonym
from video_monitoring.privacy.retention import Retention

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


class ListSource:
    """Rows per collection in memory, filtered like the Firestore source."""

    def __init__(self, docs: dict[str, list[tuple[str, dict[str, Any]]]]) -> None:
        self.docs = docs
        self.pulled = 0
        self.opted_out: set[str] = set()

    def opted_out_users(self) -> frozenset[str]:
        return frozenset(self.opted_out)

    def _matching(self, dataset: Dataset, window: Window) -> list[tuple[str, dict[str, Any]]]:
        found = [
            (i, d)
            for i, d in self.docs.get(dataset.collection, [])
            if window.start <= d[dataset.time_field] < window.end
            and (
                window.provider is None
                or dataset.provider_field is None
                or d.get(dataset.provider_field) == window.provider
            )
        ]
        return sorted(found, key=lambda item: (item[1][dataset.time_field], item[0]))

    def count(self, dataset: Dataset, window: Window) -> int:
        return len(self._matching(dataset, window))

    def rows(self, dataset: Dataset, window: Window) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for item in self._matching(dataset, window):
            self.pulled += 1
            yield item


def generation(i: int, **extra: Any) -> tuple[str, dict[str, Any]]:
    return f"g{i}", {
        "generationId": f"g{i}",
        "userId": f"u{i}",
        "provider": "pika" if i % 2 else "runway",
        "status": "completed",
        "userTier": "free",
        "createdAt": NOW - dt.timedelta(minutes=i + 1),
        "costUsd": 0.25 * i,
        "features": ["a", "b"],
        **extra,
    }


def dashboard(source: ListSource, cap: int = 1000) -> Dashboard:
    store = FakeStore()
    clock = FixedClock(NOW)
    monitor = PerformanceMonitor(store)
    return Dashboard(ApiServices(
        AnalyticsEngine(store, monitor), clock, 400, verifier=verifier,
        exports=FileExports(source, max_rows=cap),
    ))  # fmt: skip


def export(board: Dashboard, **params: str) -> StreamResponse:
    response = board.handle(Request("GET", "/export", params, "Bearer tok-analytics"))
    assert isinstance(response, StreamResponse), getattr(response, "body", response)
    return response


def test_csv_has_every_row_and_inert_formulas() -> None:
    docs = [generation(i) for i in range(5)]
    docs.append(generation(9, userId='=HYPERLINK("http://x")', model="+1", resolution="-2"))
    source = ListSource({"video_generation_metrics": docs})
    response = export(dashboard(source), dataset="generations", format="csv", window="24h")
    assert response.content_type == "text/csv"
    assert response.filename == "generations_20261123T1200Z_20261124T1200Z.csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.chunks).decode())))
    assert [r["generationId"] for r in rows] == ["g9", "g4", "g3", "g2", "g1", "g0"]  # oldest first
    assert rows[0]["userId"] == '\'=HYPERLINK("http://x")'
    assert (rows[0]["model"], rows[0]["resolution"]) == ("'+1", "'-2")
    assert rows[1]["costUsd"] == "1.0" and rows[1]["features"] == '["a","b"]'
    assert rows[1]["createdAt"] == "2026-11-24T11:55:00Z"
    assert rows[1]["startedAt"] == ""


def test_ndjson_and_json_carry_the_same_rows_and_provider_filters() -> None:
    source = ListSource({"video_generation_metrics": [generation(i) for i in range(6)]})
    board = dashboard(source)
    nd = export(board, dataset="generations", format="ndjson", provider="pika")
    lines = [json.loads(line) for line in b"".join(nd.chunks).decode().splitlines()]
    assert [r["generationId"] for r in lines] == ["g5", "g3", "g1"]
    assert nd.filename.endswith("_pika.ndjson")
    whole = json.loads(
        b"".join(export(board, dataset="generations", format="json").chunks).decode()
    )
    assert len(whole) == 6 and whole[0]["costUsd"] == 1.25


def test_rows_are_pulled_as_the_file_is_written() -> None:
    source = ListSource({"video_generation_metrics": [generation(i) for i in range(3000)]})
    board = dashboard(source, cap=5000)
    response = export(board, dataset="generations", format="csv", window="7d")
    first = next(response.chunks).decode()
    assert source.pulled < 3000 and first.startswith("generationId,")
    rest = b"".join(response.chunks).decode()
    assert source.pulled == 3000
    assert len(list(csv.reader(io.StringIO(first + rest)))) == 3001


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"format": "csv"}, "dataset:"),
        ({"dataset": "users"}, "dataset:"),
        ({"dataset": "events", "format": "xml"}, "format:"),
        ({"dataset": "events", "colour": "red"}, "colour:"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, str], named: str) -> None:
    board = dashboard(ListSource({}))
    response = json_response(
        board.handle(Request("GET", "/export", params, "Bearer tok-analytics"))
    )
    assert response.status == 400
    assert response.body["error"]["message"].startswith(named)


def test_the_row_cap_is_a_clear_400() -> None:
    source = ListSource({"video_generation_metrics": [generation(i) for i in range(11)]})
    board = dashboard(source, cap=10)
    response = json_response(
        board.handle(Request("GET", "/export", {"dataset": "generations"}, "Bearer tok-analytics"))
    )
    assert response.status == 400
    assert "11 generations rows" in response.body["error"]["message"]
    assert "cap of 10" in response.body["error"]["message"]
    assert source.pulled == 0


def test_safe_cell() -> None:
    assert safe_cell(-1.5) == "-1.5"  # numbers stay numbers
    assert safe_cell("-1.5") == "'-1.5"  # text that a spreadsheet would evaluate does not
    assert safe_cell("\tcmd") == "'\tcmd"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("plain") == "plain"
    assert safe_cell(None) == "" and safe_cell(True) == "true"
    assert safe_cell({"a": 1}) == '{"a":1}'


def test_every_firestore_value_exports_as_valid_json() -> None:
    from google.cloud.firestore_v1 import GeoPoint

    from video_monitoring.dashboard.files import DATASETS, encode, row_of

    class Ref:
        path = "users/u1"

    event = {
        "type": "video_viewed", "userId": "u1", "timestamp": NOW,
        "amountUsd": float("nan"),
        "properties": {"where": GeoPoint(1.5, 2.5), "who": Ref(), "raw": b"\x00\x01", "n": [1.0]},
    }  # fmt: skip
    row = row_of(DATASETS["events"], "e1", event)
    assert row["amountUsd"] is None
    assert row["properties"] == {
        "where": {"lat": 1.5, "lng": 2.5}, "who": "users/u1", "raw": "AAE=", "n": [1.0],
    }  # fmt: skip
    for fmt in ("csv", "ndjson", "json"):
        text = b"".join(encode(DATASETS["events"], fmt, [row])).decode()
        assert "e1" in text and "AAE=" in text  # the row was written, so NaN had its chance
        assert "NaN" not in text
    (parsed,) = json.loads(b"".join(encode(DATASETS["events"], "json", [row])).decode())
    assert parsed["amountUsd"] is None and parsed["properties"]["where"] == {"lat": 1.5, "lng": 2.5}


def test_a_failing_first_page_is_an_error_response_not_a_cut_file() -> None:
    class Broken(ListSource):
        def rows(self, dataset: Dataset, window: Window) -> Iterator[tuple[str, Mapping[str, Any]]]:
            raise RuntimeError("firestore unavailable")
            yield  # pragma: no cover

    board = dashboard(Broken({}))
    response = board.handle(
        Request("GET", "/export", {"dataset": "events"}, "Bearer tok-analytics")
    )
    assert not isinstance(response, StreamResponse)
    assert response.status == 500 and response.body["error"]["code"] == "internal"


def test_xlsx_rows_are_values_and_formulas_are_inert_text() -> None:
    from openpyxl import load_workbook

    docs = [generation(i) for i in range(4)]
    docs.append(generation(7, userId="=1+2", model="@SUM(A1)", resolution="plain"))
    board = dashboard(ListSource({"video_generation_metrics": docs}))
    response = export(board, dataset="generations", format="xlsx", window="24h")
    assert response.filename.endswith(".xlsx")
    assert response.content_type.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(b"".join(response.chunks)), read_only=True)
    rows = list(book["generations"].iter_rows())
    header = [c.value for c in rows[0]]
    assert header[:3] == ["generationId", "userId", "provider"]
    first = {h: c for h, c in zip(header, rows[1], strict=True)}
    assert first["userId"].value == "'=1+2" and first["userId"].data_type == "s"
    assert first["model"].value == "'@SUM(A1)" and first["resolution"].value == "plain"
    second = {h: c.value for h, c in zip(header, rows[2], strict=True)}
    assert second["costUsd"] == 0.75 and second["features"] == '["a","b"]'
    assert len(rows) == 6


def pdf_text(data: bytes) -> str:
    """The text drawn on a reportlab PDF's pages (content streams are deflated)."""
    import base64
    import re
    import zlib

    texts = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = stream.strip()
        if raw.endswith(b"~>"):  # ASCII85 around the deflated bytes
            raw = base64.a85decode(raw.removeprefix(b"<~").removesuffix(b"~>"))
        try:
            texts.append(zlib.decompress(raw).decode("latin-1"))
        except zlib.error:
            texts.append(raw.decode("latin-1"))
    return "".join(texts)


def test_pdf_is_a_readable_report_with_window_totals_and_a_bounded_table() -> None:
    docs = [generation(i, status="failed" if i % 5 == 0 else "completed") for i in range(2500)]
    board = dashboard(ListSource({"video_generation_metrics": docs}), cap=5000)
    response = export(board, dataset="generations", format="pdf", window="7d")
    data = b"".join(response.chunks)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert response.filename == "generations_20261117T1200Z_20261124T1200Z.pdf"
    text = pdf_text(data)
    assert "Generation report" in text and "Headline figures" in text
    assert "Rows: generations" in text
    assert "2026-11-17T12:00:00Z" in text and "2026-11-24T12:00:00Z" in text
    assert "2500 rows" in text and "completed: 2000" in text and "failed: 500" in text
    assert "first 2000 of 2500 rows" in text


class ArchiveList(ListSource):
    """The BigQuery side: the same filtering, under ArchivedRows' names."""

    def __init__(self, docs: dict[str, list[tuple[str, dict[str, Any]]]]) -> None:
        super().__init__(docs)
        self.asked: list[Window] = []

    def count_rows(self, dataset: Dataset, window: Window) -> int:
        self.asked.append(window)
        return self.count(dataset, window)

    def archived_rows(
        self, dataset: Dataset, window: Window
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        return self.rows(dataset, window)

    def aliases(self, users: frozenset[str]) -> frozenset[str]:
        return frozenset(f"pseudo-{u}" for u in users)


def test_rows_older_than_firestore_keeps_come_from_the_archive() -> None:
    """Retention keeps 10 days of raw records: a window across the horizon gets the archive's
    rows before it and Firestore's after it, each row once, oldest first, counted against the
    cap together (both stores overlap, as they do: BigQuery holds every day up to yesterday,
    Firestore a day past the horizon until TTL gets to it); rows of a user who opted out after
    their day was exported go out anonymised, pseudonymised ids included; without an archive
    the same window is a 400 naming `from`; alerts are never archived."""
    horizon = Retention(10, 760).raw_horizon(NOW)
    assert horizon == NOW - dt.timedelta(days=10)
    docs = [generation(i) for i in range(0, 16 * 24 * 60, 360)]  # every 6 h over 16 days
    exported = [
        (i, {**d, "userId": f"pseudo-{d['userId']}"})
        for i, d in docs
        if d["createdAt"] < NOW - dt.timedelta(days=1)
    ]
    kept = [d for d in docs if d[1]["createdAt"] >= horizon - dt.timedelta(days=1)]
    archive = ArchiveList({"video_generation_metrics": exported})
    firestore = ListSource({"video_generation_metrics": kept})
    late_opt_out = next(d["userId"] for _, d in docs if d["createdAt"] < horizon)
    firestore.opted_out.add(late_opt_out)
    store = FakeStore()
    clock = FixedClock(NOW)
    monitor = PerformanceMonitor(store)

    def board(archived: ArchiveList | None, cap: int = 1000) -> Dashboard:
        return Dashboard(ApiServices(
            AnalyticsEngine(store, monitor), clock, 400, verifier=verifier,
            exports=FileExports(firestore, max_rows=cap, archived=archived),
            retention=Retention(10, 760),
        ))  # fmt: skip

    window = {"from": (NOW - dt.timedelta(days=15)).isoformat(), "to": NOW.isoformat()}
    body = b"".join(export(board(archive), dataset="generations", format="csv", **window).chunks)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    inside = sorted(
        (d for d in docs if d[1]["createdAt"] >= NOW - dt.timedelta(days=15)),
        key=lambda d: d[1]["createdAt"],
    )
    assert [r["generationId"] for r in rows] == [i for i, _ in inside]  # each once, in order
    assert archive.asked == [Window(start=NOW - dt.timedelta(days=15), end=horizon)]
    users = {r["userId"] for r in rows}
    assert f"pseudo-{late_opt_out}" not in users and "opted-out" in users
    over = board(archive, cap=len(inside) - 1).handle(
        Request("GET", "/export", {"dataset": "generations", **window}, "Bearer tok-analytics")
    )
    assert json_response(over).status == 400  # both parts count against the cap
    refused = board(None).handle(
        Request("GET", "/export", {"dataset": "generations", **window}, "Bearer tok-analytics")
    )
    refusal = json_response(refused)
    assert refusal.status == 400
    assert refusal.body["error"]["message"].startswith("from: Firestore keeps raw")
    archive.asked = []
    alerts = export(board(archive), dataset="alerts", format="ndjson", **window)
    assert b"".join(alerts.chunks) == b""  # the whole file written: no alert in the window
    assert archive.asked == []


def test_recent_rows_carry_the_pseudonyms_archived_rows_carry() -> None:
    """With pseudonymisation on, a window across the horizon names each user by one id: the
    archive's rows hold the export's pseudonyms, Firestore's rows are pseudonymised with the
    same key on the way out; an opted-out user's rows from either store are anonymised, and the
    ids the pipeline already anonymised stay as they are."""
    key = b"k" * 32
    horizon = NOW - dt.timedelta(days=10)
    old = [generation(i, createdAt=horizon - dt.timedelta(hours=i + 1)) for i in range(3)]
    new = [generation(i, createdAt=horizon + dt.timedelta(hours=i + 1)) for i in range(3)]
    new.append(generation(7, userId="erased", createdAt=horizon + dt.timedelta(hours=5)))
    archive = ArchiveList({
        "video_generation_metrics": [(i, {**d, "userId": pseudonym(d["userId"], key)})
                                     for i, d in old],
    })  # fmt: skip
    firestore = ListSource({"video_generation_metrics": new})
    firestore.opted_out.add("u2")
    source = PseudonymisedSource(firestore, lambda: key)
    store, clock = FakeStore(), FixedClock(NOW)
    board = Dashboard(ApiServices(
        AnalyticsEngine(store, PerformanceMonitor(store)), clock, 400, verifier=verifier,
        exports=FileExports(source, archived=archive), retention=Retention(10, 760),
    ))  # fmt: skip
    window = {"from": (NOW - dt.timedelta(days=12)).isoformat(), "to": NOW.isoformat()}
    body = b"".join(export(board, dataset="generations", format="csv", **window).chunks)
    users = [r["userId"] for r in csv.DictReader(io.StringIO(body.decode()))]
    hidden = {"u0": pseudonym("u0", key), "u1": pseudonym("u1", key), "u2": "opted-out"}
    archived = [hidden[u] for u in ("u2", "u1", "u0")]  # oldest first
    assert users == [*archived, hidden["u0"], hidden["u1"], "opted-out", "erased"]
    assert PseudonymisedSource(firestore, lambda: None).opted_out_users() == {"u2"}
    plain = list(
        PseudonymisedSource(firestore, lambda: None).rows(
            DATASETS["generations"], Window(start=horizon, end=NOW)
        )
    )
    assert [d["userId"] for _, d in plain] == ["u0", "u1", "u2", "erased"]
