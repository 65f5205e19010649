"""Schemathesis, from openapi.yaml, against the dashboard on the local stack with an admin token:
every operation, generated positive and negative requests, and the answers checked for server
errors and for the status codes, content types and bodies openapi.yaml documents."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.stack import REPO_ROOT
from tests.integration.support import Stack, token

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# A fixed seed keeps CI repeatable; SCHEMATHESIS_SEED explores others, SCHEMATHESIS_SECONDS
# runs longer.
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261206")
SECONDS = os.environ.get("SCHEMATHESIS_SECONDS", "150")
CONFIG = Path(__file__).with_name("schemathesis.toml")

pytestmark = pytest.mark.integration


def test_every_operation_answers_as_documented(stack: Stack, tmp_path: Path) -> None:
    admin = token("admin", uid="schemathesis-admin", email="fuzz@example.com")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "--config-file", str(CONFIG),
            "--no-color",
            "run", str(REPO_ROOT / "openapi.yaml"),
            "--url", stack.url("video_analytics_dashboard"),
            "--header", f"Authorization: Bearer {admin}",
            "--checks", ",".join(CHECKS),
            "--workers", "1",
            "--seed", SEED,
            "--max-time", SECONDS,
            "--request-timeout", "60",
            "--report", "junit",
            "--report-dir", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=int(SECONDS) + 300,
        check=False,
    )  # fmt: skip
    summary = result.stdout[-6000:]
    assert result.returncode == 0, (
        f"schemathesis found failures:\n{summary}\n{result.stderr[-2000:]}"
    )
    assert "Tested: " in result.stdout, summary  # it did run the operations
