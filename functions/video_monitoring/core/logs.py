"""Structured logs: one JSON object per line, in the shape Cloud Logging parses from a function's
stdout (`severity`, `message`, `logging.googleapis.com/labels`, `logging.googleapis.com/trace`),
set up once for every function.

Labels come from the context the handler runs in (`labelled(function=..., generation=...)`), so a
line deep in the pipeline still says which function and which generation it belongs to. Secrets
never reach a line: every configured secret value is replaced by `[redacted]` before it is
written, whatever the message or exception text says.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

_LABELS: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_labels", default=None
)
_TRACE: contextvars.ContextVar[str | None] = contextvars.ContextVar("log_trace", default=None)
SEVERITIES = {
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "CRITICAL": "CRITICAL",
}
REDACTED = "[redacted]"


@contextlib.contextmanager
def labelled(trace: str | None = None, **labels: str | None) -> Iterator[None]:
    """Every line logged inside carries these labels (None values are left out) and, when
    given, the trace (`projects/{project}/traces/{id}`)."""
    kept = {k: str(v) for k, v in labels.items() if v is not None}
    label_token = _LABELS.set({**(_LABELS.get() or {}), **kept})
    trace_token = _TRACE.set(trace) if trace is not None else None
    try:
        yield
    finally:
        _LABELS.reset(label_token)
        if trace_token is not None:
            _TRACE.reset(trace_token)


def trace_of(header: str | None, project: str) -> str | None:
    """The Cloud Logging trace name from an `X-Cloud-Trace-Context: TRACE/SPAN;o=1` header."""
    if not header:
        return None
    trace_id = header.split("/", 1)[0].strip()
    if not trace_id or not all(c in "0123456789abcdefABCDEF" for c in trace_id):
        return None
    return f"projects/{project}/traces/{trace_id}"


class CloudLoggingFormatter(logging.Formatter):
    """A record as one JSON line Cloud Logging understands."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is redacted whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        for secret in self._secrets:
            message = message.replace(secret, REDACTED)
        entry: dict[str, Any] = {
            "severity": SEVERITIES.get(record.levelname, "DEFAULT"),
            "message": message,
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "logger": record.name,
        }
        labels = _LABELS.get()
        if labels:
            entry["logging.googleapis.com/labels"] = labels
        trace = _TRACE.get()
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        entry["logging.googleapis.com/sourceLocation"] = {
            "file": record.pathname.rsplit("/", 1)[-1],
            "line": str(record.lineno),
            "function": record.funcName,
        }
        return json.dumps(entry, default=str)


def setup_logging(
    secrets: Iterable[str] = (), level: int = logging.INFO, stream: IO[str] | None = None
) -> None:
    """Route every logger to one JSON-lines handler on stdout (replacing earlier handlers)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(CloudLoggingFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
