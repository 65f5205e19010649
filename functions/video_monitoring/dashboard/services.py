"""What the API is served from: the analytics engine, the clock and limits always; alerts,
exports, export jobs, erasure, health, provider controls, digests, objectives, capacity,
recovery, the generation list, the audit log's reader and custom dashboards when configured (a
route whose service is None is not served)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from video_monitoring.alerting.manager import AlertManager
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.analytics.capacity import CapacityService
from video_monitoring.analytics.digest_service import DigestService
from video_monitoring.analytics.error_budgets import SloService
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.health import Health
from video_monitoring.analytics.recovery import RecoveryService
from video_monitoring.analytics.runtime import RuntimeService
from video_monitoring.config.settings import DashboardSettings, Target
from video_monitoring.core.audit_log import AuditTrail
from video_monitoring.core.clock import Clock
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.core.models import Window, rfc3339
from video_monitoring.dashboard.access import AuditLog, DenialCounter, Quota
from video_monitoring.dashboard.auth import Caller
from video_monitoring.dashboard.boards import Boards
from video_monitoring.dashboard.export_jobs import ExportJobs
from video_monitoring.dashboard.files import FileExports
from video_monitoring.dashboard.generation_list import GenerationList
from video_monitoring.dashboard.params import parse_window
from video_monitoring.dashboard.routes import RouteClass
from video_monitoring.privacy.erasure import ErasureReport
from video_monitoring.privacy.retention import DEFAULT_RETENTION, RAW, Retention


def _default_targets() -> dict[str, Target]:
    return DashboardSettings().targets()


@dataclass(frozen=True)
class ApiServices:
    """The services the routes are given, by their job."""

    engine: AnalyticsEngine
    clock: Clock
    max_window_days: int
    verifier: Callable[[str | None], Caller]
    alerts: AlertManager | None = None
    exports: FileExports | None = None
    audit: AuditLog | None = None
    eraser: Callable[[str], ErasureReport] | None = None
    retention: Retention = DEFAULT_RETENTION
    targets: Mapping[str, Target] = field(default_factory=_default_targets)
    health: Callable[[], Health] | None = None
    responder: ProviderResponder | None = None
    digests: DigestService | None = None
    slos: SloService | None = None
    quotas: Mapping[RouteClass, Quota] = field(default_factory=dict)
    denials: DenialCounter | None = None
    jobs: ExportJobs | None = None
    capacity: CapacityService | None = None
    generations: GenerationList | None = None
    runtime: RuntimeService | None = None  # the functions' own series on GET /system
    trail: AuditTrail | None = None  # reads the audit log (GET /audit-log)
    recovery: RecoveryService | None = None
    boards: Boards | None = None  # custom dashboards

    def window(self, params: Mapping[str, str], kept: str | None = None) -> Window:
        """The request's window; with `kept=RAW`, a 400 naming `from` when it starts before
        Firestore still keeps raw records, rather than answering with figures that silently
        miss data. Windows older than the aggregates are the engine's to answer (from
        BigQuery, or a 400 naming `from` when it is not configured)."""
        now = self.clock()
        window = parse_window(params, now, self.max_window_days)
        horizon = self.retention.raw_horizon(now)
        if kept == RAW and window.start < horizon:
            raise InvalidArgument(
                f"from: Firestore keeps raw records for {self.retention.raw_days} days "
                f"(since {rfc3339(horizon)}); older rows are in BigQuery (dataset video_monitoring)"
            )
        return window
