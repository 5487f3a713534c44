"""Thin query functions over a Session: the vocabulary the CLI and the controller share.

Contract: functions take an open Session and never commit; wrap writes in
``db.write_session`` so they land atomically together. Lookups of something the user named
raise NotFoundError whose message says how to list what exists.

Ranking (``best_trial``, ``list_trials(sort="metric")``, ``rung``): finite values first, ordered
by the study's mode; NaN and infinities (diverged runs) rank after every finite value, ties by
trial number. Trials compare at the highest resource they reached: a trial trained further
ranks above one stopped earlier, since values at different budgets are not comparable.
In a study with outcome constraints (:mod:`slurmhpo.constraints`), a trial whose result at
that resource breaks one is never ``best_trial``, and ``list_trials(sort="metric")`` puts it
after every feasible trial (its order among the infeasible ones is the ranking above).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from slurmhpo.constraints import Constraint, feasible, parse_constraints
from slurmhpo.errors import ConfigError, NotFoundError, StoreError
from slurmhpo.store.db import dialect_insert
from slurmhpo.store.models import (
    DECISION_KINDS,
    MODES,
    TRIAL_STATES,
    Decision,
    Job,
    Observation,
    Study,
    Trial,
    decode_value,
    encode_value,
)

RUN_KEY_DIGITS = 12  # of the uid, in the folder name: 48 random bits, and the marker guards


def json_safe(obj: Any) -> Any:
    """Copy of ``obj`` with NaN/inf floats as the strings "NaN"/"Infinity"/"-Infinity".

    JSON has no NaN, and PostgreSQL's json type rejects Python's ``NaN`` token.
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


# ---- studies -------------------------------------------------------------------------------


def create_study(
    session: Session, name: str, spec: dict[str, Any], metric: str, mode: str
) -> Study:
    """Register a new study; a taken name raises StoreError "study NAME already exists".

    The study gets a fresh ``uid`` and its folder name ``run_key`` (see :class:`Study`).
    """
    if mode not in MODES:
        raise ConfigError("objective.mode", f"{mode!r} is not a mode", "use 'min' or 'max'")
    if session.scalar(select(Study.id).where(Study.name == name)) is not None:
        raise StoreError(
            f"study {name!r} already exists (see: slurmhpo studies); choose another name"
        )
    uid = uuid.uuid4().hex
    study = Study(
        name=name,
        uid=uid,
        run_key=f"{name}-{uid[:RUN_KEY_DIGITS]}",
        spec=json_safe(spec),
        metric=metric,
        mode=mode,
    )
    session.add(study)
    session.flush()
    return study


def get_study(session: Session, name: str) -> Study:
    """The study called ``name``, or NotFoundError."""
    study = session.scalar(select(Study).where(Study.name == name))
    if study is None:
        raise NotFoundError(f"study {name!r} not found (see: slurmhpo studies)")
    return study


def list_studies(session: Session) -> list[tuple[Study, int]]:
    """Every study with its number of trials, oldest first."""
    counts = (
        select(Trial.study_id, func.count(Trial.id).label("n")).group_by(Trial.study_id).subquery()
    )
    rows = session.execute(
        select(Study, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.study_id == Study.id)
        .order_by(Study.id)
    )
    return [(study, int(n)) for study, n in rows]


# ---- trials --------------------------------------------------------------------------------


def add_trial(
    session: Session,
    study: Study,
    config: dict[str, Any],
    *,
    number: int | None = None,
    bracket: int | None = None,
) -> Trial:
    """Add a pending trial; ``number`` defaults to one past the study's highest.

    (study, number) is unique: a clash raises StoreError at flush.
    """
    if number is None:
        highest = session.scalar(select(func.max(Trial.number)).where(Trial.study_id == study.id))
        number = 0 if highest is None else highest + 1
    trial = Trial(study_id=study.id, number=number, config=json_safe(config), bracket=bracket)
    session.add(trial)
    session.flush()
    return trial


def get_trial(session: Session, study: Study, number: int) -> Trial:
    """Trial ``number`` of ``study``, or NotFoundError."""
    trial = session.scalar(select(Trial).where(Trial.study_id == study.id, Trial.number == number))
    if trial is None:
        raise NotFoundError(
            f"trial {number} of study {study.name!r} not found (see: slurmhpo trials {study.name})"
        )
    return trial


@dataclass(frozen=True)
class TrialSummary:
    """A trial with its objective at the highest resource it reached (None: no observation)."""

    trial: Trial
    resource: int | None
    value: float | None = field(default=None)


def _ranked(study_id: int) -> Select:  # type: ignore[type-arg]  # arity differs in SA 2.0/2.1
    """Trials of a study joined to their observation at ``reached_resource``."""
    return (
        select(Trial, Observation.value, Observation.value_kind)
        .outerjoin(
            Observation,
            and_(
                Observation.trial_id == Trial.id,
                Observation.resource == Trial.reached_resource,
            ),
        )
        .where(Trial.study_id == study_id)
    )


def _metric_order(study: Study) -> list[Any]:
    """ORDER BY terms: furthest resource first, then finite values by mode, then number."""
    value = Observation.value.asc() if study.mode == "min" else Observation.value.desc()
    return [
        Trial.reached_resource.is_(None),
        Trial.reached_resource.desc(),
        Observation.value.is_(None),
        value,
        Trial.number,
    ]


def _summaries(rows: Iterable[Any]) -> list[TrialSummary]:
    out = []
    for trial, value, kind in rows:
        objective = None if kind is None else decode_value(value, kind)
        out.append(TrialSummary(trial, trial.reached_resource, objective))
    return out


def study_constraints(study: Study) -> tuple[Constraint, ...]:
    """The outcome constraints of a stored study (validated when it was registered)."""
    raw = study.spec.get("constraints") or []
    resource = study.spec.get("resource")
    name = resource.get("name", "") if isinstance(resource, dict) else ""
    return parse_constraints(raw, resource_name=name)


def _feasible_first(
    rows: Iterable[Any], constraints: tuple[Constraint, ...]
) -> list[tuple[Any, Any, Any]]:
    """``(trial, value, kind)`` rows whose metrics meet ``constraints``, then the others,
    each part in its incoming order."""
    feasible_rows, others = [], []
    for trial, value, kind, metrics in rows:
        ok = metrics is not None and feasible(constraints, metrics)
        (feasible_rows if ok else others).append((trial, value, kind))
    return feasible_rows + others


def list_trials(
    session: Session,
    study: Study,
    *,
    state: str | None = None,
    sort: str = "number",
    top: int | None = None,
) -> list[TrialSummary]:
    """Trials of ``study``, optionally of one ``state``, sorted by "number" or "metric"."""
    if state is not None and state not in TRIAL_STATES:
        raise ConfigError(
            "--state", f"{state!r} is not a trial state", f"use one of {', '.join(TRIAL_STATES)}"
        )
    if sort not in ("number", "metric"):
        raise ConfigError("--sort", f"{sort!r} is not a sort key", "use 'number' or 'metric'")
    query = _ranked(study.id)
    if state is not None:
        query = query.where(Trial.state == state)
    query = query.order_by(*(_metric_order(study) if sort == "metric" else [Trial.number]))
    constraints = study_constraints(study) if sort == "metric" else ()
    if constraints:
        rows = _feasible_first(session.execute(query.add_columns(Observation.metrics)), constraints)
        return _summaries(rows[:top] if top is not None else rows)
    if top is not None:
        query = query.limit(top)
    return _summaries(session.execute(query))


def best_trial(session: Session, study: Study) -> TrialSummary | None:
    """The best trial with at least one observation (see the module's ranking), or None.

    With outcome constraints: the best trial whose result at its highest resource meets
    them, or None when no trial's does (rows are read in rank order until one does).
    """
    query = _ranked(study.id).where(Trial.reached_resource.is_not(None))
    query = query.order_by(*_metric_order(study))
    constraints = study_constraints(study)
    if not constraints:
        found = _summaries(session.execute(query.limit(1)))
        return found[0] if found else None
    for trial, value, kind, metrics in session.execute(query.add_columns(Observation.metrics)):
        if feasible(constraints, metrics):
            return _summaries([(trial, value, kind)])[0]
    return None


def summarize_trial(session: Session, trial: Trial) -> TrialSummary:
    """One trial with its objective at the highest resource it reached."""
    query = _ranked(trial.study_id).where(Trial.id == trial.id)
    (summary,) = _summaries(session.execute(query))
    return summary


def trial_jobs(session: Session, trial: Trial) -> Sequence[Job]:
    """The jobs (segments) of a trial, in submission order."""
    return session.scalars(select(Job).where(Job.trial_id == trial.id).order_by(Job.id)).all()


def trial_observations(session: Session, trial: Trial) -> Sequence[Observation]:
    """The observations of a trial, by resource."""
    query = select(Observation).where(Observation.trial_id == trial.id)
    return session.scalars(query.order_by(Observation.resource)).all()


def study_observations(session: Session, study: Study) -> list[tuple[Trial, Observation]]:
    """Every observation of a study with its trial, by trial number then resource."""
    rows = session.execute(
        select(Trial, Observation)
        .join(Observation, Observation.trial_id == Trial.id)
        .where(Trial.study_id == study.id)
        .order_by(Trial.number, Observation.resource)
    )
    return [(trial, obs) for trial, obs in rows]


# ---- observations, rungs, decisions ----------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """One report read from a metric file: the objective at ``resource`` and the whole record."""

    resource: int
    value: float
    metrics: dict[str, Any] = field(default_factory=dict)
    reported_at: datetime | None = None


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    """INSERT observations, skipping (trial, resource) pairs already stored; returns the count."""
    # RETURNING lists only the rows really inserted (rowcount of an INSERT is not portable).
    stmt = dialect_insert(session)(Observation).values(rows)
    stmt = stmt.on_conflict_do_nothing(index_elements=["trial_id", "resource"])
    return len(session.connection().execute(stmt.returning(Observation.id)).all())


def record_observations(
    session: Session, trial: Trial, reports: Iterable[Report], *, job: Job | None = None
) -> int:
    """Store reports of ``trial``; returns how many were new.

    Idempotent on (trial, resource): a resource already stored is skipped, the first value
    wins (re-reading a metric file after a crash adds nothing). Keeps
    ``trial.reached_resource`` at the highest stored resource (in the DB and on ``trial``,
    which may belong to an earlier, closed session).
    """
    rows = []
    for report in reports:
        value, kind = encode_value(report.value)
        rows.append(
            {
                "study_id": trial.study_id,
                "trial_id": trial.id,
                "job_id": None if job is None else job.id,
                "resource": int(report.resource),
                "value": value,
                "value_kind": kind,
                "metrics": json_safe(report.metrics),
                "reported_at": report.reported_at,
            }
        )
    if not rows:
        return 0
    inserted = _insert_ignoring_duplicates(session, rows)
    highest = max(row["resource"] for row in rows)
    session.execute(
        update(Trial)
        .where(Trial.id == trial.id)
        .where((Trial.reached_resource.is_(None)) | (Trial.reached_resource < highest))
        .values(reached_resource=highest)
        .execution_options(synchronize_session=False)
    )
    # The trial may be detached (loaded in an earlier session): update its attribute without
    # marking it dirty, instead of refreshing it through this session.
    reached = session.scalar(select(Trial.reached_resource).where(Trial.id == trial.id))
    set_committed_value(trial, "reached_resource", reached)
    return inserted


def rung(session: Session, study: Study, resource: int) -> list[tuple[int, float]]:
    """(trial number, value) of every trial observed at ``resource``, best first."""
    value = Observation.value.asc() if study.mode == "min" else Observation.value.desc()
    rows = session.execute(
        select(Trial.number, Observation.value, Observation.value_kind)
        .join(Trial, Trial.id == Observation.trial_id)
        .where(Observation.study_id == study.id, Observation.resource == resource)
        .order_by(Observation.value.is_(None), value, Trial.number)
    )
    return [(number, decode_value(v, kind)) for number, v, kind in rows]


def append_decision(
    session: Session,
    study: Study,
    kind: str,
    payload: dict[str, Any],
    *,
    reason: str | None = None,
    trial: Trial | None = None,
) -> Decision:
    """Append to the study's decision log with the next ``seq`` (1, 2, ...).

    The counter lives on the study row and is bumped by an UPDATE, which locks that row on
    PostgreSQL and holds the write lock on SQLite, so concurrent appenders get distinct,
    gap-free numbers in commit order.
    """
    if kind not in DECISION_KINDS:
        raise ConfigError("decision.kind", f"{kind!r} is not a decision", f"use {DECISION_KINDS}")
    seq = session.execute(
        update(Study)
        .where(Study.id == study.id)
        .values(last_decision_seq=Study.last_decision_seq + 1)
        .returning(Study.last_decision_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if seq is None:
        raise NotFoundError(f"study {study.name!r} vanished while logging a decision")
    decision = Decision(
        study_id=study.id,
        trial_id=None if trial is None else trial.id,
        seq=seq,
        kind=kind,
        payload=json_safe(payload),
        reason=reason,
    )
    session.add(decision)  # inserted with the others at commit, in one batch
    return decision


def list_decisions(session: Session, study: Study, *, after_seq: int = 0) -> Sequence[Decision]:
    """Decisions of ``study`` with seq > ``after_seq``, in order (for replay)."""
    query = select(Decision).where(Decision.study_id == study.id, Decision.seq > after_seq)
    return session.scalars(query.order_by(Decision.seq)).all()
