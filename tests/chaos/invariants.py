"""The invariants every chaos scenario checks once its study has ended.

* no observation lost: every valid record in every segment's metric file (a resource above the
  segment's start, up to its target) is stored, with its value;
* no observation duplicated: one row per (trial, resource) (the schema's unique key), and one
  ``result`` decision per (trial, resource): no decision was repeated;
* the decision log is gap-free (seq 1..N) and replays into a scheduler without a mismatch;
* the study ended, and no job row is left pending, submitted or running.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select

from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import event_from_dict, rebuild
from slurmhpo.store.db import read_session
from slurmhpo.store.models import Decision, Job, Observation, Study, Trial
from slurmhpo.study import StudySpec


def metric_records(job: Job, resource: str, metric: str) -> dict[int, float]:
    """resource -> value of the valid records of ``job``'s metric file inside its segment."""
    path = Path(job.metric_path or "")
    if not path.exists():
        return {}
    found: dict[int, float] = {}
    for line in path.read_bytes().split(b"\n"):
        try:
            record = json.loads(line)
            level, value = int(record[resource]), float(record[metric])
        except (ValueError, KeyError, TypeError):
            continue
        if job.start_resource < level <= job.target_resource:
            found.setdefault(level, value)
    return found


def check_invariants(engine: Engine, name: str, *, ended: tuple[str, ...] = ("finished",)) -> dict:
    """Assert the module's invariants; returns counts for the report."""
    with read_session(engine) as session:
        study = session.scalar(select(Study).where(Study.name == name))
        assert study is not None
        spec = StudySpec.from_dict(study.spec)
        trials = {t.id: t for t in session.scalars(select(Trial).where(Trial.study_id == study.id))}
        jobs = list(session.scalars(select(Job).where(Job.study_id == study.id)))
        stored = {
            (o.trial_id, o.resource): o.value
            for o in session.scalars(select(Observation).where(Observation.study_id == study.id))
        }
        decisions = list(
            session.scalars(
                select(Decision).where(Decision.study_id == study.id).order_by(Decision.seq)
            )
        )
    assert study.state in ended, f"study {name} is {study.state}"
    assert not [j.id for j in jobs if j.state in ("pending", "submitted", "running")]
    expected = 0
    for job in jobs:
        records = metric_records(job, spec.resource.name, spec.objective.metric)
        reached = trials[job.trial_id].reached_resource or 0
        for level, value in records.items():
            if level > reached:
                continue  # a report after the trial was paused or stopped is no observation
            expected += 1
            got = stored.get((job.trial_id, level))
            assert got is not None, f"lost: trial {trials[job.trial_id].number} at {level}"
            assert math.isclose(got, value, rel_tol=1e-12) or (
                math.isnan(got) and math.isnan(value)
            )
    assert [d.seq for d in decisions] == list(range(1, len(decisions) + 1))
    results = Counter(
        (d.payload["trial_id"], d.payload["resource"])
        for d in decisions
        if d.payload.get("event") == "result"
    )
    repeated = [key for key, count in results.items() if count > 1]
    assert not repeated, f"decisions repeated for (trial, resource) {repeated}"
    assert len(results) == len(stored)
    spec_dict = spec.to_dict()
    rebuild(
        lambda: make_scheduler(spec_dict, spec.space, spec.seed),
        [event_from_dict(d.payload) for d in decisions],
    )
    failed = [t.number for t in trials.values() if t.state == "failed"]
    return {
        "observations": len(stored),
        "checked_lines": expected,
        "decisions": len(decisions),
        "jobs": len(jobs),
        "failed_trials": failed,
    }
