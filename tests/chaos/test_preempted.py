"""Chaos: a higher-priority job preempts a trial's job (PreemptMode=REQUEUE).

The study runs in the low-tier partition; once two trials run and have reported, a job in
the high-tier partition asks for more GPUs than are free, so Slurm requeues a trial's job
to make room (sacct: PREEMPTED, then a second run of the same job id). For a moment squeue
shows the job COMPLETING or PENDING while sacct already says PREEMPTED, a finished state;
the controller must believe squeue. The trial keeps its one job, spends no retry, and the
rerun continues after the newest checkpoint its first run had reported.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from requeue_checks import check_requeued, requeue_study, running_and_reported
from slurm_faults import check_fault_run, drive_with_fault
from slurm_study_helpers import StudyRows, slurm

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

NAME = "preempted"
PREEMPTER_S = 5  # how long the high-priority job holds the GPUs
PREEMPTER_GIVE_UP_S = 120.0


def test_a_trial_preempted_by_a_higher_priority_job(
    tmp_path: Path, slurm_cluster, restores_cluster
) -> None:
    study = requeue_study(tmp_path, NAME, slurm_cluster.preempt_partition, trials=3)
    preempter: list[str] = []

    def fault(_rows: StudyRows) -> None:
        # Two of the four GPUs are free: asking for three takes one from a trial.
        gpus = slurm_cluster.gpus - 1
        out = slurm(["sbatch", "--parsable", "-p", slurm_cluster.partition,
                     f"--gres=gpu:{gpus}", "-t", "1", "-J", "slurmhpo-chaos-preempter",
                     "-o", "/dev/null", "--wrap", f"sleep {PREEMPTER_S}"])  # fmt: skip
        preempter.append(out.strip().split(";")[0])
        deadline = time.monotonic() + PREEMPTER_GIVE_UP_S
        while slurm(["squeue", "-h", "-j", preempter[0], "-o", "%T"]).strip():
            assert time.monotonic() < deadline, "the preempting job did not run and end"
            time.sleep(0.2)

    try:
        run = drive_with_fault(tmp_path, study, NAME, running_and_reported(2), fault)
    finally:
        if preempter:
            slurm(["scancel", preempter[0]])
    counts = check_fault_run(run)
    requeued = check_requeued(run, "PREEMPTED")
    (state,) = {line.split("|")[0] for line in _sacct(preempter[0])}
    assert state == "COMPLETED"  # the preempter really ran
    print(
        f"preempter held {slurm_cluster.gpus - 1} GPUs for {PREEMPTER_S} s; fault "
        f"{run.fault_s:.0f} s; run {run.wall_s:.0f} s; preempted jobs {len(requeued)}; {counts}"
    )


def _sacct(job_id: str) -> list[str]:
    return slurm(["sacct", "-X", "-n", "-P", "-o", "State", "-j", job_id]).splitlines()
