"""Cancels: which running jobs nobody wants any more.

Derived afresh every cycle from the scheduler's view (trials it stopped or failed that still
have a job) and the budget (every job, once a hard limit is spent), so a crash between
deciding and ``scancel`` only delays the cancel: the next controller derives the same list.
"""

from __future__ import annotations

from collections.abc import Sequence

from slurmhpo.scheduling.base import Scheduler, TrialStatus
from slurmhpo.store.cycle import ActiveJob

ENDED_STATUSES = (TrialStatus.STOPPED, TrialStatus.FAILED)


def jobs_to_cancel(
    jobs: Sequence[ActiveJob],
    scheduler: Scheduler,
    budget_spent: str | None,
    already_cancelled: set[int],
) -> list[ActiveJob]:
    """Submitted jobs to cancel now; each once per process (scancel is idempotent, so a
    restarted controller repeating it is harmless)."""
    return [
        job
        for job in jobs
        if job.external_id
        and job.id not in already_cancelled
        and (budget_spent is not None or scheduler.trial_status(job.trial_number) in ENDED_STATUSES)
    ]
