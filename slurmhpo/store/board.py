"""Whole-study reads as plain tuples: what plots and the dashboard draw from.

A study page shows every trial and every observation (10,000 trials and 100,000 observations
must open in under 2 s), so these are one SELECT each returning column tuples, never ORM
objects or per-trial lazy loads. Same contract as :mod:`slurmhpo.store.queries`: functions
take an open Session and never write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Float, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from slurmhpo.constraints import Constraint, feasible
from slurmhpo.store.models import Decision, Job, Observation, Trial, decode_value


class epoch_seconds(FunctionElement[float]):
    """A timestamp column as seconds since 1970 (UTC), computed by the database: turning
    100,000 stored times into Python datetimes costs more than the whole query."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_default(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    # stored as naive UTC text; julianday reads it to the millisecond
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


class TrialRow(NamedTuple):
    """A trial, and its objective at the highest resource it reached (None: no observation;
    NaN/inf kept)."""

    number: int
    state: str
    config: dict[str, Any]
    bracket: int | None
    reached_resource: int | None
    value: float | None


class PointRow(NamedTuple):
    """An observation: objective decoded (NaN/inf kept); ``at`` = reported, else ingested,
    in seconds since 1970 (UTC)."""

    trial: int
    resource: int
    value: float
    at: float
    feasible: bool = True  # meets the study's outcome constraints


class JobTimes(NamedTuple):
    """When a job was submitted, started and ended, in seconds since 1970 (UTC)."""

    trial: int
    submitted_at: float | None
    started_at: float | None
    ended_at: float | None


def trial_rows(session: Session, study_id: int) -> list[TrialRow]:
    """Every trial of the study, by number, with its objective where it got furthest."""
    rows = session.execute(
        select(
            Trial.number,
            Trial.state,
            Trial.config,
            Trial.bracket,
            Trial.reached_resource,
            Observation.value,
            Observation.value_kind,
        )
        .outerjoin(
            Observation,
            and_(
                Observation.trial_id == Trial.id,
                Observation.resource == Trial.reached_resource,
            ),
        )
        .where(Trial.study_id == study_id)
        .order_by(Trial.number)
    )
    return [
        TrialRow(n, state, config, bracket, reached, _decoded(value, kind))
        for n, state, config, bracket, reached, value, kind in rows
    ]


def _decoded(value: float | None, kind: str | None) -> float | None:
    if kind is None:
        return None
    return value if kind == "finite" else decode_value(value, kind)


def best_values(session: Session, study_id: int, mode: str) -> dict[int, float]:
    """Trial number -> its best finite objective at any resource (trials with none absent);
    one grouped query (non-finite values are stored as NULL, which MIN and MAX skip)."""
    best = func.min(Observation.value) if mode == "min" else func.max(Observation.value)
    rows = session.execute(
        select(Trial.number, best)
        .join(Trial, Trial.id == Observation.trial_id)
        .where(Observation.study_id == study_id)
        .group_by(Trial.number)
    )
    return {int(n): float(v) for n, v in rows if v is not None}


def job_counts(session: Session, study_id: int) -> dict[int, int]:
    """Trial number -> how many jobs (segments) it ran."""
    rows = session.execute(
        select(Trial.number, func.count(Job.id))
        .join(Trial, Trial.id == Job.trial_id)
        .where(Job.study_id == study_id)
        .group_by(Trial.number)
    )
    return {int(n): int(count) for n, count in rows}


def level_values(
    session: Session, study_id: int, levels: list[int]
) -> list[tuple[int, int, float]]:
    """(trial number, resource, objective) of every observation at one of ``levels``: the
    rungs, without the observations between them."""
    if not levels:
        return []
    rows = session.execute(
        select(Trial.number, Observation.resource, Observation.value, Observation.value_kind)
        .join(Trial, Trial.id == Observation.trial_id)
        .where(Observation.study_id == study_id, Observation.resource.in_(set(levels)))
    )
    return [(n, r, v if kind == "finite" else decode_value(v, kind)) for n, r, v, kind in rows]


def points(
    session: Session, study_id: int, constraints: Sequence[Constraint] = ()
) -> list[PointRow]:
    """Every observation of the study, by trial number then resource, each judged by
    ``constraints`` (the metrics column is read only when there are some)."""
    columns = [
        Trial.number,
        Observation.resource,
        Observation.value,
        Observation.value_kind,
        epoch_seconds(func.coalesce(Observation.reported_at, Observation.ingested_at)),
    ]
    if constraints:
        columns.append(Observation.metrics)
    rows = session.execute(
        select(*columns)
        .join(Trial, Trial.id == Observation.trial_id)
        .where(Observation.study_id == study_id)
        .order_by(Trial.number, Observation.resource)
    )
    if not constraints:
        return [
            PointRow(n, r, v if kind == "finite" else decode_value(v, kind), at)
            for n, r, v, kind, at in rows
        ]
    return [
        PointRow(
            n,
            r,
            v if kind == "finite" else decode_value(v, kind),
            at,
            metrics is not None and feasible(constraints, metrics),
        )
        for n, r, v, kind, at, metrics in rows
    ]


def job_times(session: Session, study_id: int) -> list[JobTimes]:
    """When each job of the study was submitted, started and ended, in job order."""
    rows = session.execute(
        select(
            Trial.number,
            epoch_seconds(Job.submitted_at),
            epoch_seconds(Job.started_at),
            epoch_seconds(Job.ended_at),
        )
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
