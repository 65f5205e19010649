"""The API's paths as a table: which methods each path answers (others get a 405 with `Allow`)
and the class its per-caller rate limit counts under (reads, actions, exports)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

from video_monitoring.core.errors import MethodNotAllowed, NotFound
from video_monitoring.dashboard.auth import Caller

# Spends one of the caller's tokens of the request's route class (or raises RateLimited); a
# route calls it once the request is valid and allowed, before it reads or writes anything.
Admit = Callable[[], None]
# Records an admin action with its outcome around its body (Dashboard._audited).
Audited = Callable[[Caller, str, str], AbstractContextManager[dict[str, Any]]]
RouteClass = Literal["reads", "actions", "exports"]
ROUTE_CLASSES: tuple[RouteClass, ...] = ("reads", "actions", "exports")
# Paths answering more than GET, or other than GET; every other served path answers GET only.
METHODS: dict[str, tuple[str, ...]] = {
    "/alert-rules/{ruleId}": ("GET", "PUT"),
    "/alerts/{alertId}/acknowledge": ("POST",),
    "/alerts/{alertId}/resolve": ("POST",),
    "/alerts/{alertId}/suppress": ("POST",),
    "/capacity/{provider}": ("PUT",),
    "/me/digests": ("GET", "PUT"),
    "/provider-controls/{provider}/pause": ("POST",),
    "/provider-controls/{provider}/release": ("POST",),
    "/slos/{sloId}": ("GET", "PUT"),
    "/users/{userId}/erase": ("POST",),
}
# Served without a token: no caller to count it against (its answer is cached per instance).
UNMETERED = frozenset({"/health"})


@dataclass(frozen=True)
class Route:
    """A served path template and the request's method on it."""

    template: str
    method: str

    @property
    def route_class(self) -> RouteClass:
        """What the request counts against: exports, actions (any write) or reads."""
        if self.template == "/export":
            return "exports"
        return "reads" if self.method == "GET" else "actions"


def _segments_match(template: list[str], parts: list[str]) -> bool:
    return len(template) == len(parts) and all(
        t == p or (t.startswith("{") and t.endswith("}") and p != "")
        for t, p in zip(template, parts, strict=True)
    )


def resolve(path: str, method: str, served: Iterable[str]) -> Route:
    """The served template a path names (literal segments win over `{id}` ones), or a 404; a
    405 naming the allowed methods when the template does not answer `method`."""
    parts = path.strip("/").split("/")
    matches = [t for t in served if _segments_match(t.strip("/").split("/"), parts)]
    if not matches:
        raise NotFound(f"path: no endpoint {path!r}; see openapi.yaml for the API")
    template = max(matches, key=lambda t: sum(not s.startswith("{") for s in t.split("/")))
    allowed = METHODS.get(template, ("GET",))
    if method not in allowed:
        raise MethodNotAllowed(
            f"method: {template} answers {', '.join(allowed)}, not {method[:16]!r}", allowed
        )
    return Route(template, method)
