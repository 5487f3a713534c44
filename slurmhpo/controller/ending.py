"""How a study ends early: what the cycle's write records when an operator cancels the study,
or when :mod:`failfast` fails it. Pure: the controller acts (scancel) and writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slurmhpo.states import JobRowState, StudyState, TrialState
from slurmhpo.store.cycle import ActiveJob, CycleWrite, TrialInfo


def record_cancel(
    write: CycleWrite,
    jobs: Sequence[ActiveJob],
    trials: Sequence[TrialInfo],
    command_id: int,
    cancelled: int,
    now: datetime,
) -> str:
    """``slurmhpo cancel``: every job cancelled, running trials stopped, the study ended;
    returns the command's result text (``cancelled`` jobs were handed to scancel)."""
    reason = f"cancelled with the study (command {command_id})"
    for job in jobs:
        write.update_job(job.id, state=JobRowState.CANCELLED, exit_reason=reason, ended_at=now)
    for trial in trials:
        if trial.state in (TrialState.PENDING, TrialState.RUNNING):
            write.trial_states[trial.number] = (TrialState.STOPPED, reason)
    result = f"cancelled {cancelled} job(s); the study ended"
    write.applied_commands.append((command_id, result))
    write.study.update(state=StudyState.CANCELLED, finished_at=now)
    return result


def record_failure(
    write: CycleWrite,
    live: Sequence[ActiveJob],
    jobs: Sequence[ActiveJob],
    reason: str,
    now: datetime,
) -> None:
    """The study fails: retries are dropped, ``live`` jobs (to be cancelled) end cancelled, and
    the trials of this cycle's ``jobs`` that still run end failed with the reason's first line."""
    write.new_jobs.clear()
    for job in live:
        write.update_job(
            job.id, state=JobRowState.CANCELLED, exit_reason="the study failed", ended_at=now
        )
    summary = reason.partition("\n")[0]
    for number in {job.trial_number for job in jobs}:
        if write.trial_states.get(number, (TrialState.RUNNING,))[0] == TrialState.RUNNING:
            write.trial_states[number] = (TrialState.FAILED, summary)
    write.study.update(state=StudyState.FAILED, finished_at=now)
