"""One error tree; the HTTP boundary maps it to status codes and a JSON body."""

from __future__ import annotations


class MonitoringError(Exception):
    """Base of every error the system raises on purpose."""

    code = "internal"
    http_status = 500


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


class RateLimited(MonitoringError):
    """Too many requests of one kind from one user; the message says when to retry."""

    code = "resource-exhausted"
    http_status = 429


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
