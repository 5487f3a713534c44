"""The numbers each plot draws, computed from :class:`StudyData` with no I/O and no matplotlib.

The plot functions return these series, so tests (and users) can check what was drawn
against the database.

* **Incumbent**: the best finite objective observed so far at any resource (Syne Tune's
  convention), as a step series with one point per improvement. NaN/inf never become the
  incumbent. Its x values are both seconds since origin and the GPU-hours spent by then: job
  run time (start to end; a running job up to the study's last event) times the study's
  ``gpus_per_task``, as the GPU-hour budget counts it.
* **Curves**: objective against resource per trial, in a **category** saying what the
  scheduler did to it: ``failed`` / ``stopped`` / ``completed`` (its final state; completed
  = ran to the maximum resource), else ``promoted`` (resumed from a pause at least once,
  now paused higher up or running), else ``paused`` (never resumed) or ``running``.
* **Rung occupancy**: per level, the times at which trials reached it (an observation at that
  resource), so the count is a non-decreasing step function of time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from slurmhpo.plots.data import JobSpan, StudyData, TrialInfo
from slurmhpo.scheduling import levels as level_rules
from slurmhpo.states import TrialState

CATEGORIES = ("completed", "promoted", "paused", "stopped", "failed", "running")


@dataclass(frozen=True)
class IncumbentSeries:
    """Improvements of the incumbent: when (s, GPU-hours), the value, and by which trial."""

    seconds: list[float]
    gpu_hours: list[float]
    values: list[float]
    trials: list[int]


@dataclass(frozen=True)
class TrialCurve:
    trial: int
    category: str
    resources: list[int]
    values: list[float]


@dataclass(frozen=True)
class CurveSeries:
    curves: list[TrialCurve]
    rung_levels: list[int]  # [] for schedulers without rungs (median, fifo)


@dataclass(frozen=True)
class RungOccupancy:
    """Per level: sorted times (s since origin) at which one more trial reached it."""

    levels: list[int]
    kind: str  # "rungs" or "epochs" (evenly spread levels for schedulers without rungs)
    reached_at: dict[int, list[float]]
    end: float


def study_levels(data: StudyData) -> tuple[str, list[int]]:
    """("rungs", rung levels) for rung-based schedulers, else ("epochs", <= 10 levels): the
    same rule as ``slurmhpo status`` (:func:`slurmhpo.scheduling.levels.study_levels`)."""
    spec = data.spec
    return level_rules.study_levels(spec.scheduler, spec.resource.min, spec.resource.max)


def gpu_hours_until(jobs: list[JobSpan], at: float, gpus: int, now: float) -> float:
    """GPU-hours the jobs had used by ``at`` (s since origin)."""
    starts, ends = _job_arrays(jobs, now)
    return _gpu_hours(starts, ends, at, gpus)


def _job_arrays(jobs: list[JobSpan], now: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (a running job: ``now``) of every job, as arrays."""
    starts = np.array([job.start for job in jobs], dtype=float)
    ends = np.array([job.end if job.end is not None else now for job in jobs], dtype=float)
    return starts, ends


def _gpu_hours(starts: np.ndarray, ends: np.ndarray, at: float, gpus: int) -> float:
    # vectorised: the incumbent asks once per improvement, over tens of thousands of jobs
    seconds = float(np.clip(np.minimum(ends, at) - starts, 0.0, None).sum())
    return seconds * max(gpus, 0) / 3600.0


def incumbent(data: StudyData) -> IncumbentSeries:
    better = (lambda a, b: a < b) if data.mode == "min" else (lambda a, b: a > b)
    series = IncumbentSeries([], [], [], [])
    gpus = data.spec.slurm.gpus_per_task
    starts, ends = _job_arrays(data.jobs, data.now)
    for point in sorted(data.observations, key=lambda p: (p.at, p.trial, p.resource)):
        if not math.isfinite(point.value) or not point.feasible:
            continue  # an infeasible result is never the incumbent (as in `slurmhpo best`)
        if series.values and not better(point.value, series.values[-1]):
            continue
        series.seconds.append(point.at)
        series.gpu_hours.append(_gpu_hours(starts, ends, point.at, gpus))
        series.values.append(point.value)
        series.trials.append(point.trial)
    return series


def category(info: TrialInfo) -> str:
    """What the scheduler did to a trial, from its final state and its resume decisions."""
    if info.state in (TrialState.FAILED, TrialState.STOPPED, TrialState.COMPLETED):
        return info.state
    if info.resumes > 0:
        return "promoted"
    return "paused" if info.state == TrialState.PAUSED else "running"


def time_unit(span_seconds: float) -> tuple[float, str]:
    """(divisor, name) that keeps a time axis readable: seconds, minutes or hours."""
    if span_seconds < 120:
        return 1.0, "s"
    if span_seconds < 2 * 3600:
        return 60.0, "min"
    return 3600.0, "h"


def curves(data: StudyData) -> CurveSeries:
    by_trial: dict[int, list[tuple[int, float]]] = {}
    for point in data.observations:
        by_trial.setdefault(point.trial, []).append((point.resource, point.value))
    result = []
    for number in sorted(by_trial):
        pairs = sorted(by_trial[number])
        result.append(
            TrialCurve(
                number,
                category(data.trials[number]),
                [r for r, _ in pairs],
                [v for _, v in pairs],
            )
        )
    kind, levels = study_levels(data)
    return CurveSeries(result, levels if kind == "rungs" else [])


def rung_occupancy(data: StudyData) -> RungOccupancy:
    kind, levels = study_levels(data)
    wanted = set(levels)
    reached: dict[int, list[float]] = {level: [] for level in levels}
    for point in data.observations:
        if point.resource in wanted:
            reached[point.resource].append(point.at)
    for times in reached.values():
        times.sort()
    end = max([data.now, *(t for times in reached.values() for t in times)])
    return RungOccupancy(levels, kind, reached, end)
