"""The status document: what ``slurmhpo status --json`` prints and the dashboard serves.

Built from the store's aggregate queries in one read-only session; the schema (version 1,
keys only ever added) is documented in :mod:`slurmhpo.cli.cmd_status`. Times such as "now"
come from the DB server's clock, the one clock every controller's timestamps use.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from slurmhpo.controller.budget import gpu_hours
from slurmhpo.controller.studies import run_dir_of
from slurmhpo.scheduling import levels as level_rules
from slurmhpo.states import JobRowState
from slurmhpo.store import runtime
from slurmhpo.store import status as st
from slurmhpo.store.commands import ACTIVE_STUDY_STATES, recent_commands
from slurmhpo.store.db import read_session
from slurmhpo.store.leases import current_lease
from slurmhpo.store.models import TRIAL_STATES, Study
from slurmhpo.store.pareto_front import (
    is_multi_objective,
    named_values,
    pareto_front,
    study_objectives,
)
from slurmhpo.store.queries import best_trial, get_study, list_studies
from slurmhpo.study import StudySpec
from slurmhpo.views.encode import json_time, json_value

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

SCHEMA_VERSION = 1
RECENT = 10


def snapshot_of(engine: Engine, name: str | None) -> dict[str, Any]:
    """The status document of one study, or of every study."""
    with read_session(engine) as session:
        if name is not None:
            study = get_study(session, name)
            return {"schema_version": SCHEMA_VERSION, "study": study_detail(session, study)}
        now = st.server_time(session)
        summaries = [study_summary(session, s, n, now) for s, n in list_studies(session)]
    return {"schema_version": SCHEMA_VERSION, "studies": summaries}


def study_summary(session: Session, study: Study, n_trials: int, now: datetime) -> dict[str, Any]:
    """One line of the overview: a handful of grouped queries, whatever the study's size."""
    best = best_trial(session, study)
    spec = StudySpec.from_dict(study.spec)
    return {
        "name": study.name,
        "state": study.state,
        "n_trials": n_trials,
        "jobs": _jobs(session, study),
        "best_value": None if best is None else json_value(best.value),
        "controller": _lease(session, study),
        "budget": _budget(session, study, spec, now, n_trials),
        "last_activity": json_time(st.last_activity(session, study.id) or study.updated_at),
    }


def study_detail(session: Session, study: Study) -> dict[str, Any]:
    spec = StudySpec.from_dict(study.spec)
    now = st.server_time(session)
    counts = st.trial_state_counts(session, study.id)
    lease = _lease(session, study)
    warnings = []
    if lease is not None and not lease["live"] and study.state in ACTIVE_STUDY_STATES:
        warnings.append(
            f"the controller lease of {study.name!r} held by {lease['owner']} expired at "
            f"{lease['expires_at']} (last heartbeat {lease['heartbeat_at']}): that controller "
            f"is gone or stalled; drive the study with: slurmhpo run {study.name} "
            "(or slurmhpo daemon)"
        )
    return {
        "name": study.name,
        "state": study.state,
        "metric": study.metric,
        "mode": study.mode,
        "constraints": [c.text() for c in spec.constraints],
        "created_at": json_time(study.created_at),
        "finished_at": json_time(study.finished_at),
        "now": json_time(now),
        "run_dir": str(run_dir_of(study, spec).path),
        "trials": {
            "total": sum(counts.values()),
            "by_state": {state: counts.get(state, 0) for state in TRIAL_STATES},
        },
        "rungs": _rungs(session, study, spec),
        "incumbent": _incumbent(session, study),
        "objectives": [{"metric": m, "mode": mode} for m, mode in study_objectives(study)],
        "pareto_front": _pareto_front(session, study),
        "budget": _budget(session, study, spec, now, sum(counts.values())),
        "jobs": _jobs(session, study),
        "controller": lease,
        "decisions": [
            {
                "seq": d.seq,
                "kind": d.kind,
                "trial": number,
                "reason": d.reason,
                "created_at": json_time(d.created_at),
            }
            for d, number in st.latest_decisions(session, study.id, RECENT)
        ],
        "commands": [
            {
                "id": c.id,
                "kind": c.kind,
                "args": c.args,
                "created_at": json_time(c.created_at),
                "applied_at": json_time(c.applied_at),
                "applied_by": c.applied_by,
                "result": c.result,
            }
            for c in recent_commands(session, study.id, RECENT)
        ],
        "warnings": warnings,
    }


def study_levels(spec: StudySpec) -> tuple[str, list[int]]:
    """("rungs", the rung levels) for rung-based schedulers, else ("epochs", a few levels)."""
    return level_rules.study_levels(spec.scheduler, spec.resource.min, spec.resource.max)


def _rungs(session: Session, study: Study, spec: StudySpec) -> dict[str, Any]:
    kind, levels = study_levels(spec)
    counts = st.rung_occupancy(session, study.id, levels)
    brackets = sorted({b for b, _ in counts}, key=lambda b: -1 if b is None else b)
    if kind == "rungs" and not brackets:
        brackets = [0]
    rows = []
    for bracket in brackets or [None]:
        own = levels[bracket:] if kind == "rungs" and bracket is not None else levels
        occupancy = [{"resource": r, "trials": counts.get((bracket, r), 0)} for r in own]
        rows.append({"bracket": bracket, "occupancy": occupancy})
    return {"kind": kind, "levels": levels, "brackets": rows}


def _incumbent(session: Session, study: Study) -> dict[str, Any] | None:
    best = best_trial(session, study)
    if best is None:
        return None
    return {
        "trial": best.trial.number,
        "value": json_value(best.value),
        "resource": best.resource,
        "config": best.trial.config,
    }


def _pareto_front(session: Session, study: Study) -> list[dict[str, Any]] | None:
    """The non-dominated trials of a study with several objectives; None with one."""
    if not is_multi_objective(study):
        return None
    return [
        {
            "trial": m.trial.number,
            "resource": m.resource,
            "values": {k: json_value(v) for k, v in named_values(study, m).items()},
            "config": m.trial.config,
        }
        for m in pareto_front(session, study)
    ]


def _budget(
    session: Session, study: Study, spec: StudySpec, now: datetime, n_trials: int
) -> dict[str, Any]:
    budget = spec.budget
    used_gpu = gpu_hours(
        runtime.study_jobs_with_times(session, study.id), spec.slurm.gpus_per_task, now
    )
    first = runtime.first_job_submitted(session, study.id)
    until = study.finished_at or now
    wall = 0.0 if first is None else max(0.0, (until - first).total_seconds() / 3600.0)
    return {
        "trials": {"used": n_trials, "limit": budget.max_trials},
        "gpu_hours": {"used": round(used_gpu, 6), "limit": budget.max_gpu_hours},
        "wall_hours": {"used": round(wall, 6), "limit": budget.max_wall_hours},
    }


def _jobs(session: Session, study: Study) -> dict[str, int]:
    counts = st.job_state_counts(session, study.id)
    return {
        "pending": counts.get(JobRowState.PENDING, 0) + counts.get(JobRowState.SUBMITTED, 0),
        "running": counts.get(JobRowState.RUNNING, 0),
    }


def _lease(session: Session, study: Study) -> dict[str, Any] | None:
    found = current_lease(session, study.id)
    if found is None:
        return None
    lease, live = found
    return {
        "owner": lease.owner,
        "heartbeat_at": json_time(lease.heartbeat_at),
        "expires_at": json_time(lease.expires_at),
        "live": live,
    }
