"""``slurmhpo cancel`` on the real local Slurm cluster: scancel every job of the study now."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from controller_helpers import study_toml
from ops_helpers import cli, finish, snapshot, start, wait_for

pytestmark = pytest.mark.slurm

SACCT_NOT_ENDED = {"", "PENDING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"}


def slurm(*args: str) -> str:
    answer = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return answer.stdout


def sacct_state(job_id: str) -> str:
    """The job's final sacct state (first word), polled until sacct shows it ended (bounded)."""
    deadline = time.monotonic() + 120
    while True:
        lines = slurm("sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State").split()
        state = lines[0] if lines else ""
        if state not in SACCT_NOT_ENDED:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"sacct: job {job_id} still {state!r} after 120 s")
        time.sleep(0.5)


def test_cancel_scancels_every_job_of_the_study(
    tmp_path: Path, db_url: str, slurm_partition: str
) -> None:
    name = f"opscancel-{uuid.uuid4().hex[:6]}"
    path = study_toml(
        tmp_path,
        name=name,
        backend="slurm",
        scheduler={"type": "fifo"},
        budget={"max_trials": 6, "max_concurrent": 2},
        resource_max=2000,  # ~100 s per job at the toy's pace: still running when cancelled
        slurm={"partition": slurm_partition, "gpus_per_task": 1, "time_min": 10},
    )
    assert cli("submit", str(path), "--db", db_url).returncode == 0
    proc = start(
        "run", name, "--db", db_url, "--poll-interval", "0.5",
        toy_sleep=0.05, log=tmp_path / "run.log",
    )  # fmt: skip
    try:
        submitted = wait_for(
            "two submitted jobs",
            lambda: [j for j in snapshot(db_url, name)["jobs"] if j.external_id][1:] or None,
            timeout=180,
        )
        assert submitted
        answer = cli("cancel", name, "--db", db_url, "--wait", "120")
        assert answer.returncode == 0, answer.stdout + answer.stderr
        assert finish(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = snapshot(db_url, name)
    assert rows["study"].state == "cancelled"
    ids = [job.external_id for job in rows["jobs"]]
    assert len(ids) == 2 and all(ids)
    assert {job.state for job in rows["jobs"]} == {"cancelled"}

    # Nothing of the study is left in the queue, and accounting says CANCELLED for each job.
    def left() -> list[str]:
        return [line for line in slurm("squeue", "-h", "-o", "%i|%j").splitlines() if name in line]

    wait_for("the study's jobs to leave squeue", lambda: not left(), timeout=60)
    assert {job_id: sacct_state(job_id) for job_id in ids} == dict.fromkeys(ids, "CANCELLED")
