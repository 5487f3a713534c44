"""Read-only aggregate queries behind ``slurmhpo status``: counts, rung occupancy, the clock.

Each is one grouped SELECT, so a status refresh costs a handful of queries whatever the size
of the study (no per-trial round trips). Same contract as :mod:`slurmhpo.store.queries`:
functions take an open Session and never write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from slurmhpo.store.models import (
    Decision,
    Job,
    Observation,
    Study,
    Trial,
    UTCDateTime,
    server_now,
)


def server_time(session: Session) -> datetime:
    """The DB server's current UTC time: the clock every controller's timestamps come from."""
    now = session.scalar(select(type_coerce(server_now(), UTCDateTime)))
    if now is None:  # pragma: no cover - a database always answers a clock query
        return datetime.now(UTC)
    return now


def trial_state_counts(session: Session, study_id: int) -> dict[str, int]:
    """How many trials of the study are in each state (states with no trial are absent)."""
    rows = session.execute(
        select(Trial.state, func.count(Trial.id))
        .where(Trial.study_id == study_id)
        .group_by(Trial.state)
    )
    return {state: int(n) for state, n in rows}


def job_state_counts(session: Session, study_id: int) -> dict[str, int]:
    """How many jobs of the study are in each state, as the database last recorded it."""
    rows = session.execute(
        select(Job.state, func.count(Job.id)).where(Job.study_id == study_id).group_by(Job.state)
    )
    return {state: int(n) for state, n in rows}


def rung_occupancy(
    session: Session, study_id: int, levels: Sequence[int]
) -> dict[tuple[int | None, int], int]:
    """(trial bracket, resource level) -> number of trials observed at that level."""
    if not levels:
        return {}
    rows = session.execute(
        select(Trial.bracket, Observation.resource, func.count(Observation.id))
        .join(Trial, Trial.id == Observation.trial_id)
        .where(Observation.study_id == study_id, Observation.resource.in_(set(levels)))
        .group_by(Trial.bracket, Observation.resource)
    )
    return {(bracket, int(resource)): int(n) for bracket, resource, n in rows}


def last_activity(session: Session, study_id: int) -> datetime | None:
    """The latest change to a trial (a state change, a new reached resource) or the latest
    observation ingested, by the DB server's clock; None for a study with no trial."""
    trial = session.scalar(select(func.max(Trial.updated_at)).where(Trial.study_id == study_id))
    observed = session.scalar(
        select(func.max(Observation.ingested_at)).where(Observation.study_id == study_id)
    )
    return max((t for t in (trial, observed) if t is not None), default=None)


def latest_decisions(
    session: Session, study_id: int, limit: int = 10
) -> list[tuple[Decision, int | None]]:
    """The study's latest ``limit`` decisions, newest first, with their trial's number."""
    rows = session.execute(
        select(Decision, Trial.number)
        .outerjoin(Trial, Trial.id == Decision.trial_id)
        .where(Decision.study_id == study_id)
        .order_by(Decision.seq.desc())
        .limit(limit)
    )
    return [(decision, number) for decision, number in rows]


def change_marker(session: Session, study_id: int) -> list[Any]:
    """Values that change whenever anything a study page shows changes: the study row (state,
    decision count), trials (latest update), observations (count, newest id) and job states.

    A handful of index-backed aggregates, so a page can poll it every few seconds and fetch
    the whole study again only when it moved.
    """
    study = session.execute(
        select(Study.state, Study.last_decision_seq, Study.updated_at).where(Study.id == study_id)
    ).one_or_none()
    trial = session.scalar(select(func.max(Trial.updated_at)).where(Trial.study_id == study_id))
    observed = session.execute(
        select(func.count(Observation.id), func.max(Observation.id)).where(
            Observation.study_id == study_id
        )
    ).one()
    jobs = sorted(job_state_counts(session, study_id).items())
    return [
        None if study is None else [study[0], study[1], study[2].isoformat()],
        None if trial is None else trial.isoformat(),
        list(observed),
        [list(pair) for pair in jobs],
    ]
