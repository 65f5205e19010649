"""The route table and openapi.yaml describe the same API, in both directions: paths, methods,
path ids, query parameters with their enums, request bodies and which routes need no token."""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from tests.unit.fakes import FakeStore, FixedClock
from tests.unit.test_dashboard import NOW, verifier
from tests.unit.test_openapi import SPEC
from video_monitoring.analytics.figures import AnalyticsEngine
from video_monitoring.analytics.performance import PerformanceMonitor
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.dashboard.app import ApiServices, Dashboard
from video_monitoring.dashboard.http import Request, Response
from video_monitoring.dashboard.routes import Route, query_fields
from video_monitoring.dashboard.table import PATH_CHECKS, ROUTES

METHODS = ("get", "put", "post", "patch", "delete")


def _parameters(spec: dict[str, Any], path: str, method: str) -> list[dict[str, Any]]:
    item = spec["paths"][path]
    found = []
    for p in item.get("parameters", []) + item[method].get("parameters", []):
        if "$ref" in p:
            p = spec["components"]["parameters"][p["$ref"].split("/")[-1]]
        found.append(p)
    return found


def _query_differences(spec: dict[str, Any], route: Route, where: str) -> list[str]:
    documented = {
        p["name"]: (tuple(p.get("schema", {}).get("enum", ())), bool(p.get("required")))
        for p in _parameters(spec, route.path, route.method.lower())
        if p["in"] == "query"
    }
    served = query_fields(route.query) if route.query is not None else {}
    problems = [f"{where}: query {n} not in openapi" for n in served.keys() - documented.keys()]
    problems += [f"{where}: query {n} not in the table" for n in documented.keys() - served.keys()]
    for name in served.keys() & documented.keys():
        if served[name] != documented[name]:
            problems.append(
                f"{where}: query {name} is {served[name]}, documented {documented[name]}"
            )
    return problems


def _body_differences(spec: dict[str, Any], route: Route, where: str) -> list[str]:
    documented = spec["paths"][route.path][route.method.lower()].get("requestBody")
    if (documented is None) != (route.body is None):
        return [f"{where}: request body in one of openapi and the table only"]
    if documented is None or route.body is None:
        return []
    problems = []
    if bool(documented.get("required")) != route.body.required:
        problems.append(f"{where}: body required {route.body.required} in the table")
    schema = documented["content"]["application/json"]["schema"]
    if route.body.model is not None:
        fields = route.body.model.model_fields
        if set(schema.get("properties", {})) != set(fields):
            problems.append(f"{where}: body fields {sorted(fields)} in the table")
        required = {n for n, f in fields.items() if f.is_required()}
        if set(schema.get("required", [])) != required:
            problems.append(f"{where}: body requires {sorted(required)} in the table")
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: the table refuses unknown body fields")
    return problems


def differences(spec: dict[str, Any], routes: tuple[Route, ...]) -> list[str]:
    """Every way the table and the spec disagree (none when they describe the same API)."""
    documented = {
        (path, method.upper()) for path, item in spec["paths"].items() for method in item
        if method in METHODS
    }  # fmt: skip
    table = {(r.path, r.method): r for r in routes}
    problems = [f"{m} {p}: in the table, not in openapi" for p, m in table.keys() - documented]
    problems += [f"{m} {p}: in openapi, not in the table" for p, m in documented - table.keys()]
    for (path, method), route in sorted(table.items()):
        if (path, method) not in documented:
            continue
        where = f"{method} {path}"
        ids = {p["name"] for p in _parameters(spec, path, method.lower()) if p["in"] == "path"}
        if ids != set(re.findall(r"{(\w+)}", path)):
            problems.append(f"{where}: path ids {sorted(ids)} documented")
        security = spec["paths"][path][method.lower()].get("security")
        if (route.roles is None) != (security is not None and {} in security):
            problems.append(f"{where}: a token is needed in one of openapi and the table only")
        problems += _query_differences(spec, route, where)
        problems += _body_differences(spec, route, where)
    return problems


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return dict(yaml.safe_load(SPEC.read_text()))


def test_the_table_is_the_documented_api(spec: dict[str, Any]) -> None:
    assert differences(spec, ROUTES) == []
    every_id = {i for r in ROUTES for i in re.findall(r"{(\w+)}", r.path)}
    assert every_id == set(PATH_CHECKS)  # each path id is checked by its name


def test_a_difference_in_either_direction_is_named(spec: dict[str, Any]) -> None:
    changed = copy.deepcopy(spec)
    del changed["paths"]["/slos/{sloId}"]["put"]
    changed["paths"]["/trends"]["get"]["parameters"][4]["schema"]["enum"].remove("day")
    suppress = changed["paths"]["/alerts/{alertId}/suppress"]["post"]["requestBody"]
    del suppress["content"]["application/json"]["schema"]["properties"]["note"]
    changed["paths"]["/digest"]["get"]["parameters"].append(
        {"name": "format", "in": "query", "schema": {"type": "string"}}
    )
    changed["paths"]["/me/digests"]["post"] = changed["paths"]["/me/digests"]["put"]
    assert sorted(differences(changed, ROUTES)) == [
        "GET /digest: query format not in the table",
        "GET /trends: query granularity is (('minute', 'hour', 'day'), False), documented "
        "(('minute', 'hour'), False)",
        "POST /alerts/{alertId}/suppress: body fields ['minutes', 'note'] in the table",
        "POST /me/digests: in openapi, not in the table",
        "PUT /slos/{sloId}: in the table, not in openapi",
    ]


def test_a_route_whose_service_is_absent_is_not_served() -> None:
    store = FakeStore()
    clock = FixedClock(NOW)
    engine = AnalyticsEngine(store, PerformanceMonitor(store))
    board = Dashboard(ApiServices(engine, clock, 400, verifier=verifier))
    assert board.paths() == {r.path for r in ROUTES if r.uses is None}
    response = board.handle(Request("GET", "/slos", {}, "Bearer tok-admin"))
    assert isinstance(response, Response) and response.status == 404


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["a", "b"] | None = None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "name: required"),
        ({"name": "x", "kind": "c"}, "kind: expected one of a, b; got 'c'"),
        ({"name": "x", "other": "1"}, "other: unknown parameter; accepted: kind, name"),
    ],
)
def test_query_messages_name_the_parameter_and_what_it_accepts(
    params: dict[str, str], message: str
) -> None:
    route = Route("GET", "/thing", lambda service, call: lambda: None, query=_Query)
    with pytest.raises(InvalidArgument) as refused:
        route.check_query(params)
    assert str(refused.value) == message
    bare = Route("GET", "/thing", lambda service, call: lambda: None)
    with pytest.raises(InvalidArgument, match=r"^x: /thing takes no parameters$"):
        bare.check_query({"x": "1"})
    assert route.check_query({"name": "x", "kind": "b"}) == _Query(name="x", kind="b")
