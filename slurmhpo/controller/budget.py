"""Study budgets: which limit is spent, measured on the controller's clock.

``max_trials`` only stops new trials (the ones started may still be promoted); GPU-hours and
wall-clock are hard limits: once spent, the controller cancels what runs and ends the study.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from slurmhpo.controller.clock import Clock
from slurmhpo.store import runtime
from slurmhpo.store.models import Study
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def gpu_hours(
    jobs: list[tuple[datetime | None, datetime | None]], gpus: int, now: datetime
) -> float:
    """GPU-hours used by jobs given as (started_at, ended_at); a running job counts until now."""
    seconds = 0.0
    for start, end in jobs:
        if start is not None:
            seconds += max(0.0, ((end or now) - start).total_seconds())
    return seconds * max(gpus, 0) / 3600.0


class BudgetTracker:
    """Answers "is a hard limit spent?" for one study, and says which one."""

    def __init__(self, study: Study, spec: StudySpec, clock: Clock) -> None:
        self.study = study
        self.spec = spec
        self.clock = clock

    def exhausted(self, session: Session) -> str | None:
        """The name of the first spent hard limit (GPU-hours, wall-clock), else None."""
        budget = self.spec.budget
        now = self.clock.utcnow()
        if budget.max_gpu_hours is not None:
            jobs = runtime.study_jobs_with_times(session, self.study)
            if gpu_hours(jobs, self.spec.slurm.gpus_per_task, now) >= budget.max_gpu_hours:
                return "max_gpu_hours"
        if budget.max_wall_hours is not None:
            first = runtime.first_job_submitted(session, self.study)
            if first is not None and (now - first).total_seconds() >= budget.max_wall_hours * 3600:
                return "max_wall_hours"
        return None
