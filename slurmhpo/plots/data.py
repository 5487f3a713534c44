"""One read of a study for plotting: trials, observations, jobs and decisions as plain values.

Plots never touch the database themselves: :func:`load_study_data` copies what they need into
frozen dataclasses in one read-only session, so drawing (slow) holds no transaction open, and
the series functions (:mod:`slurmhpo.plots.series`) are pure and testable without a database.

Times: every time is in seconds since the study's **origin**, the submission of its first job
(the start of its wall-clock budget, as ``slurmhpo status`` counts it; the study's creation
when no job was submitted yet). An observation is dated by the trial's own report time
(``reported_at``), else by when the controller ingested it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from slurmhpo.store.db import read_session
from slurmhpo.store.queries import get_study, list_decisions, study_observations
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True)
class ObservationPoint:
    """One observation: trial number, resource, objective (NaN/inf kept), seconds since origin."""

    trial: int
    resource: int
    value: float
    at: float


@dataclass(frozen=True)
class JobSpan:
    """When one job ran, in seconds since origin; ``end`` None while it runs."""

    trial: int
    start: float
    end: float | None


@dataclass(frozen=True)
class TrialInfo:
    """A trial's final state and how often the scheduler resumed (promoted) it."""

    number: int
    state: str
    resumes: int
    jobs: int


@dataclass(frozen=True)
class StudyData:
    """Everything the plots draw, detached from the database."""

    name: str
    spec: StudySpec
    mode: str
    trials: dict[int, TrialInfo]
    observations: list[ObservationPoint]
    jobs: list[JobSpan]
    now: float  # seconds since origin of the study's end, else of its last known event


def _seconds(when: datetime | None, origin: datetime) -> float | None:
    return None if when is None else (when - origin).total_seconds()


def load_study_data(engine: Engine, name: str) -> StudyData:
    """Read study ``name`` (NotFoundError if absent); writes nothing."""
    with read_session(engine) as session:
        study = get_study(session, name)
        spec = StudySpec.from_dict(study.spec)
        trials = list(study.trials)
        all_jobs = [(trial.number, job) for trial in trials for job in trial.jobs]
        submitted = [job.submitted_at for _, job in all_jobs if job.submitted_at is not None]
        origin = min(submitted) if submitted else study.created_at
        resumes: dict[int, int] = {}
        for decision in list_decisions(session, study):
            if decision.kind == "resume" and decision.trial_id is not None:
                resumes[decision.trial_id] = resumes.get(decision.trial_id, 0) + 1
        infos = {
            t.number: TrialInfo(t.number, t.state, resumes.get(t.id, 0), len(t.jobs))
            for t in trials
        }
        points = [
            ObservationPoint(
                trial.number,
                obs.resource,
                obs.objective,
                _seconds(obs.reported_at or obs.ingested_at, origin) or 0.0,
            )
            for trial, obs in study_observations(session, study)
        ]
        spans = [
            JobSpan(number, _seconds(job.started_at, origin) or 0.0, _seconds(job.ended_at, origin))
            for number, job in all_jobs
            if job.started_at is not None
        ]
        ends = [p.at for p in points] + [s.end for s in spans if s.end is not None]
        finished = _seconds(study.finished_at, origin)
        now = finished if finished is not None else max(ends, default=0.0)
        return StudyData(study.name, spec, study.mode, infos, points, spans, now)
