"""pause / resume / stop / cancel / extend / submit against real jobs.

A ``slurmhpo run`` controller drives the toy study in a subprocess; the commands are given
through the CLI (another process), as an operator would, and the outcome is read from the DB.
pause/resume, stop and extend run twice: on local processes and on the real local Slurm
cluster (``cancel`` on Slurm is tests/ops/test_slurm_cancel.py, which also asks sacct).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from controller_helpers import study_toml
from ops_helpers import CLI, active_jobs, cli, finish, snapshot, start, wait_for

from slurmhpo.backends.base import JobState, JobStatus
from slurmhpo.backends.local import LocalBackend
from slurmhpo.store.db import make_engine, write_session
from slurmhpo.store.queries import get_study


@pytest.fixture(params=["local", pytest.param("slurm", marks=pytest.mark.slurm)])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """study_toml arguments for the backend under test (Slurm: one fake GPU per job)."""
    if request.param == "local":
        return {"backend": "local"}
    partition = request.getfixturevalue("slurm_partition")
    return {"backend": "slurm", "slurm": {"partition": partition, "gpus_per_task": 1}}


def fifo_study(tmp_path: Path, backend: dict[str, Any] | None = None, **budget: int) -> Path:
    return study_toml(
        tmp_path,
        scheduler={"type": "fifo"},
        budget={"max_concurrent": 2, **budget},
        resource_max=4,
        **(backend or {}),
    )


def run_controller(
    tmp_path: Path, path: Path, db_url: str, toy_sleep: float
) -> subprocess.Popen[bytes]:
    """Register the study (so the DB exists before any probe), then drive it in a subprocess."""
    assert cli("submit", str(path), "--db", db_url).returncode == 0
    return start(
        "run", "toy", "--db", db_url, "--poll-interval", "0.1",
        toy_sleep=toy_sleep, log=tmp_path / "run.log",
    )  # fmt: skip


def command(db_url: str, *args: str) -> str:
    """Give a lifecycle command and wait (bounded) until the controller acknowledged it."""
    answer = cli(*args, "--db", db_url, "--wait", "60")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "applied:" in answer.stdout
    return answer.stdout


def more_cycles(db_url: str) -> None:
    """Wait until the controller has run at least one more cycle (its heartbeat moved on)."""
    beat = snapshot(db_url, "toy")["lease"].heartbeat_at
    wait_for("more controller cycles", lambda: snapshot(db_url, "toy")["lease"].heartbeat_at > beat)


def test_pause_holds_new_jobs_and_resume_releases_them(
    tmp_path: Path, db_url: str, backend: dict[str, Any]
) -> None:
    path = fifo_study(tmp_path, backend, max_trials=6)
    # 4 s per trial: a loaded machine must not run all 6 before the pause command lands
    proc = run_controller(tmp_path, path, db_url, toy_sleep=1.0)
    try:
        wait_for("a first job", lambda: snapshot(db_url, "toy").get("jobs"))
        assert "running -> paused" in command(db_url, "pause", "toy")
        held = snapshot(db_url, "toy")
        assert held["study"].state == "paused"
        n_jobs = len(held["jobs"])
        # Every job that ran when the pause applied ends; the controller keeps cycling (its
        # heartbeat moves on) with free slots, yet submits nothing.
        idle = wait_for("the running jobs to end", lambda: not active_jobs(snapshot(db_url, "toy")))
        assert idle
        more_cycles(db_url)
        paused = snapshot(db_url, "toy")
        assert len(paused["jobs"]) == n_jobs < 6
        assert paused["study"].state == "paused"
        assert "paused -> running" in command(db_url, "resume", "toy")
        assert finish(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = snapshot(db_url, "toy")
    assert rows["study"].state == "finished"
    assert len(rows["trials"]) == 6 and len(rows["jobs"]) > n_jobs
    assert {c.applied_by for c in rows["commands"]} == {rows["commands"][0].applied_by}
    assert all(c.applied_by and c.applied_at for c in rows["commands"])


def test_stop_lets_running_jobs_finish_then_ends_the_study(
    tmp_path: Path, db_url: str, backend: dict[str, Any]
) -> None:
    path = fifo_study(tmp_path, backend, max_trials=30)
    proc = run_controller(tmp_path, path, db_url, toy_sleep=0.3)
    try:
        wait_for(
            "two running jobs",
            lambda: len([j for j in snapshot(db_url, "toy")["jobs"] if j.state == "running"]) >= 2,
        )
        assert "running -> stopping" in command(db_url, "stop", "toy")
        at_stop = snapshot(db_url, "toy")
        assert finish(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = snapshot(db_url, "toy")
    assert rows["study"].state == "finished"
    assert len(rows["trials"]) == len(at_stop["trials"]) < 30
    assert len(rows["jobs"]) == len(at_stop["jobs"])
    # the running segments were not cut short: every trial reached the end of its segment
    assert {job.state for job in rows["jobs"]} == {"completed"}
    assert {trial.reached_resource for trial in rows["trials"]} == {4}


def test_cancel_kills_every_job_and_ends_the_study(tmp_path: Path, db_url: str) -> None:
    proc = run_controller(tmp_path, fifo_study(tmp_path, max_trials=8), db_url, toy_sleep=5.0)
    try:
        wait_for(
            "two running jobs",
            lambda: len([j for j in snapshot(db_url, "toy")["jobs"] if j.state == "running"]) >= 2,
        )
        assert "cancelled 2 job(s)" in command(db_url, "cancel", "toy")
        assert finish(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = snapshot(db_url, "toy")
    assert rows["study"].state == "cancelled" and rows["study"].finished_at is not None
    assert {job.state for job in rows["jobs"]} == {"cancelled"}
    assert {trial.state for trial in rows["trials"]} == {"stopped"}
    # The processes really ended, killed (not completed: 4 epochs x 5 s had not passed).
    backend = LocalBackend(tmp_path / "runs" / "_local")
    ids = [job.external_id for job in rows["jobs"] if job.external_id]

    def ended() -> dict[str, JobStatus] | None:
        statuses = backend.poll(ids)
        return statuses if all(v.state.finished for v in statuses.values()) else None

    statuses = wait_for("the local jobs to end", ended)
    assert {status.state for status in statuses.values()} == {JobState.CANCELLED}
    refused = cli("resume", "toy", "--db", db_url)
    assert refused.returncode == 1
    assert "already cancelled" in refused.stderr and "slurmhpo studies" in refused.stderr


def test_extend_runs_more_trials_than_the_original_budget(
    tmp_path: Path, db_url: str, backend: dict[str, Any]
) -> None:
    path = fifo_study(tmp_path, backend, max_trials=2, max_concurrent=1)
    # 4 s per trial: the study must still run when `extend` (a new process) lands
    proc = run_controller(tmp_path, path, db_url, toy_sleep=1.0)
    try:
        wait_for("a first job", lambda: snapshot(db_url, "toy").get("jobs"))
        out = command(db_url, "extend", "toy", "--max-trials", "4")
        assert "max_trials 2 -> 4" in out
        assert finish(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = snapshot(db_url, "toy")
    assert rows["study"].state == "finished"
    assert len(rows["trials"]) == 4
    assert rows["study"].spec["budget"]["max_trials"] == 4
    status = json.loads(cli("status", "toy", "--json", "--db", db_url).stdout)["study"]
    assert status["budget"]["trials"] == {"used": 4, "limit": 4}
    assert status["commands"][0]["kind"] == "extend"
    assert status["commands"][0]["applied_at"] is not None


def test_commands_for_a_missing_or_ended_study_are_refused(tmp_path: Path, db_url: str) -> None:
    path = fifo_study(tmp_path, max_trials=1)
    assert cli("run", str(path), "--db", db_url, "--poll-interval", "0.1", "-q").returncode == 0
    for args in (["pause", "toy"], ["extend", "toy", "--max-trials", "5"], ["cancel", "toy"]):
        answer = cli(*args, "--db", db_url)
        assert answer.returncode == 1, args
        assert "already finished" in answer.stderr and "slurmhpo studies" in answer.stderr
    missing = cli("stop", "nope", "--db", db_url)
    assert missing.returncode == 1 and "slurmhpo studies" in missing.stderr
    assert snapshot(db_url, "toy")["commands"] == []


def test_submit_registers_and_returns_and_refuses_a_bad_file(tmp_path: Path, db_url: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nresource = { name = "epoch", min = 3, max = 1 }\n')
    answer = cli("submit", str(bad), "--db", db_url)
    assert answer.returncode == 2
    assert not Path(db_url.removeprefix("sqlite:///")).exists()  # nothing written

    answer = cli("submit", str(fifo_study(tmp_path, max_trials=3)), "--db", db_url)
    assert answer.returncode == 0 and answer.stdout.strip() == "toy"
    rows = snapshot(db_url, "toy")
    assert rows["study"].state == "registered" and rows["jobs"] == []
    queued = cli("pause", "toy", "--db", db_url)
    assert queued.returncode == 0 and "no controller drives this study now" in queued.stdout


def test_extend_refuses_a_limit_that_does_not_rise(tmp_path: Path, db_url: str) -> None:
    assert cli("submit", str(fifo_study(tmp_path, max_trials=5)), "--db", db_url).returncode == 0
    lower = cli("extend", "toy", "--max-trials", "3", "--db", db_url)
    assert lower.returncode == 2 and "would rise" in lower.stderr
    assert cli("extend", "toy", "--db", db_url).returncode == 2  # no limit given
    assert snapshot(db_url, "toy")["commands"] == []


def test_wait_gives_up_when_the_study_ends_before_applying(tmp_path: Path, db_url: str) -> None:
    assert cli("submit", str(fifo_study(tmp_path, max_trials=3)), "--db", db_url).returncode == 0
    waiter = subprocess.Popen(
        [*CLI, "stop", "toy", "--db", db_url, "--wait", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for("the queued command", lambda: snapshot(db_url, "toy")["commands"])
        engine = make_engine(db_url)  # a controller finishing the study in that cycle
        with write_session(engine) as session:
            get_study(session, "toy").state = "finished"
        engine.dispose()
        out, _ = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 1
    assert "became finished before the command applied" in out


def test_a_retry_waits_while_the_study_is_paused(tmp_path: Path, db_url: str) -> None:
    """A segment that fails while paused is retried only after resume: pause means no new
    segment starts, retries included."""
    path = study_toml(
        tmp_path,
        scheduler={"type": "fifo"},
        budget={"max_trials": 1, "max_concurrent": 1},
        resource_max=4,
        extra_space={"fail_once_at": {"type": "categorical", "choices": [3]}},
    )
    # The segment fails at epoch 3, 4.5 s after it starts: the pause must be applied before
    # that (on a loaded machine 1.5 s was not always enough), else the retry is not held.
    proc = run_controller(tmp_path, path, db_url, toy_sleep=1.5)
    try:
        wait_for("a running job", lambda: active_jobs(snapshot(db_url, "toy")))
        assert "running -> paused" in command(db_url, "pause", "toy")
        retry = wait_for(
            "the retry row of the failed segment",
            lambda: [j for j in snapshot(db_url, "toy")["jobs"] if j.attempt == 1],
        )[0]
        more_cycles(db_url)
        held = snapshot(db_url, "toy")
        (still,) = [job for job in held["jobs"] if job.id == retry.id]
        assert still.state == "pending" and still.external_id is None
        assert [job.state for job in held["jobs"] if job.attempt == 0] == ["failed"]
        assert "paused -> running" in command(db_url, "resume", "toy")
        assert finish(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = snapshot(db_url, "toy")
    assert rows["study"].state == "finished"
    assert [trial.state for trial in rows["trials"]] == ["completed"]
    assert [(job.attempt, job.state) for job in rows["jobs"]] == [(0, "failed"), (1, "completed")]
