"""One error tree; the HTTP boundary maps it to status codes and a JSON body."""

from __future__ import annotations

import math


class MonitoringError(Exception):
    """Base of every error the system raises on purpose."""

    code = "internal"
    http_status = 500

    def headers(self) -> dict[str, str]:
        """HTTP headers the error's response carries (none by default)."""
        return {}


class InvalidArgument(MonitoringError):
    """A request parameter is malformed or out of range."""

    code = "invalid-argument"
    http_status = 400


class Unauthenticated(MonitoringError):
    """No token, or a token that does not verify."""

    code = "unauthenticated"
    http_status = 401


class PermissionDenied(MonitoringError):
    """A verified caller without the role the action needs."""

    code = "permission-denied"
    http_status = 403


class NotFound(MonitoringError):
    """No such path or resource."""

    code = "not-found"
    http_status = 404


class MethodNotAllowed(MonitoringError):
    """The path is served, but not for the request's method; `Allow` lists the methods it is."""

    code = "method-not-allowed"
    http_status = 405

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        """The methods the path answers."""
        return {"Allow": ", ".join(self.allowed)}


class RateLimited(MonitoringError):
    """Too many requests of one kind from one user; the message and `Retry-After` say when to
    retry."""

    code = "resource-exhausted"
    http_status = 429

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """Whole seconds until a request of the kind is allowed again (at least 1)."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class Conflict(MonitoringError):
    """The action does not apply to the resource's current state (e.g. acknowledging a resolved
    alert)."""

    code = "failed-precondition"
    http_status = 409


class ConfigError(MonitoringError, ValueError):
    """The system is misconfigured: a required setting is missing, or settings contradict each
    other; the message names the settings."""

    code = "misconfigured"
    http_status = 500


class Unavailable(MonitoringError):
    """A backing service failed part-way; the message says what was done and that a retry
    completes it."""

    code = "unavailable"
    http_status = 503


class DeadlineExceeded(MonitoringError):
    """A request's work ran past its deadline and was stopped before answering; the message
    names the parameter that makes it smaller."""

    code = "deadline-exceeded"
    http_status = 503
