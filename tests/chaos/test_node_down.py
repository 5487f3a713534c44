"""Chaos: the node goes down mid-job (`scontrol update state=down`), then is resumed.

Slurm kills the jobs on the node and requeues them (sacct: NODE_FAIL, and a second run of
the same job id once the node is back). squeue shows such a job PENDING at once, while sacct
already says NODE_FAIL, a finished state. The controller must believe squeue (the job will
run again), so the trial keeps its one job: no retry is spent and no second job is
submitted next to Slurm's rerun. The rerun (SLURM_RESTART_COUNT=1) continues after the
newest checkpoint its first run had reported.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from requeue_checks import check_requeued, requeue_study, running_and_reported
from slurm_faults import check_fault_run, cluster_up, drive_with_fault
from slurm_study_helpers import StudyRows, key_prefix, slurm

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

NAME = "node-down"
DOWN_S = 5.0  # the node stays down this long after its jobs were requeued
REQUEUE_GIVE_UP_S = 60.0


def test_node_down_mid_job_then_resumed(tmp_path: Path, slurm_cluster, restores_cluster) -> None:
    study = requeue_study(tmp_path, NAME, slurm_cluster.partition, trials=3)

    def fault(rows: StudyRows) -> None:
        prefix = key_prefix(rows)
        slurm(["scontrol", "update", f"nodename={slurm_cluster.node}", "state=down",
               "reason=slurmhpo chaos test"])  # fmt: skip
        deadline = time.monotonic() + REQUEUE_GIVE_UP_S
        while not _all_pending(prefix):
            assert time.monotonic() < deadline, "the jobs on the DOWN node were not requeued"
            time.sleep(0.2)
        time.sleep(DOWN_S)
        cluster_up()  # `up` resumes a DOWN node

    run = drive_with_fault(tmp_path, study, NAME, running_and_reported(2), fault)
    counts = check_fault_run(run)
    requeued = check_requeued(run, "NODE_FAIL")
    print(
        f"node down {run.fault_s:.0f} s; run {run.wall_s:.0f} s; requeued jobs "
        f"{len(requeued)}; {counts}"
    )


def _all_pending(prefix: str) -> bool:
    """True when every job of the study in squeue is pending (requeued off the node)."""
    states = slurm(["squeue", "-h", "-r", "-o", "%j|%T"]).splitlines()
    ours = [line.split("|")[1] for line in states if line.startswith(prefix)]
    return bool(ours) and all(state == "PENDING" for state in ours)
