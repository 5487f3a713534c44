"""The multi-objective benchmark: hypervolume of the Pareto front found on ZDT1 curves.

Every method runs through :func:`slurmhpo.bench.harness.simulate` (the real controller, store
and scheduler on the simulated backend, W workers, budget B of PROTOCOL.md computed for the
task) on :class:`~slurmhpo.bench.synthetic_mo.ZDT1Task`. What is measured: at t = B/4, B/2
and B, the hypervolume (:func:`slurmhpo.pareto.hypervolume_2d`, reference point
:data:`~slurmhpo.bench.synthetic_mo.REFERENCE`) of the (f1, f2) results of trials that
reached r_max by t, i.e. of full-fidelity results only, whatever objective the method itself
ranked by. So single-objective ASHA on the scalarisation ``f_mean`` is judged on the same
front as MO-ASHA, and a method gets nothing for low-fidelity results it never confirmed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from slurmhpo.bench.budget import reference_budget
from slurmhpo.bench.harness import Method, RunResult, simulate
from slurmhpo.bench.synthetic_mo import (
    OBJECTIVES,
    REFERENCE,
    SCALARIZED,
    TRUE_FRONT_HYPERVOLUME,
    ZDT1Task,
)
from slurmhpo.pareto import hypervolume_2d

FRACTIONS = (0.25, 0.5, 1.0)
_MO_RUNGS = {"type": "mo_asha", "eta": 3}

PARETO_METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("random", {"type": "fifo"}, final_only=True, wake="targets",
               objectives=OBJECTIVES, note="random search, every trial to r_max"),
        Method("mo-asha", _MO_RUNGS, wake="rungs", objectives=OBJECTIVES,
               note="MO-ASHA (promotion), nsga2 tie-break, random search"),
        Method("mo-asha-epsnet", {**_MO_RUNGS, "tie_break": "epsnet"}, wake="rungs",
               objectives=OBJECTIVES, note="MO-ASHA (promotion), epsnet tie-break"),
        Method("mo-asha-mo-kde", _MO_RUNGS, {"type": "mo_kde"}, wake="rungs",
               objectives=OBJECTIVES,
               note="MO-ASHA (promotion) with the random-scalarisation KDE searcher"),
        Method("asha-scalarized", {"type": "asha", "eta": 3}, wake="rungs",
               objectives=((SCALARIZED, "min"),),
               note="single-objective ASHA (promotion) on f_mean = (f1 + f2 / 3) / 2"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class ParetoRun:
    """One (method, seed) run: hypervolume at each fraction of B, trials, epochs trained."""

    method: str
    seed: int
    hypervolume: tuple[float, ...]  # at FRACTIONS of B
    trials: int
    epochs: int
    full_fidelity: int  # trials that reached r_max by B


def hypervolume_until(result: RunResult, t: float, r_max: int) -> float:
    """Hypervolume of the (f1, f2) results at ``r_max`` reported by simulated time ``t``."""
    points = [
        (float(r.metrics["f1"]), float(r.metrics["f2"]))
        for r in result.reports
        if r.resource == r_max and r.time <= t and r.metrics is not None
    ]
    if not points:
        return 0.0
    return hypervolume_2d(np.array(points), REFERENCE)


def run_pareto_bench(
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    workers: int = 4,
    full_trainings: float = 50.0,
    progress: Callable[[ParetoRun], None] | None = None,
) -> dict[str, Any]:
    """Run every method on every seed; the JSON-ready result (runs and summaries)."""
    task = ZDT1Task()
    budget = reference_budget(task, workers=workers, full_trainings=full_trainings)
    runs = []
    for name in methods:
        method = PARETO_METHODS[name]
        for seed in seeds:
            result = simulate(task, method, seed, workers=workers, budget=budget.seconds)
            run = ParetoRun(
                name,
                seed,
                tuple(hypervolume_until(result, f * budget.seconds, task.r_max) for f in FRACTIONS),
                result.trials,
                result.epochs,
                len({r.trial for r in result.reports if r.resource == task.r_max}),
            )
            runs.append(run)
            if progress is not None:
                progress(run)
    return {
        "task": task.name,
        "reference_point": list(REFERENCE),
        "true_front_hypervolume": TRUE_FRONT_HYPERVOLUME,
        "budget_seconds": budget.seconds,
        "workers": workers,
        "fractions": list(FRACTIONS),
        "seeds": list(seeds),
        "methods": {name: PARETO_METHODS[name].note for name in methods},
        "summary": {name: summarize([r for r in runs if r.method == name]) for name in methods},
        "runs": [vars(r) | {"hypervolume": list(r.hypervolume)} for r in runs],
    }


def summarize(runs: Sequence[ParetoRun]) -> dict[str, Any]:
    """Median and interquartile range of the hypervolume at each fraction of B."""
    table = np.array([r.hypervolume for r in runs])
    q25, med, q75 = np.percentile(table, [25, 50, 75], axis=0)
    return {
        "median": [round(float(v), 4) for v in med],
        "q25": [round(float(v), 4) for v in q25],
        "q75": [round(float(v), 4) for v in q75],
        "median_trials": float(np.median([r.trials for r in runs])),
        "median_full_fidelity": float(np.median([r.full_fidelity for r in runs])),
    }
