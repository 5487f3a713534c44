"""Population-based training on the real local Slurm cluster: every segment is a Slurm job,
and an exploiting trial's first job starts from the donor's checkpoint that the controller
copied before submitting it (the checks of tests/controller/test_pbt_local.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from slurm_study_helpers import (
    cancel_by_name_prefix,
    key_prefix,
    load_study_rows,
    metric_lines,
    slurm_study_toml,
    wait_for_sacct_ended,
    wait_until_gone_from_squeue,
)
from test_pbt_local import PBT_STUDY, check_pbt_study

from slurmhpo.cli.main import main
from slurmhpo.store.db import make_engine

pytestmark = pytest.mark.slurm


def test_pbt_exploits_from_copied_checkpoints_in_slurm_jobs(tmp_path: Path, slurm_cluster) -> None:
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    path = slurm_study_toml(tmp_path, name="pbt", partition=slurm_cluster.partition, **PBT_STUDY)
    try:
        assert main(["run", str(path), "--db", db_url, "--poll-interval", "0.2", "-q"]) == 0
    finally:
        rows = load_study_rows(make_engine(db_url), "pbt")
        if rows.jobs:
            cancel_by_name_prefix(key_prefix(rows))
    check_pbt_study(tmp_path, db_url)
    accounted = wait_for_sacct_ended([job.external_id for job in rows.jobs])
    assert len(accounted) == len(rows.jobs) > rows.study.spec["budget"]["max_trials"]
    stopped = {t.id for t in rows.trials if t.state == "stopped"}
    for job in rows.jobs:
        state = accounted[job.external_id]["State"]
        # a job whose trial was stopped at its boundary may be scancelled as it exits
        assert state == "COMPLETED" or (state.startswith("CANCELLED") and job.trial_id in stopped)
        lines = metric_lines(Path(job.metric_path))  # every segment ran whole all the same
        assert [line["epoch"] for line in lines] == list(
            range(job.start_resource + 1, job.target_resource + 1)
        )
    assert wait_until_gone_from_squeue(key_prefix(rows)) == []
