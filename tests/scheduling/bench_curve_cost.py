"""Benchmark (not a test): the cost of one judged decision of the learning-curve rule.

Run ``python tests/scheduling/bench_curve_cost.py``. One trial has completed (so there is an
incumbent); then trials with noisy power-law curves report every resource 1..r_max - 1 and
every report is judged (interval 1, min_points 5), with threshold 1e-9 so that nobody is
stopped and every curve length is measured. Printed per r_max: judged decisions, mean and
worst CPU milliseconds per on_result. The cost grows with the points a fit sees, up to
:data:`~slurmhpo.scheduling.curves.MAX_POINTS`, then stays flat: r_max = 1,000 thins to 100.
"""

from __future__ import annotations

import time

import numpy as np
from bench_decision_cost import CheapSearcher  # the sibling script: run this file directly

from slurmhpo.scheduling.curve import CurveStoppingScheduler

TRIALS = 20


def measure(r_max: int) -> tuple[int, float, float]:
    """(judged decisions, mean CPU ms, worst CPU ms) for TRIALS curves of length r_max."""
    sched = CurveStoppingScheduler(
        CheapSearcher(np.random.default_rng(0)), "max", 1, r_max, np.random.default_rng(1),
        threshold=1e-9,
    )  # fmt: skip
    sched.suggest(0)
    sched.on_result(0, r_max, 0.9)
    noise = np.random.default_rng(2)
    costs = []
    for trial in range(1, TRIALS + 1):
        sched.suggest(trial)
        asymptote = noise.uniform(0.6, 0.95)
        for r in range(1, r_max):
            value = asymptote - 0.3 * r**-0.6 + noise.normal(0.0, 0.01)
            began = time.process_time()
            sched.on_result(trial, r, float(value))
            if sched.judged(r) and r >= sched.min_points:
                costs.append(time.process_time() - began)
    ms = np.array(costs) * 1000
    return len(costs), float(ms.mean()), float(ms.max())


def main() -> None:
    for r_max in (52, 200, 1000):
        n, mean, worst = measure(r_max)
        print(f"r_max {r_max:5d}: {n:6d} judged, mean {mean:.2f} ms, worst {worst:.2f} ms CPU")


if __name__ == "__main__":
    main()
