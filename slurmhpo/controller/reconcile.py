"""Reconcile: record what the backend says of each job; retry or fail trials whose job ended
too early.

A job that ended after reporting its target, or whose trial the scheduler no longer wants
(paused, stopped), needs nothing more. Otherwise the outcome table (:mod:`outcomes`) says
whether the segment is retried from the trial's last checkpoint (a new ``pending`` job, up to
``trial.max_retries``) or the trial fails. A job the backend has not seen for ``lost_after``
seconds is lost, which counts like a failure the job did not cause.

A job that ends cancelled was cancelled by this controller (it stopped the trial, or a hard
budget limit is spent) or by a person. The budget case is derived again from the database,
not only remembered: a controller restarted after the cancel (Ctrl-C, a hand-over) must still
end the trial ``stopped``, not ``failed`` as if someone outside slurmhpo had cancelled it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from slurmhpo.backends.base import JobState, JobStatus
from slurmhpo.controller.outcomes import LOST, Outcome, outcome_of
from slurmhpo.scheduling.base import Scheduler, TrialStatus
from slurmhpo.scheduling.history import Failed
from slurmhpo.states import JobRowState, TrialState
from slurmhpo.store.cycle import ActiveJob, CycleWrite, NewDecision, NewJob
from slurmhpo.study import StudySpec

log = logging.getLogger("slurmhpo.controller")


@dataclass
class LostWatch:
    """When each job was first seen UNKNOWN; a job unseen for ``lost_after`` s is lost."""

    lost_after: float
    unknown_since: dict[int, float] = field(default_factory=dict)

    def outcome(self, job_id: int, status: JobStatus, now: float) -> Outcome | None:
        """The job's outcome once it has ended (or was lost), else None."""
        if status.state is JobState.UNKNOWN:
            since = self.unknown_since.setdefault(job_id, now)
            return LOST if now - since >= self.lost_after else None
        self.unknown_since.pop(job_id, None)
        return outcome_of(status.state) if status.state.finished else None


@dataclass(frozen=True)
class EarlyEnd:
    """A job that ended before its target while its trial was still wanted."""

    job: ActiveJob
    cause: str  # how it ended, e.g. "failed (exit code 2)": equal causes end equal jobs
    detail: str  # the words stored as the job's exit reason


@dataclass(frozen=True)
class Reconciled:
    ended: frozenset[int]  # ids of jobs that ended in this cycle
    retried: int  # how many of them got a new job
    early: tuple[EarlyEnd, ...] = ()  # ended before their target, not cancelled by us
    completed: bool = False  # some job reached its target


def reconcile(
    jobs: Sequence[ActiveJob],
    statuses: dict[int, JobStatus],
    reached: dict[int, int],
    scheduler: Scheduler,
    spec: StudySpec,
    write: CycleWrite,
    *,
    watch: LostWatch,
    now: float,
    utcnow: datetime,
    cancelled_here: set[int],
    budget_spent: str | None,
    unread: frozenset[int] = frozenset(),
) -> Reconciled:
    """Add every job transition to ``write``; ``reached`` is each trial's highest resource
    after this cycle's ingest; ``cancelled_here`` the job ids this process cancelled;
    ``unread`` the jobs whose metric file still holds data: their end waits for it (a job
    that wrote a burst of reports just before it ended would be judged without them)."""
    ended: set[int] = set()
    early: list[EarlyEnd] = []
    completed = False
    retried = 0
    for job in jobs:
        status = statuses.get(job.id)
        if status is None:
            continue  # not submitted yet: nothing to ask the backend
        outcome = watch.outcome(job.id, status, now)
        if outcome is not None and job.id in unread:
            continue  # judged in a later cycle, once its reports are all read
        if outcome is None:
            if status.state is JobState.RUNNING and job.state != JobRowState.RUNNING:
                started = job.started_at or status.started_at or utcnow
                write.update_job(job.id, state=JobRowState.RUNNING, started_at=started)
            continue
        ended.add(job.id)
        ours = job.id in cancelled_here or (
            status.state is JobState.CANCELLED and budget_spent is not None
        )
        detail = _record_end(job, status, outcome, write, utcnow)
        if reached.get(job.trial_number, 0) >= job.target_resource:
            completed = True
            continue  # it reported its target (the trial may run on in a newer job already)
        if scheduler.trial_status(job.trial_number) is not TrialStatus.RUNNING:
            continue  # the trial was paused or stopped: its job's end is expected
        if ours:  # cancelled because a hard budget limit was spent
            detail = f"stopped: the study's {budget_spent or 'hard'} budget is spent"
        else:
            early.append(EarlyEnd(job, _cause(outcome, status), detail))
        if not ours and outcome.retryable and job.attempt < spec.trial.max_retries:
            log.warning("trial %d: %s; retrying from its last checkpoint", job.trial_number, detail)
            start = max(reached.get(job.trial_number, 0), job.start_resource)
            write.new_jobs.append(
                NewJob(job.trial_number, start, job.target_resource, job.attempt + 1)
            )
            retried += 1
            continue
        log.warning("trial %d ended: %s", job.trial_number, detail)
        scheduler.on_error(job.trial_number)
        event = Failed(job.trial_number).to_dict()
        write.decisions.append(NewDecision("fail", event, job.trial_number, detail))
        state = TrialState.STOPPED if ours else TrialState.FAILED
        write.trial_states[job.trial_number] = (state, detail)
    return Reconciled(frozenset(ended), retried, tuple(early), completed)


def _cause(outcome: Outcome, status: JobStatus) -> str:
    exit_code = "" if status.exit_code is None else f" (exit code {status.exit_code})"
    return f"{outcome.describe}{exit_code}"


def _record_end(
    job: ActiveJob,
    status: JobStatus,
    outcome: Outcome,
    write: CycleWrite,
    utcnow: datetime,
) -> str:
    """Set the ended job's row; returns the words that describe its end."""
    state = outcome.job_state
    detail = f"job {job.external_id} {outcome.describe}"
    if status.exit_code is not None:
        detail += f" (exit code {status.exit_code})"
    if status.reason:
        detail += f": {status.reason}"
    columns: dict[str, object] = {"state": state, "ended_at": status.ended_at or utcnow}
    if state != JobRowState.COMPLETED:
        columns["exit_reason"] = detail
    if job.started_at is None and status.started_at is not None:
        columns["started_at"] = status.started_at
    write.update_job(job.id, **columns)
    return detail
