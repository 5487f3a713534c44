"""ASHA studies driven by `slurmhpo run` on the real local Slurm cluster, end to end.

Promotion: trials pause at rungs and are resumed as new jobs from their checkpoints; the rungs
in the database must equal a replay of the scheduler on the stored history, and every job must
have COMPLETED in Slurm's own accounting. Stopping: a trial stopped at a rung is scancelled by
the controller (CANCELLED in sacct) and nothing it wrote after that rung becomes an
observation, although its job kept writing lines until the cancel reached it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from slurm_study_helpers import (
    cancel_by_name_prefix,
    key_prefix,
    load_study_rows,
    metric_lines,
    replayed_rungs,
    slurm_study_toml,
    stored_rungs,
    wait_for_sacct_ended,
    wait_until_gone_from_squeue,
)

from slurmhpo.cli.main import main
from slurmhpo.store.db import make_engine

pytestmark = pytest.mark.slurm


def run_study(path: Path, db_url: str, poll_interval: float = 1.0) -> int:
    return main(["run", str(path), "--db", db_url, "--poll-interval", str(poll_interval), "-q"])


def test_asha_promotion_study_on_slurm(tmp_path: Path, slurm_cluster) -> None:
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    path = slurm_study_toml(
        tmp_path,
        name="promo",
        partition=slurm_cluster.partition,
        budget={"max_trials": 12, "max_concurrent": slurm_cluster.gpus},
    )
    try:
        assert run_study(path, db_url) == 0
    finally:
        rows = load_study_rows(make_engine(db_url), "promo")
        if rows.jobs:
            cancel_by_name_prefix(key_prefix(rows))

    assert rows.study.state == "finished"
    assert len(rows.trials) == 12
    assert {t.state for t in rows.trials} <= {"paused", "completed"}
    assert "completed" in {t.state for t in rows.trials}
    assert all(job.state == "completed" for job in rows.jobs)

    # Paused trials were resumed from their checkpoints: each segment's own metric file holds
    # exactly the epochs from its start to its target, so a resumed segment continued.
    by_trial: dict[int, list] = defaultdict(list)
    for job in rows.jobs:
        by_trial[job.trial_id].append(job)
    assert any(len(jobs) > 1 for jobs in by_trial.values()), "no trial was promoted"
    for jobs in by_trial.values():
        chained: list[int] = []
        for job in jobs:
            epochs = [line["epoch"] for line in metric_lines(Path(job.metric_path))]
            assert epochs == list(range(job.start_resource + 1, job.target_resource + 1))
            chained += epochs
        assert chained == list(range(1, chained[-1] + 1))

    # The rungs in the DB equal a replay of the scheduler on the stored history.
    replay = replayed_rungs(rows)
    assert replay, "the replayed scheduler has no rungs"
    assert stored_rungs(rows, list(replay)) == replay

    # Slurm's view: every job COMPLETED, none of the study's jobs left in the queue.
    external = [job.external_id for job in rows.jobs]
    assert all(external)
    accounted = wait_for_sacct_ended(external)
    assert {job_id: accounted.get(job_id, {}).get("State") for job_id in external} == dict.fromkeys(
        external, "COMPLETED"
    )
    assert wait_until_gone_from_squeue(key_prefix(rows)) == []


def test_asha_stopping_cancels_a_stopped_trial(tmp_path: Path, slurm_cluster) -> None:
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    path = slurm_study_toml(
        tmp_path,
        name="stopping",
        partition=slurm_cluster.partition,
        scheduler={"type": "asha", "variant": "stopping", "eta": 3},
        budget={"max_trials": 8, "max_concurrent": slurm_cluster.gpus},
        # 1 s per epoch, polled every 4 s: a trial stopped at rung 1 or 3 has usually written
        # a few more epochs before the controller sees its rung line, and still has 5+ s to
        # run when the cancel comes (at most one poll interval plus one cycle later).
        env={"TOY_SLEEP": "1"},
    )
    try:
        assert run_study(path, db_url, poll_interval=4.0) == 0
    finally:
        rows = load_study_rows(make_engine(db_url), "stopping")
        if rows.jobs:
            cancel_by_name_prefix(key_prefix(rows))

    assert rows.study.state == "finished"
    stopped = [t for t in rows.trials if t.state == "stopped"]
    assert stopped, "no trial was stopped at a rung"
    stop_at = {d.trial_id: d.payload["resource"] for d in rows.decisions if d.kind == "stop"}
    for trial in stopped:
        (job,) = rows.jobs_of(trial.number)
        assert job.state == "cancelled"
        # It wrote no observation above the rung where it was stopped...
        reached = {o.resource for o in rows.observations if o.trial_id == trial.id}
        assert max(reached) == stop_at[trial.id]
        # ...and Slurm says the controller cancelled its job.
        (row,) = wait_for_sacct_ended([job.external_id]).values()
        assert row["State"].startswith("CANCELLED")
    # At least one stopped job had written past its rung before the cancel reached it: the
    # "no later observation" check above was not vacuous.
    later = [
        line
        for trial in stopped
        for line in metric_lines(Path(rows.jobs_of(trial.number)[0].metric_path))
        if line["epoch"] > stop_at[trial.id]
    ]
    assert later, "no stopped job wrote a line past its rung; the test proved nothing"
    assert wait_until_gone_from_squeue(key_prefix(rows)) == []
