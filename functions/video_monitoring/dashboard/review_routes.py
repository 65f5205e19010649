"""Reviews over HTTP: `GET /reports?period=monthly|quarterly&from=YYYY-MM-DD` answers the review
of a whole calendar month or quarter as a PDF (readers), its figures read from BigQuery for the
days before the rollups' retention as every window read is."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from video_monitoring.analytics.digest_service import DigestService
from video_monitoring.analytics.review import file_name, review_period
from video_monitoring.dashboard.http import StreamResponse
from video_monitoring.dashboard.params import Prepared
from video_monitoring.dashboard.review_report import review_pdf
from video_monitoring.dashboard.routes import Call


class ReviewQuery(BaseModel):
    """`GET /reports`: which kind of review, and the first day of its period."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    period: Literal["monthly", "quarterly"]
    from_: str = Field(alias="from", description="the period's first day, YYYY-MM-DD")


def report(service: DigestService, call: Call) -> Prepared:
    """GET /reports: the period checked (whole, ended), then its review drawn as a PDF."""
    query: ReviewQuery = call.query
    period = review_period(query.period, query.from_, call.api.clock())

    def run() -> StreamResponse:
        pdf = review_pdf(service.review(period))
        return StreamResponse("application/pdf", file_name(period), iter([pdf]))

    return run
