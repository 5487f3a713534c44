"""Study budgets: which limit is spent, measured on the controller's clock.

``max_trials`` only stops new trials (the ones started may still be promoted); GPU-hours and
wall-clock are hard limits: once spent, the controller cancels what runs and ends the study.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slurmhpo.study import StudySpec


def gpu_hours(
    jobs: list[tuple[datetime | None, datetime | None]], gpus: int, now: datetime
) -> float:
    """GPU-hours used by jobs given as (started_at, ended_at); a running job counts until now."""
    seconds = 0.0
    for start, end in jobs:
        if start is not None:
            seconds += max(0.0, ((end or now) - start).total_seconds())
    return seconds * max(gpus, 0) / 3600.0


def spent_limit(
    spec: StudySpec,
    job_times: Sequence[tuple[datetime | None, datetime | None]] | None,
    first_submitted: datetime | None,
    now: datetime,
) -> str | None:
    """The name of the first spent hard limit (GPU-hours, wall-clock), else None.

    ``job_times`` are (started_at, ended_at) of the study's started jobs and
    ``first_submitted`` the submission time of its first job, as the cycle read them (it
    reads each only when the study has the limit that needs it; None otherwise).
    """
    budget = spec.budget
    gpus = spec.slurm.gpus_per_task
    if (
        budget.max_gpu_hours is not None
        and job_times is not None
        and gpu_hours(list(job_times), gpus, now) >= budget.max_gpu_hours
    ):
        return "max_gpu_hours"
    if (
        budget.max_wall_hours is not None
        and first_submitted is not None
        and (now - first_submitted).total_seconds() >= budget.max_wall_hours * 3600
    ):
        return "max_wall_hours"
    return None
