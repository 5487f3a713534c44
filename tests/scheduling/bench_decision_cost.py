"""Benchmark (not a test): the cost of one scheduler decision as a study grows.

Run ``python tests/scheduling/bench_decision_cost.py``. A single simulated worker asks for a job,
reports the result at the job's target (or at every rung for the stopping variant) and asks
again, until the scheduler holds 100, 10,000 and 100,000 observations; at each size the mean
time of the last 2,000 decisions (one suggest or one on_result each) is printed. A trivial
searcher is used so that only the scheduler is measured. Decision cost should stay flat: rung
queries are bisections into sorted lists, not scans.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from slurmhpo.scheduling.asha import ASHA, AsyncHyperband
from slurmhpo.scheduling.base import Scheduler
from slurmhpo.scheduling.median import MedianStoppingScheduler
from slurmhpo.scheduling.rungs import rung_levels
from slurmhpo.scheduling.types import Action, StartTrial

SIZES = (100, 10_000, 100_000)
WINDOW = 2_000
R_MIN, R_MAX, ETA = 1, 52, 3


class CheapSearcher:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def suggest(self, trial_id: int) -> dict[str, Any]:
        return {"x": float(self.rng.random())}

    def observe(
        self,
        trial_id: int,
        config: dict,
        resource: int,
        value: float | None,
        *,
        feasible: bool = True,
    ) -> None:
        pass

    def on_trial_end(self, trial_id: int) -> None:
        pass


def schedulers() -> dict[str, Scheduler]:
    def searcher() -> CheapSearcher:
        return CheapSearcher(np.random.default_rng(0))

    rng = np.random.default_rng
    args = ("max", R_MIN, R_MAX, ETA)
    return {
        "asha_promotion": ASHA(searcher(), *args, rng(1), variant="promotion"),
        "asha_stopping": ASHA(searcher(), *args, rng(1), variant="stopping"),
        "hyperband_promotion": AsyncHyperband(searcher(), *args, rng(1), variant="promotion"),
        "median": MedianStoppingScheduler(searcher(), "max", R_MIN, R_MAX, rng(1)),
    }


def drive(sched: Scheduler, levels: list[int]) -> dict[int, float]:
    """Mean seconds per decision over the WINDOW decisions before each size in SIZES."""
    values = np.random.default_rng(2)
    observations, next_id, decisions = 0, 0, 0
    stamps: list[float] = []
    out: dict[int, float] = {}
    configs: dict[int, float] = {}
    while observations < SIZES[-1]:
        stamps.append(time.perf_counter())
        s = sched.suggest(next_id)
        decisions += 1
        if isinstance(s, StartTrial):
            next_id += 1
            configs[s.trial_id] = s.config["x"]
            start = 0
        elif s is None:
            raise RuntimeError("an unlimited searcher never leaves a worker without a job")
        else:
            start = s.start
        action = Action.CONTINUE
        points = [lv for lv in levels if start < lv <= s.target] or [s.target]
        for resource in points:
            value = configs[s.trial_id] * resource / R_MAX + 0.05 * float(values.random())
            stamps.append(time.perf_counter())
            action = sched.on_result(s.trial_id, resource, value)
            decisions += 1
            observations += 1
            for size in SIZES:
                if observations == size:
                    recent = stamps[-WINDOW:] if len(stamps) > WINDOW else stamps
                    out[size] = (time.perf_counter() - recent[0]) / len(recent)
            if action is not Action.CONTINUE:
                break
    return out


def main() -> None:
    print(f"mean time per decision (window {WINDOW}); r {R_MIN}..{R_MAX}, eta {ETA}")
    for name, sched in schedulers().items():
        levels = (
            list(range(R_MIN, R_MAX + 1))
            if isinstance(sched, MedianStoppingScheduler)
            else rung_levels(R_MIN, R_MAX, ETA)
        )
        began = time.perf_counter()
        cost = drive(sched, levels)
        total = time.perf_counter() - began
        cells = "  ".join(f"{size:>7,d} obs: {cost[size] * 1e6:7.1f} us" for size in SIZES)
        print(f"{name:20s} {cells}   (whole run {total:.1f} s)")


if __name__ == "__main__":
    main()
