"""The functions' runtime series from the local functions host (`GET /__/runtime`), which
records them for the functions it runs as Cloud Monitoring does for deployed ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from video_monitoring.analytics.runtime import FunctionRuntime, RuntimeFigures, RuntimeUnavailable

TIMEOUT_SECONDS = 10.0


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def parse_answer(start: dt.datetime, end: dt.datetime, body: dict[str, Any]) -> RuntimeFigures:
    """RuntimeFigures from the host's JSON answer."""
    functions = [
        FunctionRuntime(
            str(row["function"]),
            int(row["executions"]),
            int(row["errors"]),
            _optional_float(row.get("p95Ms")),
            _optional_float(row.get("activeInstances")),
        )
        for row in body["functions"]
    ]
    reads, writes = _optional_int(body.get("firestoreReads")), body.get("firestoreWrites")
    return RuntimeFigures(start, end, functions, reads, _optional_int(writes))


class LocalHostSeries:
    """`RuntimeSeries` over the local functions host: one GET per window."""

    source = "local"

    def __init__(self, url: str) -> None:
        self._url = url
        self._session = requests.Session()

    def read(self, start: dt.datetime, end: dt.datetime) -> RuntimeFigures:
        """The host's records over [start, end)."""
        params = {"start": start.isoformat(), "end": end.isoformat()}
        try:
            response = self._session.get(self._url, params=params, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
            body = response.json()
            return parse_answer(start, end, body)
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            raise RuntimeUnavailable(f"local functions host {self._url}: {error}") from error
