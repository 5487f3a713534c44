"""The plotted series on hand-made study data: incumbent rules, GPU-hours, categories, levels."""

from __future__ import annotations

import math

from slurmhpo.plots.data import JobSpan, ObservationPoint, StudyData, TrialInfo
from slurmhpo.plots.series import (
    category,
    curves,
    gpu_hours_until,
    incumbent,
    rung_occupancy,
    study_levels,
    time_unit,
)
from slurmhpo.study import StudySpec


def _data(mode: str, scheduler: dict, points: list[ObservationPoint], gpus: int = 2) -> StudyData:
    spec = StudySpec.from_dict(
        {
            "name": "hand",
            "objective": {"metric": "acc", "mode": mode},
            "resource": {"name": "epoch", "min": 1, "max": 27},
            "scheduler": scheduler,
            "budget": {"max_trials": 5},
            "trial": {"command": ["true"]},
            "slurm": {"gpus_per_task": gpus},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        }
    )
    trials = {n: TrialInfo(n, "paused", 0, 1) for n in {p.trial for p in points}}
    jobs = [JobSpan(0, 0.0, 3600.0), JobSpan(1, 1800.0, None)]
    return StudyData("hand", spec, mode, trials, points, jobs, now=5400.0)


def test_incumbent_skips_non_finite_values_and_follows_the_mode():
    points = [
        ObservationPoint(0, 1, 0.5, 10.0),
        ObservationPoint(1, 1, math.nan, 20.0),
        ObservationPoint(1, 3, math.inf, 30.0),
        ObservationPoint(0, 3, 0.7, 40.0),
        ObservationPoint(1, 9, 0.6, 50.0),  # not better than 0.7 when maximising
    ]
    series = incumbent(_data("max", {"type": "asha", "eta": 3}, points))
    assert series.values == [0.5, 0.7] and series.trials == [0, 0]
    assert series.seconds == [10.0, 40.0]
    low = incumbent(_data("min", {"type": "asha", "eta": 3}, points))
    assert low.values == [0.5]


def test_gpu_hours_count_running_jobs_until_now_times_gpus():
    jobs = [JobSpan(0, 0.0, 3600.0), JobSpan(1, 1800.0, None)]
    assert gpu_hours_until(jobs, 1800.0, gpus=2, now=5400.0) == 1.0
    assert gpu_hours_until(jobs, 7200.0, gpus=2, now=5400.0) == 2 * (1.0 + 1.0)
    assert gpu_hours_until(jobs, 7200.0, gpus=0, now=5400.0) == 0.0


def test_categories_say_what_the_scheduler_did():
    assert category(TrialInfo(0, "failed", 2, 3)) == "failed"
    assert category(TrialInfo(0, "stopped", 0, 1)) == "stopped"
    assert category(TrialInfo(0, "completed", 2, 3)) == "completed"
    assert category(TrialInfo(0, "paused", 1, 2)) == "promoted"
    assert category(TrialInfo(0, "running", 1, 2)) == "promoted"
    assert category(TrialInfo(0, "paused", 0, 1)) == "paused"
    assert category(TrialInfo(0, "running", 0, 1)) == "running"


def test_levels_are_rungs_for_asha_and_spread_epochs_for_fifo():
    points = [ObservationPoint(0, r, 1.0 / r, float(r)) for r in (1, 3, 9, 27)]
    asha = _data("min", {"type": "hyperband", "eta": 3}, points)
    assert study_levels(asha) == ("rungs", [1, 3, 9, 27])
    assert curves(asha).rung_levels == [1, 3, 9, 27]
    fifo = _data("min", {"type": "fifo"}, points)
    kind, levels = study_levels(fifo)
    assert kind == "epochs" and levels[0] == 1 and levels[-1] == 27 and len(levels) == 10
    assert curves(fifo).rung_levels == []
    occupancy = rung_occupancy(asha)
    assert {level: len(t) for level, t in occupancy.reached_at.items()} == {1: 1, 3: 1, 9: 1, 27: 1}
    assert occupancy.end == 5400.0


def test_time_unit_keeps_axes_readable():
    assert time_unit(30) == (1.0, "s")
    assert time_unit(600) == (60.0, "min")
    assert time_unit(3 * 3600) == (3600.0, "h")
