"""Benchmark runs under an outcome constraint: the simulated metric ``full_seconds``, the
study that carries the constraint (or not), and incumbents that count feasible results only."""

from __future__ import annotations

from pathlib import Path

from slurmhpo.backends.simulated import FULL_SECONDS
from slurmhpo.bench.harness import Report, RunResult, simulate, study_spec
from slurmhpo.bench.registry import get_task
from slurmhpo.bench.report import run_summary, trace
from slurmhpo.bench.runner import METHODS, BenchConfig, TaskCache, run_grid
from slurmhpo.constraints import parse_constraints

TASK = "synthetic/hartmann3-mf"  # maximised, r_max 27, no data needed
BUDGET = 400.0


def _median_full_time() -> float:
    cache = TaskCache()
    return cache.budget(TASK, 4, 50.0).median_full_time


def test_capped_methods_judge_by_the_tasks_median_full_time(tmp_path: Path) -> None:
    task = get_task(TASK)
    fast, judged = METHODS["bohb-async-fast"], METHODS["bohb-async-fast-unenforced"]
    assert (
        fast.cap_constraints(120.5) == judged.cap_constraints(120.5) == ("full_seconds <= 120.5",)
    )
    assert METHODS["bohb-async"].cap_constraints(120.5) == ()
    enforced = study_spec(task, fast, 0, 4, BUDGET, tmp_path, constraints=("full_seconds <= 3",))
    assert [c.text() for c in enforced.constraints] == ["full_seconds <= 3.0"]
    assert study_spec(task, judged, 0, 4, BUDGET, tmp_path).constraints == ()


def test_reports_are_judged_and_incumbents_count_feasible_ones_only() -> None:
    task = get_task(TASK)
    median = _median_full_time()
    runs = {
        name: simulate(task, METHODS[name], 0, workers=4, budget=BUDGET, median_full_time=median)
        for name in ("bohb-async", "bohb-async-fast", "bohb-async-fast-unenforced")
    }
    free, judged = runs["bohb-async"], runs["bohb-async-fast-unenforced"]
    # Only judged afterwards: the same search, the same values, feasibility added.
    assert [(r.trial, r.resource, r.value) for r in judged.reports] == [
        (r.trial, r.resource, r.value) for r in free.reports
    ]
    assert all(r.feasible for r in free.reports) and free.infeasible_trials == 0
    bound = parse_constraints(list(judged.constraints), resource_name="epoch")
    for run in (judged, runs["bohb-async-fast"]):
        slow = {r.trial for r in run.reports if not r.feasible}
        assert 0 < len(slow) < run.trials, "the cap at the median splits the space"
        assert run.infeasible_trials == len(slow)
        best_feasible = max(r.value for r in run.reports if r.feasible)  # maximised
        assert float(trace(run).best[-1]) == best_feasible
        assert run_summary(run, False)["infeasible_trials"] == len(slow)
    assert bound[0].bound == median
    everything = max(r.value for r in judged.reports)
    assert float(trace(free).best[-1]) == everything >= float(trace(judged).best[-1])


def test_the_grid_gives_capped_methods_the_tasks_median_full_time() -> None:
    config = BenchConfig(
        tasks=(TASK,), methods=(METHODS["bohb-async-fast"],), seeds=1, budget_seconds=BUDGET
    )
    (run,) = run_grid(config, progress=None)
    assert run.constraints == (f"{FULL_SECONDS} <= {_median_full_time()!r}",)
    assert 0 < run.infeasible_trials < run.trials


def test_an_infeasible_report_never_becomes_the_incumbent() -> None:
    reports = (
        Report(1.0, 0, 1, 0.5),
        Report(2.0, 1, 1, 0.9, feasible=False),  # the best value, but too slow
        Report(3.0, 2, 1, 0.6),
    )
    run = RunResult(
        task=TASK, method="m", seed=0, mode="max", r_max=27, budget=4.0, workers=1,
        reports=reports, trials=3, epochs=3, busy_seconds=4.0, slots_used=1, peak_running=1,
        runtime_s=0.0, infeasible_trials=1,
    )  # fmt: skip
    assert list(trace(run).best) == [0.5, 0.5, 0.6]
    assert run_summary(run, False)["incumbent"]["1.0"] == 0.6
