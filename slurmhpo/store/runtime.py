"""Queries the controller runs every cycle: the jobs it watches and their transitions.

Same contract as :mod:`slurmhpo.store.queries`: functions take an open Session and never
commit; the controller groups them in one ``write_session`` per step, so that what it decided
and what it recorded land together (a crash loses the whole step, never half of it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from slurmhpo.states import JobRowState, TrialState
from slurmhpo.store.models import ACTIVE_JOB_STATES, JOB_STATES, TRIAL_STATES, Job, Study, Trial
from slurmhpo.store.queries import json_safe


def active_jobs(session: Session, study: Study) -> list[Job]:
    """Jobs of ``study`` that are not known to have ended, oldest first (with their trials)."""
    rows = session.scalars(
        select(Job)
        .where(Job.study_id == study.id, Job.state.in_(ACTIVE_JOB_STATES))
        .order_by(Job.id)
    )
    return list(rows)


def trials_by_number(session: Session, study: Study, numbers: Sequence[int]) -> dict[int, Trial]:
    """The trials of ``study`` with these numbers, keyed by number."""
    if not numbers:
        return {}
    rows = session.scalars(
        select(Trial).where(Trial.study_id == study.id, Trial.number.in_(set(numbers)))
    )
    return {trial.number: trial for trial in rows}


def trial_numbers_in_state(session: Session, study: Study, state: str) -> list[int]:
    """Numbers of the study's trials in ``state``."""
    rows = session.scalars(
        select(Trial.number).where(Trial.study_id == study.id, Trial.state == state)
    )
    return list(rows)


def trial_count(session: Session, study: Study) -> int:
    """How many trials ``study`` has started (every state counts against max_trials)."""
    count = session.scalar(select(func.count(Trial.id)).where(Trial.study_id == study.id))
    return int(count or 0)


def segment_count(session: Session, trial: Trial) -> int:
    """How many jobs ``trial`` had so far: the next job's segment number."""
    count = session.scalar(select(func.count(Job.id)).where(Job.trial_id == trial.id))
    return int(count or 0)


def create_trial(
    session: Session, study: Study, number: int, config: dict[str, Any], bracket: int
) -> Trial:
    """A new running trial with the scheduler's own number."""
    trial = Trial(
        study_id=study.id,
        number=number,
        config=json_safe(config),
        bracket=bracket,
        state=TrialState.RUNNING,
    )
    session.add(trial)
    session.flush()
    return trial


def create_job(
    session: Session,
    trial: Trial,
    *,
    backend: str,
    start: int,
    target: int,
    attempt: int,
    metric_path: str,
) -> Job:
    """A job row in state ``pending`` (not yet submitted); its key is :func:`job_key`."""
    job = Job(
        study_id=trial.study_id,
        trial_id=trial.id,
        backend=backend,
        start_resource=start,
        target_resource=target,
        attempt=attempt,
        metric_path=metric_path,
        state=JobRowState.PENDING,
    )
    session.add(job)
    session.flush()
    return job


def job_key(study: Any, job_id: int) -> str:
    """The name a backend attaches to the job, so a crash before its id was stored is healed.

    ``study`` is anything with the study row's ``id``, ``name`` and ``created_at``. The key
    carries a digest of the study's creation time, so two databases driving studies with the
    same name on one cluster never adopt each other's jobs.
    """
    stamp = study.created_at.isoformat() if study.created_at else ""
    digest = hashlib.sha1(f"{study.id}:{stamp}".encode()).hexdigest()[:8]
    return f"shpo-{study.name}-{digest}-j{job_id}"


def set_job_state(
    session: Session,
    job: Job,
    state: str,
    *,
    external_id: str | None = None,
    exit_reason: str | None = None,
    submitted_at: datetime | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> None:
    """Move ``job`` to ``state``; timestamps and ids are set only when given (never erased)."""
    if state not in JOB_STATES:
        raise ValueError(f"unknown job state {state!r}")
    job.state = state
    if external_id is not None:
        job.external_id = external_id
    if exit_reason is not None:
        job.exit_reason = exit_reason
    if submitted_at is not None and job.submitted_at is None:
        job.submitted_at = submitted_at
    if started_at is not None and job.started_at is None:
        job.started_at = started_at
    if ended_at is not None:
        job.ended_at = ended_at


def set_trial_state(session: Session, trial: Trial, state: str, reason: str | None = None) -> None:
    """Move ``trial`` to ``state``; a failure reason is kept for ``slurmhpo trial``."""
    if state not in TRIAL_STATES:
        raise ValueError(f"unknown trial state {state!r}")
    trial.state = state
    if reason is not None:
        trial.failure_reason = reason


def study_jobs_with_times(
    session: Session, study: Study
) -> list[tuple[datetime | None, datetime | None]]:
    """(started_at, ended_at) of every job of ``study`` that started: GPU-hour accounting."""
    rows = session.execute(
        select(Job.started_at, Job.ended_at).where(
            Job.study_id == study.id, Job.started_at.is_not(None)
        )
    )
    return [(start, end) for start, end in rows]


def first_job_submitted(session: Session, study: Study) -> datetime | None:
    """When the study's first job was submitted: the start of its wall-clock budget."""
    return session.scalar(select(func.min(Job.submitted_at)).where(Job.study_id == study.id))


def segment_index(session: Session, job: Job) -> int:
    """The job's position among its trial's jobs (0 = first): names its segment folder."""
    count = session.scalar(
        select(func.count(Job.id)).where(Job.trial_id == job.trial_id, Job.id < job.id)
    )
    return int(count or 0)


def jobs_by_id(session: Session, ids: Sequence[int]) -> list[Job]:
    """Jobs with these ids, loaded in ``session`` (for updates), in id order."""
    if not ids:
        return []
    return list(session.scalars(select(Job).where(Job.id.in_(set(ids))).order_by(Job.id)))


def trials_by_id(session: Session, ids: Sequence[int] | set[int]) -> dict[int, Trial]:
    """Trials with these row ids, keyed by id."""
    if not ids:
        return {}
    return {t.id: t for t in session.scalars(select(Trial).where(Trial.id.in_(set(ids))))}


def started_job_keys(session: Session, study: Study) -> tuple[bool, list[str]]:
    """Whether any job of ``study`` has an external id (it reached the backend), and the keys
    of those that have none (a crash between submit and commit may hide a started one)."""
    jobs = session.scalars(select(Job).where(Job.study_id == study.id)).all()
    started = any(job.external_id is not None for job in jobs)
    return started, [job_key(study, job.id) for job in jobs if job.external_id is None]


def delete_study(session: Session, study: Study) -> None:
    """Delete ``study`` and, by the foreign keys' ON DELETE CASCADE, everything of it."""
    session.execute(delete(Study).where(Study.id == study.id))
