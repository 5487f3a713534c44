"""The body of a controller job, run in-process on the local backend with a fake Slurm queue:
it submits one successor at start, hands over at its deadline (lease released, jobs left
running), and cancels its successor when the study ends. No Slurm needed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from controller_helpers import study_toml
from handover_helpers import FakeQueue

from slurmhpo.controller.handover import drive_in_job
from slurmhpo.controller.sbatch_controller import controller_job_for
from slurmhpo.controller.studies import register_study, resolve_paths
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.leases import current_lease
from slurmhpo.store.migrate import upgrade
from slurmhpo.store.queries import get_study
from slurmhpo.store.runtime import active_jobs
from slurmhpo.study import load_study

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "controller"))


def _setup(tmp_path: Path, name: str, max_trials: int) -> tuple[str, object]:
    path = study_toml(tmp_path, name=name, budget={"max_trials": max_trials, "max_concurrent": 2})
    spec = resolve_paths(load_study(path))
    url = f"sqlite:///{tmp_path / 'drive.db'}"
    engine = make_engine(url)
    upgrade(engine)
    register_study(engine, spec)
    engine.dispose()
    return url, spec


def _lease_and_state(url: str, name: str) -> tuple[str | None, str, int]:
    engine = make_engine(url)
    try:
        with read_session(engine) as session:
            study = get_study(session, name)
            held = current_lease(session, study.id)
            return (held[0].owner if held else None), study.state, len(active_jobs(session, study))
    finally:
        engine.dispose()


def test_a_job_that_sees_the_study_end_cancels_its_successor(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    url, spec = _setup(tmp_path, "ends", max_trials=3)
    job = controller_job_for(spec, url, time_min=10, handover_min=1, poll_interval=0.2)
    queue = FakeQueue([], end=time.time() + 3600)
    assert drive_in_job(job, queue) == "study finished"
    ((successor, after),) = queue.submitted
    assert after == "4242" and successor.generation == 2 and successor.predecessor == "4242"
    assert queue.cancelled == ["101"]
    assert _lease_and_state(url, "ends") == (None, "finished", 0)
    assert drive_in_job(successor, FakeQueue([])) == "study finished"  # a late one just ends


def test_a_job_hands_over_at_its_deadline_and_the_next_controller_finishes(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4343")
    monkeypatch.setenv("TOY_SLEEP", "0.4")  # 9 epochs: a trial outlives the first job
    url, spec = _setup(tmp_path, "hands", max_trials=4)
    job = controller_job_for(spec, url, time_min=10, handover_min=1, poll_interval=0.2)
    queue = FakeQueue([], end=time.time() + 60 + 2.0)  # deadline: 2 s from now
    assert drive_in_job(job, queue) == "handed over to 101"
    assert queue.cancelled == []
    owner, state, running = _lease_and_state(url, "hands")
    assert owner is None and state == "running" and running > 0  # jobs go on, lease is free
    argv = [sys.executable, "-m", "slurmhpo.cli.main", "run", "hands", "--db", url]
    done = subprocess.run(
        [*argv, "--poll-interval", "0.2", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "finished" in done.stdout, done.stderr
    engine = make_engine(url)
    try:
        with read_session(engine) as session:
            study = get_study(session, "hands")
            assert all(job.state == "completed" for t in study.trials for job in t.jobs)
            assert len(study.trials) == 4
    finally:
        engine.dispose()
