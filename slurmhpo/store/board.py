"""Whole-study reads as plain tuples: what plots and the dashboard draw from.

A study page shows every trial and every observation (10,000 trials and 100,000 observations
must open in under 2 s), so these are one SELECT each returning column tuples, never ORM
objects or per-trial lazy loads. Same contract as :mod:`slurmhpo.store.queries`: functions
take an open Session and never write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from slurmhpo.store.models import Decision, Job, Observation, Trial, decode_value


class TrialRow(NamedTuple):
    number: int
    state: str
    config: dict[str, Any]
    bracket: int | None
    reached_resource: int | None


class PointRow(NamedTuple):
    """An observation: objective decoded (NaN/inf kept); ``at`` = reported, else ingested."""

    trial: int
    resource: int
    value: float
    at: datetime


class JobTimes(NamedTuple):
    trial: int
    submitted_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None


def trial_rows(session: Session, study_id: int) -> list[TrialRow]:
    """Every trial of the study, by number."""
    rows = session.execute(
        select(Trial.number, Trial.state, Trial.config, Trial.bracket, Trial.reached_resource)
        .where(Trial.study_id == study_id)
        .order_by(Trial.number)
    )
    return [TrialRow(*row) for row in rows]


def points(session: Session, study_id: int) -> list[PointRow]:
    """Every observation of the study, by trial number then resource."""
    rows = session.execute(
        select(
            Trial.number,
            Observation.resource,
            Observation.value,
            Observation.value_kind,
            func.coalesce(Observation.reported_at, Observation.ingested_at),
        )
        .join(Trial, Trial.id == Observation.trial_id)
        .where(Observation.study_id == study_id)
        .order_by(Trial.number, Observation.resource)
    )
    return [PointRow(n, r, decode_value(v, kind), at) for n, r, v, kind, at in rows]


def job_times(session: Session, study_id: int) -> list[JobTimes]:
    """When each job of the study was submitted, started and ended, in job order."""
    rows = session.execute(
        select(Trial.number, Job.submitted_at, Job.started_at, Job.ended_at)
        .join(Trial, Trial.id == Job.trial_id)
        .where(Job.study_id == study_id)
        .order_by(Job.id)
    )
    return [JobTimes(*row) for row in rows]


def resume_counts(session: Session, study_id: int) -> dict[int, int]:
    """Trial number -> how many times the scheduler resumed (promoted) it."""
    rows = session.execute(
        select(Trial.number, func.count(Decision.id))
        .join(Trial, Trial.id == Decision.trial_id)
        .where(Decision.study_id == study_id, Decision.kind == "resume")
        .group_by(Trial.number)
    )
    return {int(n): int(count) for n, count in rows}
