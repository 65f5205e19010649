"""The local functions host's runtime records (local_stack/runtime_log.py) and the choice of
the runtime series from the settings (runtime/bootstrap.py), with a hand-driven clock."""

from __future__ import annotations

import datetime as dt

import pytest

from local_stack.runtime_log import RuntimeLog
from video_monitoring.adapters.cloud_monitoring import CloudMonitoringSeries
from video_monitoring.adapters.local_runtime import LocalHostSeries, parse_answer
from video_monitoring.config.settings import RuntimeSettings
from video_monitoring.core.errors import ConfigError
from video_monitoring.runtime.bootstrap import runtime_series

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


class Clock:
    """Epoch seconds, moved by hand."""

    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


def test_invocations_errors_p95_peaks_and_store_operations_by_window() -> None:
    clock, ops = Clock(), [(100, 10)]
    log = RuntimeLog(["f", "g"], lambda: ops[-1], clock)
    # Minute 0: f runs 20 times, 10 ms .. 200 ms, the last two failing; two at once at most.
    for n in range(1, 21):
        started = log.started("f")
        if n == 5:
            overlapping = log.started("f")
            log.finished("f", overlapping, ok=True)
        clock.now += n / 100
        ops.append((ops[-1][0] + 3, ops[-1][1] + 1))
        log.finished("f", started, ok=n < 19)
    clock.now = T0.timestamp() + 90  # minute 1: g once
    log.finished("g", log.started("g"), ok=True)
    minute = log.figures(T0, T0 + dt.timedelta(minutes=1))
    f, g = minute["functions"]
    assert (f["function"], f["executions"], f["errors"]) == ("f", 21, 2)
    # Times 10, 20, ..., 200 ms and one of 0 ms: rank ceil(0.95 x 21) = 20 of 21 is 190 ms.
    assert f["p95Ms"] == pytest.approx(190.0)
    assert f["activeInstances"] == 2.0
    assert (g["executions"], g["activeInstances"]) == (0, 0.0)
    assert (minute["firestoreReads"], minute["firestoreWrites"]) == (60, 20)
    both = log.figures(T0, T0 + dt.timedelta(minutes=2))
    assert [r["executions"] for r in both["functions"]] == [21, 1]
    log.reset()
    empty = log.figures(T0, T0 + dt.timedelta(minutes=2))
    assert [r["executions"] for r in empty["functions"]] == [0, 0]
    assert log.answer("start=x") == (400, {"error": "start and end: RFC 3339 times with an offset"})


def test_the_local_answer_becomes_runtime_figures() -> None:
    body = {
        "functions": [{"function": "f", "executions": 3, "errors": 1, "p95Ms": 12.5,
                       "activeInstances": 1.0}],
        "firestoreReads": 30, "firestoreWrites": 6,
    }  # fmt: skip
    figures = parse_answer(T0, T0 + dt.timedelta(minutes=3), body)
    assert figures.functions[0].error_rate == pytest.approx(1 / 3)
    assert (figures.per_minute(figures.firestore_reads), figures.firestore_writes) == (10.0, 6)


def test_the_settings_choose_the_series() -> None:
    deployed = {"K_SERVICE": "video-analytics-dashboard", "K_REVISION": "x-00001-abc"}
    auto = RuntimeSettings(project_id="p")
    assert isinstance(runtime_series(auto, deployed), CloudMonitoringSeries)
    assert runtime_series(auto, {}) is None
    local = RuntimeSettings(project_id="p", runtime_series_url="http://127.0.0.1:1/__/runtime")
    assert isinstance(runtime_series(local, {}), LocalHostSeries)
    assert runtime_series(RuntimeSettings(runtime_series="off"), deployed) is None
    with pytest.raises(ConfigError, match="RUNTIME_SERIES_URL"):
        runtime_series(RuntimeSettings(runtime_series="local"), {})
