"""Jobs that fail, time out or are requeued on the real Slurm cluster, and what the controller
makes of each (retry policy: ``max_retries = 1``).

One study runs all four cases side by side (a TIMEOUT costs ~90 s of waiting and a requeue
~30 s with the cluster's cred_expire=10, so running them one after the other would add to
the wall time on a 2-core CI machine); each test below then checks one case on the finished
study. The trials are the study's ``initial_configs``, one per mode of
tests/slurm/failure_trial.py; FIFO runs each to the maximum resource (3) in one job unless
something goes wrong.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slurm_study_helpers import (
    StudyRows,
    cancel_by_name_prefix,
    key_prefix,
    load_study_rows,
    metric_lines,
    sacct_rows,
    slurm,
    slurm_study_toml,
    start_controller,
    stop_child,
    wait_for_sacct_ended,
    wait_until_gone_from_squeue,
    watch_study,
)

from slurmhpo.cli.main import main
from slurmhpo.store.db import make_engine
from slurmhpo.store.models import Job

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("failure_trial.py")
MODES = ("fail_once", "fail_always", "timeout_once", "requeue")
STUDY = "failures"
STUDY_GIVE_UP_S = 480.0  # hang guard: a requeue reruns after ~30 s, a TIMEOUT ends after ~90 s
REQUEUE_GIVE_UP_S = 120.0


@dataclass
class FailureStudy:
    """The finished study, the DB it lives in, and what the test did to it."""

    db_url: str
    rows: StudyRows
    requeued_job: str  # the external id the test requeued

    def trial(self, mode: str):
        (found,) = [t for t in self.rows.trials if t.config["mode"] == mode]
        return found

    def jobs(self, mode: str):
        return self.rows.jobs_of(self.trial(mode).number)

    def resources(self, mode: str) -> list[int]:
        trial = self.trial(mode)
        return sorted(o.resource for o in self.rows.observations if o.trial_id == trial.id)


def _requeue_when_running(db_file: Path, controller: subprocess.Popen[bytes]) -> tuple[str, str]:
    """Wait until the ``requeue`` trial's job has reported epoch 1, then requeue it.

    Returns the job's id and the job-name prefix of the study (for the clean-up).
    """

    def requeue_job(rows: StudyRows) -> Job | None:
        jobs = [
            job
            for t in rows.trials
            if t.config["mode"] == "requeue"
            for job in rows.jobs_of(t.number)
        ]
        return jobs[0] if jobs else None

    def reported(rows: StudyRows) -> bool:
        job = requeue_job(rows)
        return (
            job is not None and bool(job.external_id) and bool(metric_lines(Path(job.metric_path)))
        )

    rows = watch_study(db_file, STUDY, reported, controller, REQUEUE_GIVE_UP_S)
    if rows is None:
        pytest.fail(
            f"the requeue trial never reported epoch 1; see {db_file.parent}/controller.log"
        )
    job = requeue_job(rows)
    assert job is not None and job.external_id
    slurm(["scontrol", "requeue", job.external_id])
    return job.external_id, key_prefix(rows)


@pytest.fixture(scope="module")
def failure_study(
    tmp_path_factory: pytest.TempPathFactory, slurm_cluster
) -> Iterator[FailureStudy]:
    tmp_path = tmp_path_factory.mktemp("failures")
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    slow = {"requeue": 5.0}  # seconds per epoch: long enough to requeue it mid-run
    path = slurm_study_toml(
        tmp_path,
        name=STUDY,
        partition=slurm_cluster.partition,
        scheduler={"type": "fifo"},
        budget={"max_trials": len(MODES), "max_concurrent": len(MODES)},
        resource_max=3,
        extra_space={
            "mode": {"type": "categorical", "choices": list(MODES)},
            "sleep": {"type": "categorical", "choices": [0.05, 5.0]},
        },
        initial_configs=[
            {"x": 0.1 * (i + 1), "mode": mode, "sleep": slow.get(mode, 0.05)}
            for i, mode in enumerate(MODES)
        ],
        time_min=1,  # the timeout_once trial sleeps past it; the others end well before
        max_retries=1,
        script=SCRIPT,
    )
    log_path = tmp_path / "controller.log"
    controller = start_controller(path, db_url, log_path)
    prefix = None
    try:
        requeued, prefix = _requeue_when_running(tmp_path / "studies.db", controller)
        try:
            code = controller.wait(timeout=STUDY_GIVE_UP_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"study not finished after {STUDY_GIVE_UP_S} s; see {log_path}")
        assert code == 0, log_path.read_text()
        rows = load_study_rows(make_engine(db_url), STUDY)
        yield FailureStudy(db_url, rows, requeued)
    finally:
        stop_child(controller)
        if prefix is not None:
            cancel_by_name_prefix(prefix)


def test_the_study_finishes_and_leaves_nothing_in_the_queue(failure_study: FailureStudy) -> None:
    rows = failure_study.rows
    assert rows.study.state == "finished"
    assert wait_until_gone_from_squeue(key_prefix(rows)) == []


def test_a_job_that_fails_once_is_retried_from_its_checkpoint(
    failure_study: FailureStudy,
) -> None:
    first, retry = failure_study.jobs("fail_once")
    assert failure_study.trial("fail_once").state == "completed"
    assert (first.state, retry.state) == ("failed", "completed")
    assert "exit code 3" in (first.exit_reason or "")
    # The retry started from the checkpoint at epoch 1 (reported before the failure at 2).
    assert (retry.start_resource, retry.attempt) == (1, 1)
    assert [line["epoch"] for line in metric_lines(Path(retry.metric_path))] == [2, 3]
    assert failure_study.resources("fail_once") == [1, 2, 3]
    accounted = wait_for_sacct_ended([first.external_id, retry.external_id])
    assert accounted[first.external_id]["State"] == "FAILED"
    assert accounted[retry.external_id]["State"] == "COMPLETED"


def test_a_job_that_keeps_failing_ends_failed_with_its_reason_shown(
    failure_study: FailureStudy, capsys: pytest.CaptureFixture[str]
) -> None:
    trial = failure_study.trial("fail_always")
    jobs = failure_study.jobs("fail_always")
    assert trial.state == "failed"
    assert [job.attempt for job in jobs] == [0, 1]  # max_retries = 1: one retry, then give up
    assert failure_study.resources("fail_always") == []
    last = jobs[-1].external_id
    assert main(["trial", STUDY, str(trial.number), "--db", failure_study.db_url]) == 0
    shown = capsys.readouterr().out
    assert f"trial {trial.number} of {STUDY!r}: failed" in shown
    assert f"failure: job {last} failed (exit code 3)" in shown
    accounted = wait_for_sacct_ended([job.external_id for job in jobs])
    assert {row["State"] for row in accounted.values()} == {"FAILED"}


def test_a_job_at_its_time_limit_is_seen_as_timeout_and_retried(
    failure_study: FailureStudy,
) -> None:
    first, retry = failure_study.jobs("timeout_once")
    assert first.state == "timeout"
    assert "hit its time limit" in (first.exit_reason or "")
    (row,) = wait_for_sacct_ended([first.external_id]).values()
    assert row["State"] == "TIMEOUT"
    # Retry policy: a TIMEOUT is retryable, so it went on from its checkpoint at epoch 1.
    assert (retry.state, retry.start_resource, retry.attempt) == ("completed", 1, 1)
    assert failure_study.trial("timeout_once").state == "completed"
    assert failure_study.resources("timeout_once") == [1, 2, 3]


def test_a_requeued_job_keeps_its_trial_going_without_duplicates(
    failure_study: FailureStudy,
) -> None:
    rows = failure_study.rows
    trial = failure_study.trial("requeue")
    (job,) = failure_study.jobs("requeue")  # the requeue was not mistaken for an end
    assert job.external_id == failure_study.requeued_job
    assert (trial.state, job.state) == ("completed", "completed")
    # Slurm really ran it twice: sacct -D keeps the requeued run's row, and the script
    # logged two starts, the second with SLURM_RESTART_COUNT=1.
    out = slurm(["sacct", "-D", "-X", "-n", "-P", "-o", "JobID,State", "-j", job.external_id])
    states = [line.split("|")[1].split(" ")[0] for line in out.splitlines()]
    assert states == ["REQUEUED", "COMPLETED"]
    runs = (Path(job.metric_path).parents[2] / "runs.log").read_text().splitlines()
    assert runs[0] == "start=0 restart="
    # The rerun continued from the newest checkpoint the first run had reported (epoch 1 was
    # reported before the requeue; epoch 2 perhaps), so no epoch was trained and reported
    # twice; the DB has each epoch once, and the scheduler saw one result per epoch.
    assert runs[1] in ("start=1 restart=1", "start=2 restart=1")
    epochs = [line["epoch"] for line in metric_lines(Path(job.metric_path))]
    assert epochs == [1, 2, 3]
    assert failure_study.resources("requeue") == [1, 2, 3]
    results = [
        d.payload["resource"]
        for d in rows.decisions
        if d.trial_id == trial.id and d.payload.get("event") == "result"
    ]
    assert results == [1, 2, 3]
    assert sacct_rows([job.external_id])[job.external_id]["State"] == "COMPLETED"
