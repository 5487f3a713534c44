"""The bench's warm-start method: a source study runs first in the same database, uncounted."""

from __future__ import annotations

from slurmhpo.bench.harness import simulate
from slurmhpo.bench.registry import get_task
from slurmhpo.bench.runner import METHODS

TASK = "synthetic/hartmann3-mf"  # maximised, r_max 27, no data needed


def test_warm_method_measures_only_its_own_study_and_differs_from_cold() -> None:
    task = get_task(TASK)
    warm = simulate(task, METHODS["bohb-async-warm"], 0, workers=4, budget=400.0)
    cold = simulate(task, METHODS["bohb-async"], 0, workers=4, budget=400.0)
    assert warm.trials > 0 and warm.budget == cold.budget == 400.0
    assert {r.trial for r in warm.reports} == set(range(warm.trials))  # its own, from 0
    assert max(r.time for r in warm.reports) <= 400.0  # the source's time is not on its clock
    assert warm.reports != cold.reports, "the fed results changed what the searcher chose"
