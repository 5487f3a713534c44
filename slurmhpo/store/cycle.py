"""The controller cycle's database work: one read and one write, as plain values.

A cycle reads what it needs in one read transaction (:func:`read_cycle`: active jobs joined
to their trials, pending operator commands, budget inputs) and, once it has decided in
memory, writes everything that followed in one write transaction (:func:`apply_cycle_write`:
observations, decisions, trial and job changes, new trials and jobs, the study row, applied
commands). Reads return frozen dataclasses, not ORM objects, so nothing the controller holds
can be flushed by accident and nothing is lazily loaded outside a transaction.

Same contract as :mod:`slurmhpo.store.queries`: functions take an open Session and never
commit; the caller's ``write_session`` block is the transaction (the controller renews its
lease in the same block, so a cycle's writes land only while it holds the study).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from slurmhpo.errors import NotFoundError
from slurmhpo.states import ACTIVE_JOB_STATES, JobRowState, StudyState, TrialState
from slurmhpo.store.db import dialect_insert
from slurmhpo.store.models import (
    Command,
    Decision,
    Job,
    Observation,
    Study,
    Trial,
    encode_value,
    server_now,
)
from slurmhpo.store.queries import Report, json_safe
from slurmhpo.store.runtime import first_job_submitted, study_jobs_with_times

STUDIES, TRIALS, JOBS = Study.__table__, Trial.__table__, Job.__table__
OBSERVATIONS, DECISIONS, COMMANDS = Observation.__table__, Decision.__table__, Command.__table__

# ---- what a cycle reads --------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveJob:
    """A job that has not ended, with what the cycle needs of its trial."""

    id: int
    trial_id: int
    trial_number: int
    external_id: str | None
    state: str
    start_resource: int
    target_resource: int
    attempt: int
    metric_path: str | None
    metric_offset: int
    submitted_at: datetime | None
    started_at: datetime | None


@dataclass(frozen=True)
class TrialInfo:
    """A trial of an active job: its config (to build requests) and progress."""

    id: int
    number: int
    config: dict[str, Any]
    reached_resource: int | None
    state: str


@dataclass(frozen=True)
class PendingCommand:
    id: int
    kind: str
    args: dict[str, Any]


@dataclass(frozen=True)
class CycleRead:
    """Everything one cycle reads, from one transaction."""

    jobs: tuple[ActiveJob, ...]
    trials: dict[int, TrialInfo]  # by trial number
    commands: tuple[PendingCommand, ...]
    started_trials: int
    unsubmitted_segments: dict[int, int]  # job id -> segment index, jobs without external id
    job_times: tuple[tuple[datetime | None, datetime | None], ...] | None  # GPU-hour input
    first_submitted: datetime | None


# Built once: a cycle only binds the study's id (statement construction, not the database,
# was most of an idle cycle's cost).
_STUDY = bindparam("study_id")
_ACTIVE_JOBS = (
    select(
        JOBS.c.id,
        JOBS.c.trial_id,
        TRIALS.c.number,
        JOBS.c.external_id,
        JOBS.c.state,
        JOBS.c.start_resource,
        JOBS.c.target_resource,
        JOBS.c.attempt,
        JOBS.c.metric_path,
        JOBS.c.metric_offset,
        JOBS.c.submitted_at,
        JOBS.c.started_at,
        TRIALS.c.config,
        TRIALS.c.reached_resource,
        TRIALS.c.state,
    )
    .join(TRIALS, TRIALS.c.id == JOBS.c.trial_id)
    .where(JOBS.c.study_id == _STUDY, JOBS.c.state.in_([s.value for s in ACTIVE_JOB_STATES]))
    .order_by(JOBS.c.id)
)
_PENDING_COMMANDS = (
    select(COMMANDS.c.id, COMMANDS.c.kind, COMMANDS.c.args)
    .where(COMMANDS.c.study_id == _STUDY, COMMANDS.c.applied_at.is_(None))
    .order_by(COMMANDS.c.id)
)
_TRIAL_COUNT = select(func.count(TRIALS.c.id)).where(TRIALS.c.study_id == _STUDY)


def read_cycle(
    session: Session, study_id: int, *, job_times: bool = False, first_submitted: bool = False
) -> CycleRead:
    """One cycle's reads; ``job_times`` / ``first_submitted`` only when a budget needs them."""
    conn = session.connection()
    study = {"study_id": study_id}
    rows = conn.execute(_ACTIVE_JOBS, study).all()
    jobs = tuple(ActiveJob(*row[:12]) for row in rows)
    trials = {row[2]: TrialInfo(row[1], row[2], dict(row[12]), row[13], row[14]) for row in rows}
    commands = tuple(
        PendingCommand(cid, kind, dict(args or {}))
        for cid, kind, args in conn.execute(_PENDING_COMMANDS, study)
    )
    unsubmitted = [job for job in jobs if job.external_id is None]
    return CycleRead(
        jobs=jobs,
        trials=trials,
        commands=commands,
        started_trials=int(conn.scalar(_TRIAL_COUNT, study) or 0),
        unsubmitted_segments=_segment_indexes(session, unsubmitted),
        job_times=tuple(study_jobs_with_times(session, study_id)) if job_times else None,
        first_submitted=first_job_submitted(session, study_id) if first_submitted else None,
    )


def has_observations(session: Session, study_id: int) -> bool:
    """Whether any observation of the study is stored."""
    found = session.connection().scalar(
        select(OBSERVATIONS.c.id).where(OBSERVATIONS.c.study_id == study_id).limit(1)
    )
    return found is not None


def _segment_indexes(session: Session, jobs: Sequence[ActiveJob]) -> dict[int, int]:
    """Each job's position among its trial's jobs (0 = first): names its segment folder."""
    if not jobs:
        return {}
    trial_ids = {job.trial_id for job in jobs}
    ids_by_trial: dict[int, list[int]] = {}
    for job_id, trial_id in session.connection().execute(
        select(Job.id, Job.trial_id).where(Job.trial_id.in_(trial_ids)).order_by(Job.id)
    ):
        ids_by_trial.setdefault(trial_id, []).append(job_id)
    return {job.id: ids_by_trial[job.trial_id].index(job.id) for job in jobs}


# ---- what a cycle writes -------------------------------------------------------------------


@dataclass(frozen=True)
class NewObservation:
    trial_number: int
    job_id: int
    report: Report


@dataclass(frozen=True)
class NewDecision:
    kind: str
    payload: dict[str, Any]
    trial_number: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class NewTrial:
    number: int
    config: dict[str, Any]
    bracket: int | None


@dataclass(frozen=True)
class NewJob:
    """A segment to run: stored as a ``pending`` row, submitted after the commit."""

    trial_number: int
    start: int
    target: int
    attempt: int


@dataclass(frozen=True)
class PendingSegment:
    """A pending job row (created by a write, or left from an earlier cycle) with what
    submitting it needs."""

    id: int
    trial_number: int
    config: dict[str, Any]
    start: int
    target: int
    segment: int
    # Checkpoint work before the job runs (slurmhpo.controller.checkpoints): copy the
    # checkpoint of trial source[0] at source[1] into this trial's, or keep its own at start.
    source: tuple[int, int] | None = None
    keep: bool = False


@dataclass
class CycleWrite:
    """Everything one cycle decided to store; empty means the cycle changed nothing."""

    observations: list[NewObservation] = field(default_factory=list)
    decisions: list[NewDecision] = field(default_factory=list)
    new_trials: list[NewTrial] = field(default_factory=list)
    new_jobs: list[NewJob] = field(default_factory=list)
    job_updates: dict[int, dict[str, Any]] = field(default_factory=dict)  # job id -> columns
    trial_states: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # by number
    reached: dict[int, int] = field(default_factory=dict)  # trial number -> resource
    study: dict[str, Any] = field(default_factory=dict)  # columns of the study row
    applied_commands: list[tuple[int, str]] = field(default_factory=list)  # (id, result)

    def __bool__(self) -> bool:
        return any(
            (
                self.observations,
                self.decisions,
                self.new_trials,
                self.new_jobs,
                self.job_updates,
                self.trial_states,
                self.reached,
                self.study,
                self.applied_commands,
            )
        )

    def update_job(self, job_id: int, **columns: Any) -> None:
        """Set columns of a job row (later calls add to earlier ones)."""
        self.job_updates.setdefault(job_id, {}).update(columns)


@dataclass(frozen=True)
class Applied:
    """What :func:`apply_cycle_write` did that the caller cannot know beforehand."""

    created: list[PendingSegment]  # the job rows it created
    study_state: str | None  # the study's state if the write set one (finishing may fail it)
    decision_seqs: tuple[int, int] | None = None  # first and last seq of the decisions written


MetricPathOf = Callable[[int, int], str]  # (trial number, segment) -> metric file path


def apply_cycle_write(
    session: Session,
    study_id: int,
    owner: str,
    write: CycleWrite,
    *,
    backend: str,
    metric_path: MetricPathOf,
) -> Applied:
    """Store ``write`` in the caller's transaction.

    A write that finishes the study (state ``finished``) ends it ``failed`` instead when it
    has trials and every one of them failed: nothing was learnt, and scripts checking the
    state or the exit code of ``slurmhpo run`` must see that.

    Order matters only for foreign keys: new trials first, then everything that names a
    trial by number. Observations are idempotent on (trial, resource) (the first value
    wins, as in :func:`~slurmhpo.store.queries.record_observations`); ``reached`` only
    raises a trial's ``reached_resource``.
    """
    conn = session.connection()
    if write.new_trials:
        conn.execute(
            insert(TRIALS),
            [
                {
                    "study_id": study_id,
                    "number": t.number,
                    "config": json_safe(t.config),
                    "bracket": t.bracket,
                    "state": TrialState.RUNNING,
                }
                for t in write.new_trials
            ],
        )
    ids = _trial_ids(session, study_id, write)
    if write.observations:
        _insert_observations(session, study_id, ids, write.observations)
    if write.reached:
        conn.execute(
            update(TRIALS)
            .where(TRIALS.c.id == bindparam("row_id"))
            .where(
                TRIALS.c.reached_resource.is_(None)
                | (TRIALS.c.reached_resource < bindparam("resource"))
            )
            .values(reached_resource=bindparam("resource")),
            [{"row_id": ids[n], "resource": r} for n, r in write.reached.items()],
        )
    trial_rows = {
        ids[number]: {"state": state, **({"failure_reason": reason} if reason else {})}
        for number, (state, reason) in write.trial_states.items()
    }
    _update_by_id(session, TRIALS, trial_rows)
    _update_by_id(session, JOBS, write.job_updates)
    seqs = _insert_decisions(session, study_id, ids, write.decisions) if write.decisions else None
    created = _insert_jobs(session, study_id, ids, write, metric_path, backend)
    if write.study.get("state") == StudyState.FINISHED and _all_trials_failed(session, study_id):
        write.study["state"] = StudyState.FAILED
    if write.study:
        conn.execute(update(STUDIES).where(STUDIES.c.id == study_id).values(**write.study))
    if write.applied_commands:
        conn.execute(
            update(COMMANDS)
            .where(COMMANDS.c.id == bindparam("row_id"), COMMANDS.c.applied_at.is_(None))
            .values(applied_at=server_now(), applied_by=owner, result=bindparam("text")),
            [{"row_id": cid, "text": result} for cid, result in write.applied_commands],
        )
    return Applied(created, write.study.get("state"), seqs)


def _all_trials_failed(session: Session, study_id: int) -> bool:
    total, failed = (
        session.connection()
        .execute(
            select(
                func.count(TRIALS.c.id),
                func.count(TRIALS.c.id).filter(TRIALS.c.state == TrialState.FAILED),
            ).where(TRIALS.c.study_id == study_id)
        )
        .one()
    )
    return bool(total) and total == failed


def _update_by_id(session: Session, table: Table, rows: dict[int, dict[str, Any]]) -> None:
    """UPDATE rows of ``table`` by id: one executemany per set of columns changed."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, columns in rows.items():
        key = tuple(sorted(columns))
        groups.setdefault(key, []).append({"row_id": row_id, **{f"v_{c}": columns[c] for c in key}})
    for key, params in groups.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({c: bindparam(f"v_{c}") for c in key})
        )
        session.connection().execute(stmt, params)


def _trial_ids(session: Session, study_id: int, write: CycleWrite) -> dict[int, int]:
    """Row ids of every trial ``write`` names, by number (one query)."""
    numbers = (
        {o.trial_number for o in write.observations}
        | {d.trial_number for d in write.decisions if d.trial_number is not None}
        | {j.trial_number for j in write.new_jobs}
        | set(write.trial_states)
        | set(write.reached)
    )
    if not numbers:
        return {}
    rows = session.connection().execute(
        select(Trial.number, Trial.id).where(Trial.study_id == study_id, Trial.number.in_(numbers))
    )
    found = {number: trial_id for number, trial_id in rows}
    missing = numbers - set(found)
    if missing:
        raise NotFoundError(f"trials {sorted(missing)} of study {study_id} vanished mid-cycle")
    return found


def _insert_observations(
    session: Session, study_id: int, ids: dict[int, int], new: list[NewObservation]
) -> None:
    rows = []
    for obs in new:
        value, kind = encode_value(obs.report.value)
        rows.append(
            {
                "study_id": study_id,
                "trial_id": ids[obs.trial_number],
                "job_id": obs.job_id,
                "resource": int(obs.report.resource),
                "value": value,
                "value_kind": kind,
                "metrics": json_safe(obs.report.metrics),
                "reported_at": obs.report.reported_at,
            }
        )
    stmt = dialect_insert(session)(OBSERVATIONS)
    stmt = stmt.on_conflict_do_nothing(index_elements=["trial_id", "resource"])
    session.connection().execute(stmt, rows)


def _insert_decisions(
    session: Session, study_id: int, ids: dict[int, int], new: list[NewDecision]
) -> tuple[int, int]:
    """Append decisions with gap-free seqs: one UPDATE of the study's counter for all;
    returns the first and last seq."""
    conn = session.connection()
    last = conn.execute(
        update(STUDIES)
        .where(STUDIES.c.id == study_id)
        .values(last_decision_seq=STUDIES.c.last_decision_seq + bindparam("count"))
        .returning(STUDIES.c.last_decision_seq),
        {"count": len(new)},
    ).scalar_one_or_none()
    if last is None:
        raise NotFoundError(f"study {study_id} vanished while logging decisions")
    first = last - len(new) + 1
    conn.execute(
        insert(DECISIONS),
        [
            {
                "study_id": study_id,
                "trial_id": None if d.trial_number is None else ids[d.trial_number],
                "seq": first + i,
                "kind": d.kind,
                "payload": json_safe(d.payload),
                "reason": d.reason,
            }
            for i, d in enumerate(new)
        ],
    )
    return first, last


def _insert_jobs(
    session: Session,
    study_id: int,
    ids: dict[int, int],
    write: CycleWrite,
    metric_path: MetricPathOf,
    backend: str,
) -> list[PendingSegment]:
    if not write.new_jobs:
        return []
    trial_ids = {ids[j.trial_number] for j in write.new_jobs}
    segments: dict[int, int] = {
        trial_id: count
        for trial_id, count in session.connection().execute(
            select(Job.trial_id, func.count(Job.id))
            .where(Job.trial_id.in_(trial_ids))
            .group_by(Job.trial_id)
        )
    }
    configs = {
        trial_id: config
        for trial_id, config in session.connection().execute(
            select(Trial.id, Trial.config).where(Trial.id.in_(trial_ids))
        )
    }
    rows = []
    for new in write.new_jobs:
        trial_id = ids[new.trial_number]
        segment = segments.get(trial_id, 0)
        segments[trial_id] = segment + 1
        rows.append(
            {
                "study_id": study_id,
                "trial_id": trial_id,
                "backend": backend,
                "start_resource": new.start,
                "target_resource": new.target,
                "attempt": new.attempt,
                "metric_path": metric_path(new.trial_number, segment),
                "state": JobRowState.PENDING,
                "segment": segment,
            }
        )
    stmt = insert(JOBS).returning(JOBS.c.id, sort_by_parameter_order=True)
    params = [{k: v for k, v in r.items() if k != "segment"} for r in rows]
    job_ids = session.connection().execute(stmt, params).scalars()
    return [
        PendingSegment(
            job_id,
            new.trial_number,
            dict(configs[row["trial_id"]]),
            new.start,
            new.target,
            row["segment"],
        )
        for job_id, new, row in zip(job_ids.all(), write.new_jobs, rows, strict=True)
    ]
