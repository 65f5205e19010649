"""Structured logs: JSON lines Cloud Logging parses, with severity, the handler's labels, the
request's trace and no secret, from the one setup every deployed function uses."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from video_monitoring.core.logs import labelled, setup_logging, trace_of

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
SECRET = "https://hooks.slack.example/T000/B000/very-secret-token"


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_line_with_severity_labels_and_trace() -> None:
    out = io.StringIO()
    setup_logging(secrets=[SECRET], stream=out)
    log = logging.getLogger("video_monitoring.test")
    try:
        log.info("plain")
        trace = trace_of("105445aa7843bc8bf206b12000100000/1;o=1", "acme-video")
        with labelled(trace=trace, function="on_generation_written", generation="g-1"):
            log.warning("posting to %s failed", SECRET)
            with labelled(alert="low_success_rate__overall"):
                try:
                    raise RuntimeError(f"refused by {SECRET}")
                except RuntimeError:
                    log.exception("delivery failed")
        log.error("after")
    finally:
        logging.getLogger().handlers.clear()
    first, warning, error, after = lines(out)
    assert first["severity"] == "INFO" and first["message"] == "plain"
    assert "logging.googleapis.com/labels" not in first
    assert warning["severity"] == "WARNING"
    assert warning["message"] == "posting to [redacted] failed"
    assert warning["logging.googleapis.com/labels"] == {
        "function": "on_generation_written", "generation": "g-1",
    }  # fmt: skip
    assert warning["logging.googleapis.com/trace"] == (
        "projects/acme-video/traces/105445aa7843bc8bf206b12000100000"
    )
    assert error["severity"] == "ERROR"
    assert error["logging.googleapis.com/labels"]["alert"] == "low_success_rate__overall"
    assert "RuntimeError: refused by [redacted]" in error["message"]
    assert SECRET not in out.getvalue()
    assert "logging.googleapis.com/labels" not in after  # the context ended
    assert after["logging.googleapis.com/sourceLocation"]["function"].startswith("test_each")


def test_a_bad_trace_header_is_ignored() -> None:
    assert trace_of(None, "p") is None
    assert trace_of("not-hex/1", "p") is None


def test_a_deployed_function_logs_json_lines_without_its_secrets() -> None:
    """`import main` as Cloud Functions does (K_SERVICE set, no emulator), then a handler's
    log line: stdout holds JSON only, the Slack URL redacted."""
    env = {
        k: v for k, v in os.environ.items()
        if k != "FUNCTIONS_EMULATOR" and not k.endswith("_EMULATOR_HOST")
    }  # fmt: skip
    env.update(
        K_SERVICE="aggregate-and-alert", GCLOUD_PROJECT="acme-video",
        DASHBOARD_BASE_URL="https://monitor.acme.example", SLACK_WEBHOOK_URL=SECRET,
        PYTHONPATH=str(FUNCTIONS_DIR),
    )  # fmt: skip
    code = (
        "import logging, main\n"
        "from video_monitoring.core.logs import labelled\n"
        "with labelled(function='aggregate_and_alert'):\n"
        f"    logging.getLogger('video_monitoring.x').warning('slack at %s', {SECRET!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=FUNCTIONS_DIR, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    parsed = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    mine = [p for p in parsed if p["logger"] == "video_monitoring.x"]
    assert mine and mine[0]["message"] == "slack at [redacted]"
    assert mine[0]["logging.googleapis.com/labels"] == {"function": "aggregate_and_alert"}
    assert SECRET not in done.stdout + done.stderr


def test_deliveries_log_with_the_alert_and_the_callers_labels() -> None:
    """Notification deliveries run in worker threads: their lines still carry the function's
    label, plus the alert and channel they are about."""
    from tests.unit.test_alert_manager import degraded_world

    out = io.StringIO()
    setup_logging(stream=out)
    try:
        world = degraded_world()
        with labelled(function="aggregate_and_alert"):
            world.tick()
            world.tick()
    finally:
        logging.getLogger().handlers.clear()
    delivered = [
        line for line in lines(out) if "delivered" in line["message"]
    ]  # fmt: skip
    assert delivered
    for line in delivered:
        labels = line["logging.googleapis.com/labels"]
        assert labels["function"] == "aggregate_and_alert"
        assert labels["alert"] in line["message"] and labels["channel"] in line["message"]
