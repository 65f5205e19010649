"""Backtest of the capacity-planning forecast (analytics/planning.py) on simulated hourly demand
with a known trend, daily and weekly seasonality and seeded Poisson-like noise: fit on the first
28 days, forecast the next 14, and print the error (MAPE) of the hourly forecast and of the daily
peaks, the trend recovered, and the fit time. Exits 1 if the peak MAPE is over its bound."""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from video_monitoring.analytics.planning import DAY_HOURS, daily_peaks, fit_demand, mape

FIT_DAYS = 28
HORIZON_DAYS = 14
PEAK_MAPE_BOUND = 0.12  # the worst seed's daily-peak MAPE; tests/unit/test_planning.py holds it


def true_demand(
    t: int,
    base: float = 40.0,
    trend_per_day: float = 1.5,
    daily_amplitude: float = 20.0,
    weekend_drop: float = 15.0,
) -> float:
    """Mean generations per hour at hour t (t = 0: a Monday 00:00 UTC): a linear trend, a daily
    wave peaking at 15:00 and quieter weekends."""
    hour, weekday = t % DAY_HOURS, (t // DAY_HOURS) % 7
    wave = daily_amplitude * math.sin(2 * math.pi * (hour - 9) / DAY_HOURS)
    return base + trend_per_day * t / DAY_HOURS + wave - (weekend_drop if weekday >= 5 else 0.0)


def simulated_demand(days: int, seed: int, trend_per_day: float = 1.5) -> list[float]:
    """Whole counts around the true demand, with Poisson-like noise (sd = sqrt(mean))."""
    rng = random.Random(seed)
    values = []
    for t in range(days * DAY_HOURS):
        mean = true_demand(t, trend_per_day=trend_per_day)
        values.append(float(max(0, round(rng.gauss(mean, math.sqrt(max(mean, 1.0)))))))
    return values


def backtest(fit_days: int, seed: int, trend_per_day: float = 1.5) -> dict[str, float | str]:
    """Fit on `fit_days`, forecast HORIZON_DAYS; the errors against the simulated actuals."""
    values = simulated_demand(fit_days + HORIZON_DAYS, seed, trend_per_day)
    history, future = values[: fit_days * DAY_HOURS], values[fit_days * DAY_HOURS :]
    started = time.perf_counter()
    model, fit = fit_demand(history)
    seconds = time.perf_counter() - started
    assert fit is not None
    first = len(history)
    hourly = [fit.predict(first + h) for h in range(len(future))]
    peaks = [value for _, value in daily_peaks(fit, first, HORIZON_DAYS)]
    actual_peaks = [max(future[d * DAY_HOURS : (d + 1) * DAY_HOURS]) for d in range(HORIZON_DAYS)]
    true_peaks = [
        max(true_demand(first + d * DAY_HOURS + h, trend_per_day=trend_per_day)
            for h in range(DAY_HOURS))
        for d in range(HORIZON_DAYS)
    ]  # fmt: skip
    return {
        "model": model,
        "hourlyMape": mape(future, hourly),
        "peakMape": mape(actual_peaks, peaks),
        "peakMapeVsMean": mape(true_peaks, peaks),
        "trendPerDay": fit.slope * DAY_HOURS,
        "fitSeconds": seconds,
    }


def main() -> int:
    """Print the figures for a few seeds and a short history; exit 1 if over the bound."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    print(f"capacity forecast backtest: fit {FIT_DAYS} days, forecast {HORIZON_DAYS} days, "
          f"true trend +1.5/h per day, {args.seeds} seeds")  # fmt: skip
    worst = 0.0
    for fit_days in (FIT_DAYS, 14, 10):
        runs = [backtest(fit_days, seed) for seed in range(args.seeds)]
        peak = [float(r["peakMape"]) for r in runs]
        worst = max(worst, max(peak)) if fit_days == FIT_DAYS else worst
        print(
            f"  fit {fit_days:2d} days ({runs[0]['model']}): "
            f"hourly MAPE {statistics.mean(float(r['hourlyMape']) for r in runs):.2%}, "
            f"daily-peak MAPE {statistics.mean(peak):.2%} (worst {max(peak):.2%}), "
            f"vs true mean peak {statistics.mean(float(r['peakMapeVsMean']) for r in runs):.2%}, "
            f"trend {statistics.mean(float(r['trendPerDay']) for r in runs):+.3f}/h per day, "
            f"fit {statistics.median(float(r['fitSeconds']) for r in runs) * 1000:.2f} ms"
        )
    verdict = "OK" if worst <= PEAK_MAPE_BOUND else "OVER BOUND"
    print(f"worst daily-peak MAPE over {FIT_DAYS}-day fits: {worst:.2%} "
          f"(bound {PEAK_MAPE_BOUND:.0%}): {verdict}")  # fmt: skip
    return 0 if worst <= PEAK_MAPE_BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
