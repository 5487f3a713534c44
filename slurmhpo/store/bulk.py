"""Bulk insertion of a made-up history, for benchmarks of the read side (the dashboard).

A real history grows one controller cycle at a time; a benchmark that must open a study of
10,000 trials and 100,000 observations cannot wait for that. :func:`insert_history` writes
plain rows in a few multi-row INSERTs. It checks nothing a scheduler would (rung rules,
states): the caller makes a history that reads like a real one. Same contract as
:mod:`slurmhpo.store.queries`: the caller's ``write_session`` commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from slurmhpo.store.models import Decision, Job, Observation, Study, Trial, encode_value

STEP_S = 60.0
CHUNK = 5_000  # rows per INSERT: SQLite's bound-parameter limit stays far away


@dataclass(frozen=True)
class MadeTrial:
    """A trial's row and what happened to it: ``segments`` as (start, target, job state)
    (one job each), ``values`` the objective at resources 1, 2, ... (one observation each),
    ``resumes`` how many resume decisions to log."""

    number: int
    config: dict[str, Any]
    state: str
    segments: Sequence[tuple[int, int, str]]
    values: Sequence[float]
    resumes: int = 0
    bracket: int = 0


def _chunks(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(model), rows[start : start + CHUNK])


def insert_history(
    session: Session, study: Study, trials: Sequence[MadeTrial], origin: datetime
) -> None:
    """Insert ``trials`` with their jobs, observations and decisions into ``study``.

    Times are made up too: trial n starts ``n * STEP_S`` after ``origin`` and each unit of
    resource takes ``STEP_S / 10``, so the anytime curve and GPU-hours have a shape.
    """

    def at(number: int, resource: int) -> datetime:
        return origin + timedelta(seconds=STEP_S * number + STEP_S / 10 * resource)

    _chunks(
        session,
        Trial,
        [
            {
                "study_id": study.id,
                "number": t.number,
                "config": t.config,
                "bracket": t.bracket,
                "state": t.state,
                "reached_resource": len(t.values) or None,
            }
            for t in trials
        ],
    )
    ids = dict(
        session.execute(select(Trial.number, Trial.id).where(Trial.study_id == study.id)).all()
    )
    _chunks(
        session,
        Job,
        [
            {
                "study_id": study.id,
                "trial_id": ids[t.number],
                "backend": "simulated",
                "external_id": f"{t.number}.{k}",
                "start_resource": start,
                "target_resource": target,
                "state": state,
                "submitted_at": at(t.number, start),
                "started_at": at(t.number, start),
                "ended_at": at(t.number, target),
            }
            for t in trials
            for k, (start, target, state) in enumerate(t.segments)
        ],
    )
    observations = []
    for t in trials:
        for resource, value in enumerate(t.values, start=1):
            stored, kind = encode_value(value)
            observations.append(
                {
                    "study_id": study.id,
                    "trial_id": ids[t.number],
                    "resource": resource,
                    "value": stored,
                    "value_kind": kind,
                    "metrics": {"loss": stored},
                    "reported_at": at(t.number, resource),
                }
            )
    _chunks(session, Observation, observations)
    decisions = [
        (ids[t.number], kind) for t in trials for kind in ["start"] + ["resume"] * t.resumes
    ]
    _chunks(
        session,
        Decision,
        [
            {"study_id": study.id, "trial_id": trial_id, "seq": seq, "kind": kind, "payload": {}}
            for seq, (trial_id, kind) in enumerate(decisions, start=study.last_decision_seq + 1)
        ],
    )
    study.last_decision_seq += len(decisions)
