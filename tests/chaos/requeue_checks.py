"""Studies whose jobs Slurm requeues (node failure, preemption), and what must hold after.

The trials run tests/slurm/failure_trial.py in its ``requeue`` mode: slow epochs, a
checkpoint before each report, and one line per start in ``runs.log`` next to the
checkpoints (``start=S restart=R``, R being SLURM_RESTART_COUNT), so a test can tell how
often Slurm ran a job and where each run began. FIFO gives every trial one job from epoch 0
to the maximum, so a second job of a trial could only be a retry the controller paid for.
"""

from __future__ import annotations

from pathlib import Path

from slurm_faults import FAILURE_TRIAL, FaultRun
from slurm_study_helpers import StudyRows, metric_lines, slurm, slurm_study_toml

EPOCHS = 4
EPOCH_S = 3.0  # seconds per epoch: a job runs ~12 s, long enough to be hit mid-run


def requeue_study(tmp_path: Path, name: str, partition: str, trials: int) -> Path:
    """A FIFO study of ``trials`` trials of failure_trial.py (``requeue`` mode), two at a
    time, one GPU each, ``max_retries = 1``."""
    return slurm_study_toml(
        tmp_path,
        name=name,
        partition=partition,
        scheduler={"type": "fifo"},
        budget={"max_trials": trials, "max_concurrent": 2},
        resource_max=EPOCHS,
        extra_space={
            "mode": {"type": "categorical", "choices": ["requeue"]},
            "sleep": {"type": "categorical", "choices": [EPOCH_S]},
        },
        max_retries=1,
        script=FAILURE_TRIAL,
    )


def running_and_reported(count: int):
    """A ``ready`` predicate: ``count`` jobs run and each has reported at least epoch 1, so
    each has a reported checkpoint to continue from."""

    def ready(rows: StudyRows) -> bool:
        reported = [
            job
            for job in rows.jobs
            if job.state == "running" and job.metric_path and metric_lines(Path(job.metric_path))
        ]
        return len(reported) >= count

    return ready


def slurm_runs(job_id: str) -> list[str]:
    """The state of every run of one job in sacct (-D: requeued runs too), oldest first."""
    out = slurm(["sacct", "-D", "-X", "-n", "-P", "-o", "JobID,State", "-j", job_id])
    return [line.split("|")[1].split(" ")[0] for line in out.splitlines() if "|" in line]


def check_requeued(run: FaultRun, requeue_state: str) -> list[str]:
    """Every job Slurm requeued with ``requeue_state`` (NODE_FAIL, PREEMPTED) kept its trial:
    one job per trial (no retry spent, the job row never taken for an end), the rerun
    started after the checkpoint the first run had reported, and every epoch was reported
    once. Returns the requeued jobs' ids (at least one)."""
    rows = run.rows
    assert len(rows.jobs) == len(rows.trials), "a retry job was submitted: a retry was spent"
    assert [job.attempt for job in rows.jobs] == [0] * len(rows.jobs)
    assert {t.state for t in rows.trials} == {"completed"}
    requeued = []
    for job in rows.jobs:
        runs = slurm_runs(job.external_id)
        if requeue_state not in runs:
            assert runs == ["COMPLETED"], runs
            continue
        requeued.append(job.external_id)
        assert runs == [requeue_state, "COMPLETED"], runs
        starts = (Path(job.metric_path).parents[2] / "runs.log").read_text().splitlines()
        assert len(starts) == 2 and starts[0] == "start=0 restart=", starts
        start, restart = (int(part.split("=")[1]) for part in starts[1].split())
        assert restart == 1 and start >= 1, starts[1]  # from its checkpoint, not from 0
        print(f"job {job.external_id}: runs {runs}, rerun from epoch {start}")
        epochs = [line["epoch"] for line in metric_lines(Path(job.metric_path))]
        assert epochs == list(range(1, EPOCHS + 1))  # the rerun went on right after it
    assert requeued, f"no job of the study was {requeue_state}: the fault missed them"
    return requeued
