"""Queries about a study's jobs outside the cycle: its active jobs, job keys, budget inputs
(shared by the cycle's read, :mod:`slurmhpo.store.cycle`, and ``slurmhpo status``), and
replacing a study none of whose jobs started.

Same contract as :mod:`slurmhpo.store.queries`: functions take an open Session and never
commit; the caller's ``write_session`` is the transaction.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from slurmhpo.store.models import ACTIVE_JOB_STATES, Job, Study, Trial


def active_jobs(session: Session, study: Study) -> list[Job]:
    """Jobs of ``study`` that are not known to have ended, oldest first (with their trials)."""
    rows = session.scalars(
        select(Job)
        .where(Job.study_id == study.id, Job.state.in_(ACTIVE_JOB_STATES))
        .order_by(Job.id)
    )
    return list(rows)


def trial_numbers_in_state(session: Session, study: Study, state: str) -> list[int]:
    """Numbers of the study's trials in ``state``."""
    rows = session.scalars(
        select(Trial.number).where(Trial.study_id == study.id, Trial.state == state)
    )
    return list(rows)


def job_key(study: Any, job_id: int) -> str:
    """The name a backend attaches to the job, so a crash before its id was stored is healed.

    ``study`` is anything with the study row's ``id``, ``name`` and ``created_at``. The key
    carries a digest of the study's creation time, so two databases driving studies with the
    same name on one cluster never adopt each other's jobs.
    """
    stamp = study.created_at.isoformat() if study.created_at else ""
    digest = hashlib.sha1(f"{study.id}:{stamp}".encode()).hexdigest()[:8]
    return f"shpo-{study.name}-{digest}-j{job_id}"


def study_jobs_with_times(
    session: Session, study_id: int
) -> list[tuple[datetime | None, datetime | None]]:
    """(started_at, ended_at) of every job of ``study`` that started: GPU-hour accounting."""
    rows = session.execute(
        select(Job.started_at, Job.ended_at).where(
            Job.study_id == study_id, Job.started_at.is_not(None)
        )
    )
    return [(start, end) for start, end in rows]


def first_job_submitted(session: Session, study_id: int) -> datetime | None:
    """When the study's first job was submitted: the start of its wall-clock budget."""
    return session.scalar(select(func.min(Job.submitted_at)).where(Job.study_id == study_id))


def started_job_keys(session: Session, study: Study) -> tuple[bool, list[str]]:
    """Whether any job of ``study`` has an external id (it reached the backend), and the keys
    of those that have none (a crash between submit and commit may hide a started one)."""
    jobs = session.scalars(select(Job).where(Job.study_id == study.id)).all()
    started = any(job.external_id is not None for job in jobs)
    return started, [job_key(study, job.id) for job in jobs if job.external_id is None]


def delete_study(session: Session, study: Study) -> None:
    """Delete ``study`` and, by the foreign keys' ON DELETE CASCADE, everything of it."""
    session.execute(delete(Study).where(Study.id == study.id))
