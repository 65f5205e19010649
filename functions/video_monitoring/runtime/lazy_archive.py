"""The BigQuery archive as the dashboard and the figures read it: its client created only when a
window older than Firestore keeps is asked for, and BigQuery failing a 503 naming it, not an
internal error."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError

from video_monitoring.adapters.bigquery import BigQueryWarehouse
from video_monitoring.alerting.backtest import StoredRun
from video_monitoring.core.errors import Unavailable
from video_monitoring.core.models import Window
from video_monitoring.dashboard.files import Dataset
from video_monitoring.ingest.bounds import DEFAULT_BOUNDS, Bounds
from video_monitoring.ingest.monitoring_store import UserActivity
from video_monitoring.ingest.rollup import Granularity
from video_monitoring.privacy.pseudonyms import pseudonym
from video_monitoring.warehouse.archive import Cells

log = logging.getLogger(__name__)


class ArchiveOnDemand:
    """TrendArchive and ArchivedRows on a warehouse made on first use."""

    def __init__(
        self, warehouse: Callable[[], BigQueryWarehouse], key: Callable[[], bytes | None]
    ) -> None:
        self._warehouse = warehouse
        self._key = key

    def trend_points(self, window: Window, granularity: Granularity) -> list[dict[str, Any]]:
        """Trend points of the window from BigQuery."""
        with _bigquery_answers():
            return self._warehouse().trend_points(window, granularity)

    def cells(self, window: Window, bounds: Bounds) -> Cells:
        """Generation rollup cells of the window, rebuilt in BigQuery."""
        with _bigquery_answers():
            return self._warehouse().cells(window, bounds)

    def event_cells(self, window: Window, bounds: Bounds) -> Cells:
        """Event rollup cells of the window, rebuilt in BigQuery."""
        with _bigquery_answers():
            return self._warehouse().event_cells(window, bounds)

    def count_rows(self, dataset: Dataset, window: Window) -> int:
        """Archived rows of an exported dataset in the window."""
        with _bigquery_answers():
            return self._warehouse().count_rows(dataset, window)

    def archived_rows(
        self, dataset: Dataset, window: Window
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Archived rows of an exported dataset in the window, streamed (the dashboard reads the
        first before answering, so a failing query is a 503, not a cut file)."""
        with _bigquery_answers():
            yield from self._warehouse().archived_rows(dataset, window)

    def user_days(
        self,
        start: dt.datetime,
        end: dt.datetime,
        excluded: frozenset[str],
        bounds: Bounds = DEFAULT_BOUNDS,
    ) -> list[UserActivity]:
        """User activity per day from BigQuery, the excluded users left out under their ids and,
        where the export pseudonymises, under their pseudonyms."""
        with _bigquery_answers():
            return self._warehouse().user_days(
                start, end, excluded | self.aliases(excluded), bounds
            )

    def session_events(
        self, start: dt.datetime, end: dt.datetime, excluded: frozenset[str]
    ) -> list[dict[str, Any]]:
        """Session events from BigQuery, the excluded users left out as in `user_days`."""
        with _bigquery_answers():
            return self._warehouse().session_events(start, end, excluded | self.aliases(excluded))

    def rule_runs(
        self, metric: str, window: str, start: dt.datetime, end: dt.datetime, kinds: Sequence[str]
    ) -> list[StoredRun]:
        """RunReader: a rule metric's stored runs from BigQuery (backtests beyond Firestore's
        retention)."""
        with _bigquery_answers():
            return self._warehouse().rule_runs(metric, window, start, end, kinds)

    def aliases(self, users: frozenset[str]) -> frozenset[str]:
        """The users' pseudonyms where the export pseudonymises (none otherwise)."""
        key = self._key()
        return frozenset(pseudonym(user, key) for user in users) if key else frozenset()


@contextlib.contextmanager
def _bigquery_answers() -> Iterator[None]:
    """BigQuery errors as a 503 `unavailable` naming BigQuery (logged with their detail)."""
    try:
        yield
    except (GoogleAPIError, GoogleAuthError, TimeoutError) as error:
        log.warning("BigQuery archive query failed: %s", error)
        raise Unavailable(
            f"bigquery: the archive did not answer ({type(error).__name__}); windows older "
            "than Firestore keeps are read from it, retry later"
        ) from error
