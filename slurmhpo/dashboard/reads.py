"""The dashboard's reads: each opens one read-only session (or reuses the one read of
:func:`~slurmhpo.plots.data.load_study_data`) and returns a JSON-ready dict.

The status documents come from :mod:`slurmhpo.views.status` unchanged, so ``/api/status``
answers exactly what ``slurmhpo status --json`` prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slurmhpo.dashboard.documents import board, curves_document
from slurmhpo.plots.data import load_study_data
from slurmhpo.store import board as rows
from slurmhpo.store.db import read_session
from slurmhpo.store.queries import get_study, get_trial, summarize_trial, trial_jobs
from slurmhpo.store.queries import trial_observations as observations_of
from slurmhpo.store.status import change_marker
from slurmhpo.study import StudySpec
from slurmhpo.views.encode import json_time, json_value
from slurmhpo.views.status import snapshot_of, study_levels

if TYPE_CHECKING:
    from sqlalchemy import Engine


def status(engine: Engine, name: str | None) -> dict[str, Any]:
    """``slurmhpo status [NAME] --json``."""
    return snapshot_of(engine, name)


def study_board(engine: Engine, name: str) -> dict[str, Any]:
    """The trials table and the rung view (see :mod:`slurmhpo.dashboard.documents`): grouped
    queries and the observations at rung levels only, so it is ready before the curves."""
    with read_session(engine) as session:
        study = get_study(session, name)
        spec = StudySpec.from_dict(study.spec)
        _, levels = study_levels(spec)
        return board(
            spec,
            study.mode,
            rows.trial_rows(session, study.id),
            rows.best_values(session, study.id, study.mode),
            rows.job_counts(session, study.id),
            rows.resume_counts(session, study.id),
            rows.level_values(session, study.id, levels),
        )


def study_curves(engine: Engine, name: str) -> dict[str, Any]:
    """Every learning curve and the anytime series: all observations, one read."""
    return curves_document(load_study_data(engine, name))


def version(engine: Engine, name: str) -> dict[str, Any]:
    """A marker the study page polls; it fetches the study again only when this changes."""
    with read_session(engine) as session:
        study = get_study(session, name)
        return {"name": study.name, "version": change_marker(session, study.id)}


def trial_detail(engine: Engine, name: str, number: int) -> dict[str, Any]:
    """One trial: its row, every job (Slurm job or local process) with its outcome, and its
    observations."""
    with read_session(engine) as session:
        study = get_study(session, name)
        trial = get_trial(session, study, number)
        summary = summarize_trial(session, trial)
        jobs = trial_jobs(session, trial)
        observed = observations_of(session, trial)
        return {
            "number": trial.number,
            "state": trial.state,
            "config": trial.config,
            "bracket": trial.bracket,
            "reached": trial.reached_resource,
            "value": json_value(summary.value),
            "failure_reason": trial.failure_reason,
            "jobs": [
                {
                    "id": job.id,
                    "backend": job.backend,
                    "external_id": job.external_id,
                    "state": job.state,
                    "attempt": job.attempt,
                    "start_resource": job.start_resource,
                    "target_resource": job.target_resource,
                    "exit_reason": job.exit_reason,
                    "submitted_at": json_time(job.submitted_at),
                    "started_at": json_time(job.started_at),
                    "ended_at": json_time(job.ended_at),
                }
                for job in jobs
            ],
            "observations": [
                {
                    "resource": o.resource,
                    "value": json_value(o.objective),
                    "at": json_time(o.reported_at or o.ingested_at),
                }
                for o in observed
            ],
        }
