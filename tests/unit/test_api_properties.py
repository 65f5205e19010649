"""Property tests of the dashboard API over every path id and query parameter: never a 5xx,
always the documented JSON error body (405 with `Allow`), and nothing written (no audit entry,
no rate-limit token, no store write) by a request that did not pass validation."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import pathlib
import re
import string
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.board_fakes import DictBoards
from tests.unit.generation_fakes import ListGenerations
from tests.unit.queue_fakes import FakeQueue
from tests.unit.test_access import ListAudit
from tests.unit.test_alert_manager import World, degraded_world
from tests.unit.test_capacity import jobs as queue_jobs
from tests.unit.test_dashboard import verifier
from tests.unit.test_digest import MemoryStore
from tests.unit.test_export import NOW, ListSource, generation
from tests.unit.test_export_jobs import DictFiles, DictJobs
from tests.unit.test_openapi import SPEC, _validator, fake_eraser, healthy_check
from tests.unit.test_slo import FakeObjectiveStore
from video_monitoring.alerting.actions import AlertQuery
from video_monitoring.alerting.controls import GuardRails
from video_monitoring.alerting.responder import ProviderResponder
from video_monitoring.alerting.rules import RULE_ID
from video_monitoring.analytics.capacity import CapacityService
from video_monitoring.analytics.digest_service import DigestService, DigestSources
from video_monitoring.analytics.error_budgets import SloService
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.queue import QueueService
from video_monitoring.analytics.recovery import RecoveryService
from video_monitoring.config.settings import DashboardSettings
from video_monitoring.core.models import PROVIDER_PATTERN, Window
from video_monitoring.dashboard.access import Bucket, Quota, take_token
from video_monitoring.dashboard.alert_routes import ALERT_ID
from video_monitoring.dashboard.app import ApiServices, Dashboard, FileExports
from video_monitoring.dashboard.audit_routes import encode_cursor
from video_monitoring.dashboard.board_specs import DASHBOARD_ID
from video_monitoring.dashboard.boards import Boards
from video_monitoring.dashboard.export_jobs import JOB_ID, ExportJobs, JobRequest, queue_job
from video_monitoring.dashboard.generation_list import GenerationList
from video_monitoring.dashboard.http import Request, Response, StreamResponse
from video_monitoring.privacy.erasure import USER_ID
from video_monitoring.privacy.pseudonyms import ANONYMOUS

SPEC_DOC = yaml.safe_load(SPEC.read_text())
# What each path id must be; anything else is refused before anything is read or written.
ID_VALID: dict[str, Callable[[str], bool]] = {
    "alertId": lambda v: ALERT_ID.fullmatch(v) is not None,
    "ruleId": lambda v: RULE_ID.fullmatch(v) is not None,
    "sloId": lambda v: RULE_ID.fullmatch(v) is not None,
    "provider": lambda v: re.fullmatch(PROVIDER_PATTERN, v) is not None,
    "userId": lambda v: USER_ID.fullmatch(v) is not None and v not in ANONYMOUS,
    "jobId": lambda v: JOB_ID.fullmatch(v) is not None,
    "dashboardId": lambda v: DASHBOARD_ID.fullmatch(v) is not None,
}
# A body each write accepts, so a refusal can only come from the path, the query or the role.
BODIES = {
    "/alerts/{alertId}/suppress": {"minutes": 30},
    "/alert-rules/{ruleId}": "RULE",
    "/alert-rules": "RULE",
    "/alert-rules/backtest": "RULE",
    "/slos/{sloId}": {"sli": "success", "target": 0.99},
    "/me/digests": {"weekly": True},
    "/provider-controls/{provider}/pause": {"reason": "test", "minutes": 5},
    "/capacity/{provider}": {"maxConcurrent": 3},
    "/dashboards/{dashboardId}": {"title": "Ops", "panels": [{"figure": "successRate"}]},
}


class CountingLimiter:
    """A limiter that never refuses and counts the tokens taken."""

    def __init__(self) -> None:
        self.taken = 0
        self.buckets: dict[str, Bucket] = {}

    def take(self, key: str, now: dt.datetime) -> float | None:
        self.taken += 1
        self.buckets[key], wait = take_token(self.buckets.get(key), now, 10**9, dt.timedelta(1))
        return wait


class Api:
    """Every service of the dashboard over unit fakes, with every write counted."""

    def __init__(self) -> None:
        world: World = degraded_world()
        world.tick()
        world.tick()
        self.world = world
        self.audit = ListAudit()
        self.limiter = CountingLimiter()
        self.writes = 0
        objectives = FakeObjectiveStore()
        digests = MemoryStore()
        boards = DictBoards()
        queue = FakeQueue(queue_jobs())
        engine = AnalyticsEngine(world.store, world.monitor)
        jobs = ExportJobs(DictJobs(), DictFiles())
        window = Window(start=NOW - dt.timedelta(days=1), end=NOW)
        self.job_id = queue_job(
            jobs, JobRequest("tok-admin", "admin", "generations", "csv", window, 3), NOW
        )
        self.dashboard = Dashboard(ApiServices(
            engine, world.clock, 400, verifier=verifier, alerts=world.manager,
            exports=FileExports(
                ListSource({"video_generation_metrics": [generation(i) for i in range(3)]})
            ),
            audit=self.audit,
            trail=self.audit,
            eraser=self._count(fake_eraser),
            health=healthy_check(world.clock),
            responder=ProviderResponder(world.alerts, None, GuardRails(), world.clock),
            digests=DigestService(
                DigestSources(
                    engine,
                    lambda s, e: world.manager.actions.alerts(AlertQuery(s, e))["history"],
                    lambda r, s, e, p: world.manager.rule_book.backtest(r, s, e, None, p),
                ),
                digests, DashboardSettings().targets(), lambda r, d: None, accounts=None,
            ),
            slos=SloService(objectives, world.monitor, world.clock),
            jobs=jobs,
            capacity=CapacityService(
                queue, QueueService(queue, ("pika", "runway")), world.monitor.cells, world.clock
            ),
            generations=GenerationList(ListGenerations([generation(i) for i in range(3)])),
            recovery=RecoveryService(world.store, clock=world.clock),
            boards=Boards(boards, world.clock),
            quotas={
                name: Quota(self.limiter, 10**9, dt.timedelta(minutes=1))
                for name in ("reads", "actions", "exports")
            },
        ))  # fmt: skip
        writers = {
            world.alerts: ("put_rule", "transact", "claim_notification", "finish_notification",
                           "write_system_metrics", "transact_controls", "seed_rules",
                           "create_rule", "delete_rule"),
            world.store: ("reconcile", "put_daily_snapshot"),
            objectives: ("put", "seed"),
            digests: ("claim", "finish", "subscribe"),
            jobs.store: ("create", "claim", "settle"),
            queue: ("put_capacity",),
            boards: ("change", "remove"),
        }  # fmt: skip
        for target, names in writers.items():
            for name in names:
                setattr(target, name, self._count(getattr(target, name)))
        rule = world.alerts.rules["slow_generation"].to_doc()
        self.rule_body = {k: v for k, v in rule.items() if k != "ruleId"}

    def _count(self, write: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(write)
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            return write(*args, **kwargs)

        return counted

    def side_effects(self) -> tuple[int, int, int]:
        """Audit entries, tokens taken and store writes so far."""
        return len(self.audit.entries), self.limiter.taken, self.writes


@pytest.fixture(scope="module")
def api() -> Api:
    return Api()


def operations() -> list[tuple[str, str]]:
    """Every documented (path, method)."""
    return [
        (path, method.upper())
        for path, item in SPEC_DOC["paths"].items()
        for method in item
        if method in ("get", "put", "post")
    ]


def query_names(path: str, method: str) -> list[str]:
    """The documented query parameters of an operation."""
    operation = SPEC_DOC["paths"][path][method.lower()]
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


# Text an attacker might send: anything, and the near misses (a valid value plus a newline,
# a control character, a percent sign or a slash).
NASTY = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.ascii_lowercase + "_0123456789", min_size=1, max_size=12).flatmap(
        lambda ok: st.sampled_from([ok, ok + "\n", ok + "\r\n", "\n" + ok, ok + "\x00", ok + "/x",
                                    ok + "%0A", ok.upper(), "__" + ok])
    ),
    st.sampled_from(["", " ", "\n", "24h\n", "runway\n", "2026-11-24T10:00:00Z\n", "1e999",
                     "NaN", "-1", "99999999999", "generations\n", "csv\n"]),
)  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], dict[str, str], str | None]:
    """A request to a documented operation with drawn ids, query values and token."""
    path, method = draw(st.sampled_from(operations()))
    ids = {name: draw(NASTY) for name in re.findall(r"{(\w+)}", path)}
    names = query_names(path, method)
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    params = {name: draw(NASTY) for name in chosen}
    if draw(st.booleans()):
        params[draw(st.text(min_size=1, max_size=10))] = draw(NASTY)
    token = draw(st.sampled_from(["tok-admin", "tok-admin", "tok-analytics", "tok-user", None]))
    return path, method, ids, params, token


def send(
    api: Api, method: str, url: str, params: dict[str, str], token: str | None, body: Any
) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    header = None if token is None else f"Bearer {token}"
    return api.dashboard.handle(Request(method, url, params, header, raw))


ERROR = _validator(SPEC_DOC, {"$ref": "#/components/schemas/Error"})


def check_error(response: Response) -> None:
    """An error answer is the documented JSON error, with its headers."""
    ERROR.validate(json.loads(response.text()))
    if response.status == 405:
        assert response.headers["Allow"]
    if response.status == 429:
        assert int(response.headers["Retry-After"]) >= 1


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=requests())
def test_no_5xx_and_no_side_effect_before_validation(api: Api, drawn: Any) -> None:
    path, method, ids, params, token = drawn
    url = path
    for name, value in ids.items():
        url = url.replace("{" + name + "}", value)
    body = BODIES.get(path) if method != "GET" else None
    if body == "RULE":
        body = api.rule_body
    before = api.side_effects()
    response = send(api, method, url, params, token, body)
    if isinstance(response, StreamResponse):
        assert response.status == 200 and b"".join(response.chunks)
        return
    assert response.status < 500, (method, url, params, response.body)
    if response.status >= 400:
        check_error(response)
    if all(v and "/" not in v for v in ids.values()):  # the path names this operation
        documented = SPEC_DOC["paths"][path][method.lower()]["responses"]
        assert str(response.status) in documented, (method, url, params, response.body)
    # (A 2xx answered the path the ids spelled: an empty id or one holding "/" names another.)
    ids_valid = all(ID_VALID[name](value) for name, value in ids.items())
    if response.status in (400, 401, 403, 405) or (response.status >= 400 and not ids_valid):
        assert api.side_effects() == before, (method, url, params, response.body)


@pytest.mark.parametrize(("path", "method"), operations())
def test_an_id_or_value_with_a_trailing_newline_is_refused_untouched(
    api: Api, path: str, method: str
) -> None:
    """The near miss that `$` lets through: a valid value followed by a newline."""
    valid = {"alertId": next(iter(api.world.alerts.instances)), "ruleId": "slow_generation",
             "sloId": "generation_success", "provider": "pika", "userId": "u-1",
             "jobId": api.job_id.job_id, "dashboardId": "ops"}  # fmt: skip
    names = re.findall(r"{(\w+)}", path)
    cases: list[tuple[str, dict[str, str]]] = []
    for name in names:
        url = path
        for other in names:
            url = url.replace("{" + other + "}", valid[other] + ("\n" if other == name else ""))
        cases.append((url, {}))
    url = path
    for name in names:
        url = url.replace("{" + name + "}", valid[name])
    for name in query_names(path, method):
        good = {"provider": "pika", "window": "24h", "dataset": "generations", "format": "csv",
                "rule": "slow_generation", "period": "weekly", "status": "open", "limit": "5",
                "severity": "warning", "granularity": "hour", "metric": "total", "horizon": "2",
                "from": "2026-11-24T09:00:00Z", "to": "2026-11-24T10:00:00Z", "threshold": "1",
                "pagesPerWeek": "1", "errorCode": "timeout", "actor": "tok-admin",
                "action": "rule.update", "about": "system",
                "cursor": encode_cursor(NOW, "e000001") if path == "/audit-log" else "e30",
                }[name]  # fmt: skip
        base = {"dataset": "generations"} if path == "/export" else {}
        cases.append((url, base | {name: good + "\n"}))
    body = BODIES.get(path) if method != "GET" else None
    if body == "RULE":
        body = api.rule_body
    for url, params in cases:
        before = api.side_effects()
        response = send(api, method, url, params, "tok-admin", body)
        assert isinstance(response, Response), (url, params)
        assert response.status in (400, 404), (url, params, response.status, response.body)
        check_error(response)
        assert api.side_effects() == before, (url, params)


@pytest.mark.parametrize(("path", "method"), operations())
def test_other_methods_get_a_405_naming_the_allowed_ones(api: Api, path: str, method: str) -> None:
    allowed = tuple(r.method for r in api.dashboard.table.routes if r.path == path)
    assert set(allowed) == {m.upper() for m in SPEC_DOC["paths"][path] if m != "parameters"}
    url = re.sub(r"{\w+}", "x", path)
    for other in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
        if other in allowed:
            continue
        before = api.side_effects()
        response = send(api, other, url, {}, "tok-admin", None)
        assert isinstance(response, Response)
        assert response.status == 405, (other, url, response.body)
        assert response.headers == {"Allow": ", ".join(allowed)}
        check_error(response)
        assert api.side_effects() == before


def test_unknown_paths_stay_a_json_404(api: Api) -> None:
    for url in ("/nope", "/alerts/a/b/c", "/summary/x", "/alerts/x/explode",
                "/slos/a/b", "/users/u-1", "/provider-controls/pika"):  # fmt: skip
        response = send(api, "GET", url, {}, "tok-admin", None)
        assert isinstance(response, Response) and response.status == 404, url
        check_error(response)


FUNCTIONS_DIR = pathlib.Path(__file__).resolve().parents[2] / "functions"
PROBE = """
import json, functions_framework
app = functions_framework.create_app(target="video_analytics_dashboard", source="main.py")
client = app.test_client()
answers = {}
for url in ["/alerts/a%0A", "/alerts/a%0A/acknowledge", "/nope%0A", "/summary%0A"]:
    r = client.get(url)
    answers[url] = [r.status_code, r.content_type, r.get_data(as_text=True)]
print(json.dumps(answers))
"""


def test_a_path_holding_a_newline_gets_the_apis_json_answer_in_the_functions_framework() -> None:
    """The framework's `<path:path>` rule refuses a newline; main.py hands such a request to
    the dashboard instead of Flask's HTML 404 page."""
    env = {k: v for k, v in os.environ.items() if k not in ("K_SERVICE", "FUNCTION_TARGET")}
    env.update(
        FUNCTION_TARGET="video_analytics_dashboard", FUNCTIONS_EMULATOR="true",
        FIRESTORE_EMULATOR_HOST="127.0.0.1:9", GCLOUD_PROJECT="demo-probe",
        PYTHONPATH=str(FUNCTIONS_DIR),
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=FUNCTIONS_DIR, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    # No token: a served path asks for one; the path is checked first (404, 405).
    expected = {"/alerts/a%0A": 401, "/alerts/a%0A/acknowledge": 405, "/nope%0A": 404,
                "/summary%0A": 404}  # fmt: skip
    for url, (status, content_type, text) in answers.items():
        assert content_type == "application/json", (url, text)
        ERROR.validate(json.loads(text))
        assert status == expected[url], (url, text)
