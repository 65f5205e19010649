"""The API's routes as data: per route its method, path template, roles, query and body models,
rate-limit class, audit and handler. Matching (404, 405 with `Allow`), parameter and body
messages and the list of served paths all derive from these entries (dashboard/table.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from video_monitoring.core.errors import InvalidArgument, MethodNotAllowed, NotFound
from video_monitoring.dashboard.auth import READ_ROLES, Caller
from video_monitoring.dashboard.http import Request
from video_monitoring.dashboard.params import Prepared, json_body

if TYPE_CHECKING:
    from video_monitoring.dashboard.services import ApiServices

RouteClass = Literal["reads", "actions", "exports"]
ROUTE_CLASSES: tuple[RouteClass, ...] = ("reads", "actions", "exports")


class NoQuery(BaseModel):
    """A route that takes no query parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BodyModel(BaseModel):
    """A JSON body checked field by field; each field's description says what it accepts."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass
class Call:
    """One admitted request as a handler sees it: the checked path ids, query and body."""

    api: ApiServices
    request: Request
    caller: Caller | None
    path: Mapping[str, str]
    query: Any = None
    body: Any = None
    # What the audit entry keeps besides the outcome (audited routes only).
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def who(self) -> str:
        """The caller's uid as actions record it."""
        return (self.caller.uid if self.caller else "") or "unknown"


# Checks the request (ids, parameters) and returns the work to run once it is admitted; it is
# given the route's service (`Route.uses`), or the whole ApiServices when the route names none.
Handler = Callable[[Any, Call], Prepared]


@dataclass(frozen=True)
class Body:
    """A JSON object body: checked against `model`, or read by `parse` (a domain document with
    its own parser, given the call and the object); `required` false lets no body mean `{}`."""

    required: bool
    model: type[BodyModel] | None = None
    parse: Callable[[Call, dict[str, Any]], Any] | None = None

    def read(self, call: Call) -> Any:
        """The checked body, or a 400 naming the field and what it accepts."""
        data = json_body(call.request.body, optional=not self.required)
        if self.parse is not None:
            return self.parse(call, data)
        assert self.model is not None
        fields = self.model.model_fields
        unknown = sorted(set(data) - set(fields))
        if unknown:
            accepted = ", ".join(sorted(fields))
            raise InvalidArgument(f"{unknown[0]}: unknown field; accepted: {accepted}")
        try:
            return self.model.model_validate(data)
        except ValidationError as error:
            name = str(error.errors()[0]["loc"][0])
            raise InvalidArgument(f"{name}: expected {fields[name].description}") from None


@dataclass(frozen=True)
class Audit:
    """An audited action: the entry names `action` on `target(call)` with its outcome; with
    `record_body` the checked body's fields, with `before` and `after` the target's document
    before the change (given the route's service) and after it (from the answer's body)."""

    action: str
    target: Callable[[Call], str]
    record_body: bool = False
    before: Callable[[Any, Call], Any] | None = None
    after: Callable[[Any], Any] | None = None


def param(name: str) -> Callable[[Call], str]:
    """An audit target: the path id `name`."""
    return lambda call: call.path[name]


@dataclass(frozen=True)
class Route:
    """One operation of the API."""

    method: str
    path: str
    handler: Handler
    # The ApiServices field the route needs; the route is not served when it is None.
    uses: str | None = None
    # None: served without a token and unmetered (its answer is cached per instance).
    roles: frozenset[str] | None = READ_ROLES
    # The query's model; None: the route reads no parameters and ignores any given.
    query: type[BaseModel] | None = NoQuery
    body: Body | None = None
    audit: Audit | None = None
    rate_class: RouteClass | None = None

    @property
    def route_class(self) -> RouteClass:
        """What the request counts against: its own class, else reads (GET) or actions."""
        return self.rate_class or ("reads" if self.method == "GET" else "actions")

    def service(self, api: ApiServices) -> Any:
        """The service the handler is given."""
        return api if self.uses is None else getattr(api, self.uses)

    def check_query(self, params: Mapping[str, str]) -> BaseModel | None:
        """The query as its model, or a 400 naming the parameter and what it accepts."""
        if self.query is None:
            return None
        fields = query_fields(self.query)
        unknown = sorted(set(params) - set(fields))
        if unknown and not fields:
            raise InvalidArgument(f"{unknown[0]}: {self.path} takes no parameters")
        if unknown:
            accepted = ", ".join(sorted(fields))
            raise InvalidArgument(f"{unknown[0]}: unknown parameter; accepted: {accepted}")
        for name, (allowed, required) in fields.items():
            value = params.get(name)
            if value is None and required:
                accepts = f"; one of {', '.join(allowed)}" if allowed else ""
                raise InvalidArgument(f"{name}: required{accepts}")
            if value is not None and allowed and value not in allowed:
                raise InvalidArgument(
                    f"{name}: expected one of {', '.join(allowed)}; got {value!r}"
                )
        return self.query.model_validate(dict(params))


@functools.cache
def query_fields(model: type[BaseModel]) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Each query parameter by its name in the URL: its allowed values (none: any text) and
    whether it is required."""
    fields = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        listed = extra.get("enum")
        allowed = tuple(
            str(a)
            for a in (listed if isinstance(listed, list) else _flat_args(info.annotation))
            if isinstance(a, str)
        )
        fields[info.alias or name] = (allowed, info.is_required())
    return fields


def _flat_args(annotation: Any) -> list[Any]:
    args = get_args(annotation)
    if not args:
        return [annotation]
    return [leaf for arg in args for leaf in _flat_args(arg)]


def _segments_match(template: list[str], parts: list[str]) -> dict[str, str] | None:
    if len(template) != len(parts):
        return None
    ids = {}
    for t, p in zip(template, parts, strict=True):
        if t.startswith("{") and t.endswith("}") and p != "":
            ids[t[1:-1]] = p
        elif t != p:
            return None
    return ids


class RouteTable:
    """The served routes; a path's template and ids, or a 404 or 405."""

    def __init__(self, routes: Iterable[Route], path_checks: Mapping[str, Callable[[str], Any]]):
        self.routes = tuple(routes)
        self._checks = path_checks
        keys = [(r.method, r.path) for r in self.routes]
        if len(keys) != len(set(keys)):
            raise ValueError(f"routes listed twice: {sorted(k for k in keys if keys.count(k) > 1)}")

    def paths(self) -> set[str]:
        """Every path served, templated paths in OpenAPI form."""
        return {r.path for r in self.routes}

    def resolve(self, path: str, method: str) -> tuple[Route, dict[str, str]]:
        """The route a path and method name (literal segments win over `{id}` ones), or a 404;
        a 405 naming the allowed methods when the path does not answer `method`."""
        parts = path.strip("/").split("/")
        matches = {}
        for template in self.paths():
            ids = _segments_match(template.strip("/").split("/"), parts)
            if ids is not None:
                matches[template] = ids
        if not matches:
            raise NotFound(f"path: no endpoint {path!r}; see openapi.yaml for the API")
        template = max(matches, key=lambda t: sum(not s.startswith("{") for s in t.split("/")))
        on_path = [r for r in self.routes if r.path == template]
        allowed = tuple(r.method for r in on_path)
        if method not in allowed:
            raise MethodNotAllowed(
                f"method: {template} answers {', '.join(allowed)}, not {method[:16]!r}", allowed
            )
        return next(r for r in on_path if r.method == method), matches[template]

    def check_ids(self, ids: Mapping[str, str]) -> None:
        """Each path id checked by its name (a 404 or 400 naming it)."""
        for name, value in ids.items():
            self._checks[name](value)
