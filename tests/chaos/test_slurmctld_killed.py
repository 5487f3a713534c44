"""Chaos: slurmctld is killed with SIGKILL mid-study and started again 30 s later.

The kill waits until slurmctld has saved the running jobs' allocations (see
slurm_faults.wait_for_state_save), so the jobs run on under slurmd meanwhile; all four
trials are submitted at the start (4 of 4 at once), so no job is submitted near the kill
either. squeue, scancel and sbatch fail (after ~10-20 s each: the clients retry the
connection); sacct answers from slurmdbd, but only with what slurmctld told it before it
died.

The study is ASHA stopping (eta 2, rungs 1, 2, 4) over tests/slurm/failure_trial.py, ranked
and timed by design: trial 0 is the best and fast (2 s epochs), trials 1-3 are worse and
reach rung 1 only after 15 s, when slurmctld is down; trial 0 is ahead of them there, so
each is stopped and its job must be cancelled while slurmctld cannot be reached. The
controller must stay up, back off, take no verdict from the failing queries, keep the
cancels it could not make for later, and finish the study with every invariant holding.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from slurm_faults import (
    FAILURE_TRIAL,
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
FAST_S = 2.0  # seconds per epoch of trial 0
SLOW_S = 15.0  # of trials 1-3: their rung 1 comes after the kill
NAME = "ctld-killed"


def test_slurmctld_killed_for_30_s(tmp_path: Path, slurm_cluster, restores_cluster) -> None:
    study = slurm_study_toml(
        tmp_path,
        name=NAME,
        partition=slurm_cluster.partition,
        scheduler={"type": "asha", "variant": "stopping", "eta": 2},
        budget={"max_trials": 4, "max_concurrent": 4},
        resource_max=4,
        extra_space={
            "mode": {"type": "categorical", "choices": ["ok"]},
            "sleep": {"type": "categorical", "choices": [FAST_S, SLOW_S]},
        },
        initial_configs=[
            {"x": x, "mode": "ok", "sleep": FAST_S if x == 0.3 else SLOW_S}
            for x in (0.3, 0.9, 0.8, 0.7)
        ],
        script=FAILURE_TRIAL,
    )

    def ready(rows: StudyRows) -> bool:
        return running_jobs(rows) == 4

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
    # The stopped trials' cancels could not reach slurmctld; they were made once it was back.
    assert "could not cancel" in run.log, run.log
    assert [t.state for t in sorted(run.rows.trials, key=lambda t: t.number)] == [
        "completed", "stopped", "stopped", "stopped"
    ]  # fmt: skip
    print(
        f"slurmctld down {outage[1] - outage[0]:.0f} s; run {run.wall_s:.0f} s; failed "
        f"squeue {failed_squeue}, scancel {run.log.count('could not cancel')}, sbatch "
        f"{run.log.count('cannot submit now')}; retries spent "
        f"{sum(job.attempt > 0 for job in run.rows.jobs)}; {counts}"
    )
