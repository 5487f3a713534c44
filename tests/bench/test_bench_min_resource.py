"""Benchmark methods with a larger minimum resource (``Method.min_resource``): the study they
register, the scheduler built from it, and the simulated clock's wake-ups all use it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from slurmhpo.bench.harness import simulate, study_spec
from slurmhpo.bench.registry import get_task
from slurmhpo.bench.runner import DEFAULT_METHODS, METHODS
from slurmhpo.scheduling.asha import ASHA
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.median import MedianStoppingScheduler

TASK = "synthetic/hartmann3-mf"  # maximised, r_min 1, r_max 27, no data needed


def test_rmin_methods_wake_at_their_own_rungs() -> None:
    """On lcbench's 1..52: r_min 3 gives rungs 3, 9, 27, 52; r_min 2 gives 2, 6, 18, 52."""
    for variant in ("stopping", "promotion"):
        assert METHODS[f"asha-{variant}-rmin3"].wake_resources(1, 52) == {3, 9, 27, 52}
        assert METHODS[f"asha-{variant}-rmin2"].wake_resources(1, 52) == {2, 6, 18, 52}
        assert METHODS[f"asha-{variant}"].wake_resources(1, 52) == {1, 3, 9, 27, 52}
    for r_min in (2, 3):
        assert METHODS[f"median-rmin{r_min}"].wake_resources(1, 52) is None  # every epoch


def test_defaults_are_untouched() -> None:
    assert not any("rmin" in name for name in DEFAULT_METHODS)
    assert all(METHODS[name].min_resource is None for name in DEFAULT_METHODS)


@pytest.mark.parametrize(
    ("name", "levels", "grace"),
    [
        ("asha-stopping-rmin3", [3, 9, 27], None),
        ("asha-promotion-rmin2", [2, 6, 18, 27], None),
        ("median-rmin3", None, 3),
        ("median", None, 1),
    ],
)
def test_the_study_and_its_scheduler_use_the_methods_minimum(
    name: str, levels: list[int] | None, grace: int | None, tmp_path: Path
) -> None:
    task = get_task(TASK)
    method = METHODS[name]
    spec = study_spec(task, method, 0, workers=4, budget=100.0, root=tmp_path)
    assert spec.resource.min == method.resource_min(task.r_min)
    assert spec.resource.max == task.r_max
    scheduler = make_scheduler(spec.to_dict(), spec.space, spec.seed)
    if levels is not None:
        assert isinstance(scheduler, ASHA) and scheduler.levels == levels
        assert method.wake_resources(task.r_min, task.r_max) == set(levels)
    else:
        assert isinstance(scheduler, MedianStoppingScheduler) and scheduler.grace == grace


@pytest.mark.parametrize("method", ["asha-stopping-rmin3", "asha-promotion-rmin3"])
def test_waking_only_at_the_larger_minimums_rungs_changes_nothing(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The clock must stop at the overridden ladder (3, 9, 27), not the task's (1, 3, 9, 27):
    the fast setting reproduces the exact one report for report."""
    caplog.set_level(logging.ERROR, logger="slurmhpo.controller")
    task = get_task(TASK)
    fast = simulate(task, METHODS[method], 1, workers=4, budget=400.0)
    exact = simulate(task, METHODS[method], 1, workers=4, budget=400.0, exact=True)
    assert fast.reports == exact.reports
    assert (fast.trials, fast.epochs) == (exact.trials, exact.epochs)
    assert fast.busy_seconds == pytest.approx(exact.busy_seconds)


def test_promotion_pauses_nobody_before_the_first_rung(caplog: pytest.LogCaptureFixture) -> None:
    """asha-promotion-rmin3 trains every trial to epoch 3 at least (the first rung): with a
    budget far beyond what ``max_trials`` needs, no trial stops earlier."""
    caplog.set_level(logging.ERROR, logger="slurmhpo.controller")
    task = get_task(TASK)
    run = simulate(task, METHODS["asha-promotion-rmin3"], 0, workers=4, budget=1e7, max_trials=9)
    reached: dict[int, int] = {}
    for report in run.reports:
        reached[report.trial] = max(reached.get(report.trial, 0), report.resource)
    assert len(reached) == 9
    assert min(reached.values()) >= 3
