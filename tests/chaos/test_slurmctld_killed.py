"""Chaos: slurmctld is killed with SIGKILL mid-study and started again 30 s later.

The kill waits until slurmctld has saved the running jobs' allocations (see
slurm_faults.wait_for_state_save), so the jobs run on under slurmd meanwhile. squeue,
scancel and sbatch fail (after ~10-20 s each: the clients retry the connection); sacct
answers from slurmdbd, but only with what slurmctld told it before it died. The study is
ASHA stopping (eta 2, rungs 1, 2, 4, 8) over trials whose first four are ranked by design
(the first the best), so trials reach rungs and are stopped (scancel) while slurmctld is
down. The controller must stay up, back off, take no verdict from the failing queries, keep
the cancels it could not make for later, and finish the study with every invariant holding.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from slurm_faults import (
    check_fault_run,
    cluster_up,
    drive_with_fault,
    kill_daemon,
    running_jobs,
    wait_for_state_save,
)
from slurm_study_helpers import StudyRows, slurm_study_toml

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

OUTAGE_S = 30.0  # issue #12: restarted 30 s later
NAME = "ctld-killed"


def test_slurmctld_killed_for_30_s(tmp_path: Path, slurm_cluster, restores_cluster) -> None:
    study = slurm_study_toml(
        tmp_path,
        name=NAME,
        partition=slurm_cluster.partition,
        scheduler={"type": "asha", "variant": "stopping", "eta": 2},
        budget={"max_trials": 6, "max_concurrent": slurm_cluster.gpus},
        resource_max=8,
        env={"TOY_SLEEP": "2"},
        initial_configs=[{"x": x} for x in (0.3, 0.9, 0.8, 0.7)],
    )

    def ready(rows: StudyRows) -> bool:
        return running_jobs(rows) >= 3

    outage: list[float] = []

    def fault(_rows: StudyRows) -> None:
        wait_for_state_save(time.time())  # the jobs' allocations are in the saved state
        kill_daemon("slurmctld")
        outage.append(time.monotonic())
        time.sleep(OUTAGE_S)
        cluster_up()
        outage.append(time.monotonic())

    def during(controller: subprocess.Popen[bytes]) -> None:
        assert controller.poll() is None, "the controller exited while slurmctld was down"

    run = drive_with_fault(tmp_path, study, NAME, ready, fault, during)
    counts = check_fault_run(run)
    # It met the outage and backed off: squeue failed, and its failures were spaced out
    # (2, 4, 8, 16 s...), not one per 0.5 s poll.
    failed_squeue = run.log.count("squeue exited 1: slurm_load_jobs error: Unable to contact")
    assert failed_squeue >= 1, run.log
    # A stopped trial's cancel could not reach slurmctld; it was made once it was back.
    assert "could not cancel" in run.log, run.log
    assert "stopped" in {t.state for t in run.rows.trials}
    print(
        f"slurmctld down {outage[1] - outage[0]:.0f} s; run {run.wall_s:.0f} s; failed "
        f"squeue {failed_squeue}, scancel {run.log.count('could not cancel')}, sbatch "
        f"{run.log.count('cannot submit now')}; retries spent "
        f"{sum(job.attempt > 0 for job in run.rows.jobs)}; {counts}"
    )
