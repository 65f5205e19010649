"""Relative error of the rollup sketch's percentiles against exact order statistics.

Prints the worst relative error over several distributions at 100,000 samples (target <= 1%),
and the size of the sketch (bins) that a rollup cell stores for them.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from video_monitoring.ingest import sketch

QS = (0.5, 0.9, 0.95, 0.99, 0.999)


def distributions(rng: random.Random, n: int) -> dict[str, list[float]]:
    """Generation-time shapes seen in practice: log-normal, bimodal, heavy tail, uniform."""
    return {
        "lognormal(45s, 0.8)": [rng.lognormvariate(math.log(45), 0.8) for _ in range(n)],
        "bimodal 30s / 240s": [
            rng.gauss(30, 5) if rng.random() < 0.8 else rng.gauss(240, 40) for _ in range(n)
        ],
        "pareto tail": [5 * rng.paretovariate(1.5) for _ in range(n)],
        "uniform 1-600s": [rng.uniform(1, 600) for _ in range(n)],
    }


def main() -> int:
    """Print the figures; exit 1 if the bound is broken."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    worst_overall = 0.0
    print(f"percentile relative error, {args.samples:,} samples, alpha = {sketch.ALPHA}")
    for name, values in distributions(rng, args.samples).items():
        values = [max(v, 0.0) for v in values]
        ordered = sorted(values)
        bins = sketch.add({}, values)
        estimates = sketch.quantiles(bins, QS)
        errors = []
        for q, estimate in zip(QS, estimates, strict=True):
            truth = ordered[math.floor(q * (len(ordered) - 1))]
            assert estimate is not None
            errors.append(abs(estimate - truth) / truth if truth else abs(estimate))
        worst = max(errors)
        worst_overall = max(worst_overall, worst)
        detail = ", ".join(f"p{q * 100:g} {e * 100:.3f}%" for q, e in zip(QS, errors, strict=True))
        print(f"  {name:22s} bins {len(bins):4d}  worst {worst * 100:.3f}%  ({detail})")
    verdict = "OK" if worst_overall <= 0.01 else "OVER TARGET"
    print(f"worst relative error: {worst_overall * 100:.3f}% (target <= 1%): {verdict}")
    return 0 if worst_overall <= 0.01 else 1


if __name__ == "__main__":
    raise SystemExit(main())
