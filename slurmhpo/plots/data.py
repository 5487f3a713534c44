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

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from slurmhpo.store import board
from slurmhpo.store.db import read_session
from slurmhpo.store.queries import get_study
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine


class ObservationPoint(NamedTuple):
    """One observation: trial number, resource, objective (NaN/inf kept), seconds since origin.

    A named tuple, not a frozen dataclass: a study page builds 100,000 of them, and a frozen
    dataclass's ``__init__`` costs ten times more.
    """

    trial: int
    resource: int
    value: float
    at: float
    feasible: bool = True  # meets the study's outcome constraints


class JobSpan(NamedTuple):
    """When one job ran, in seconds since origin; ``end`` None while it runs."""

    trial: int
    start: float
    end: float | None


@dataclass(frozen=True)
class TrialInfo:
    """A trial's final state, how often the scheduler resumed (promoted) it, and (for the
    dashboard's table) its bracket, configuration and the highest resource it reached."""

    number: int
    state: str
    resumes: int
    jobs: int
    bracket: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    reached: int | None = None


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


def _seconds(when: float | None, origin: float) -> float | None:
    return None if when is None else when - origin


def load_study_data(engine: Engine, name: str) -> StudyData:
    """Read study ``name`` (NotFoundError if absent); writes nothing. Observations come
    sorted by trial number, then resource.

    Four column queries (:mod:`slurmhpo.store.board`), whatever the study's size: the
    dashboard reads every study page through here.
    """
    with read_session(engine) as session:
        study = get_study(session, name)
        spec = StudySpec.from_dict(study.spec)
        trials = board.trial_rows(session, study.id)
        jobs = board.job_times(session, study.id)
        observed = board.points(session, study.id, spec.constraints)
        resumes = board.resume_counts(session, study.id)
    submitted = [job.submitted_at for job in jobs if job.submitted_at is not None]
    origin = min(submitted) if submitted else study.created_at.timestamp()
    job_counts = Counter(job.trial for job in jobs)
    infos = {
        t.number: TrialInfo(
            t.number,
            t.state,
            resumes.get(t.number, 0),
            job_counts[t.number],
            bracket=t.bracket,
            config=t.config,
            reached=t.reached_resource,
        )
        for t in trials
    }
    points = [
        ObservationPoint(p.trial, p.resource, p.value, _seconds(p.at, origin) or 0.0, p.feasible)
        for p in observed
    ]
    spans = [
        JobSpan(job.trial, _seconds(job.started_at, origin) or 0.0, _seconds(job.ended_at, origin))
        for job in jobs
        if job.started_at is not None
    ]
    ends = [p.at for p in points] + [s.end for s in spans if s.end is not None]
    finished = None if study.finished_at is None else study.finished_at.timestamp() - origin
    now = finished if finished is not None else max(ends, default=0.0)
    return StudyData(study.name, spec, study.mode, infos, points, spans, now)
