"""Continuing in place on the real local Slurm cluster: a promoted trial goes on in the job
that ran its first rung, so Slurm's accounting shows one job over two rungs, never requeued.

The study is ASHA promotion with ``[trial] continue_in_place``: each job's wrapper waits at
its rung for the controller's answer (slurmhpo.control) and runs the segment it is handed.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import pytest
from slurm_study_helpers import (
    cancel_by_name_prefix,
    key_prefix,
    load_study_rows,
    metric_lines,
    slurm,
    slurm_study_toml,
    wait_for_sacct_ended,
    wait_until_gone_from_squeue,
)

from slurmhpo.cli.main import main
from slurmhpo.store.db import make_engine
from tests.chaos.invariants import check_invariants

pytestmark = pytest.mark.slurm


def test_a_promoted_trial_goes_on_in_its_own_slurm_job(tmp_path: Path, slurm_cluster) -> None:
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    name = "inplace"
    path = slurm_study_toml(
        tmp_path,
        name=name,
        partition=slurm_cluster.partition,
        budget={"max_trials": 6, "max_concurrent": 2},
        trial_options={"continue_in_place": True, "hold_seconds": 30},
    )
    try:
        argv = ["run", str(path), "--db", db_url, "--poll-interval", "1", "-q"]
        assert main(argv) == 0
    finally:
        engine = make_engine(db_url)
        rows = load_study_rows(engine, name)
        if rows.jobs:
            cancel_by_name_prefix(key_prefix(rows))

    assert rows.study.state == "finished"
    assert {t.state for t in rows.trials} <= {"paused", "completed"}
    assert all(job.state == "completed" for job in rows.jobs)
    check_invariants(engine, name)

    # Each segment's own metric file holds exactly its epochs, so a segment handed to a
    # waiting job trained on from the trial's checkpoint.
    for job in rows.jobs:
        epochs = [line["epoch"] for line in metric_lines(Path(job.metric_path))]
        assert epochs == list(range(job.start_resource + 1, job.target_resource + 1))

    rows_of_job: dict[str, list] = defaultdict(list)
    for job in rows.jobs:
        rows_of_job[job.external_id].append(job)
    assert len(rows_of_job) < len(rows.jobs), "every segment was a new Slurm job"
    own = [
        slurm_id
        for slurm_id, segments in rows_of_job.items()
        if any(
            a.trial_id == b.trial_id and b.start_resource == a.target_resource
            for a, b in itertools.pairwise(segments)
        )
    ]
    assert own, "no promoted trial went on in the job that ran its previous rung"

    # Slurm's own accounting: one job, COMPLETED, that ran twice as many rungs as one
    # segment, and no requeue (sacct -D lists every run of a job id).
    accounted = wait_for_sacct_ended(list(rows_of_job))
    assert {
        job_id: accounted.get(job_id, {}).get("State") for job_id in rows_of_job
    } == dict.fromkeys(rows_of_job, "COMPLETED")
    runs = slurm(["sacct", "-D", "-X", "-n", "-P", "-o", "JobID,State", "-j", own[0]])
    assert runs.split() == [f"{own[0]}|COMPLETED"]
    assert wait_until_gone_from_squeue(key_prefix(rows)) == []
