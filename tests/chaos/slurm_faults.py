"""Faults of the local Slurm cluster itself, injected under a running study, and undone.

The daemons are found and stopped with deploy/local-slurm/lib.sh (exact-name pid checks:
"slurmdbd" starts with "slurmd", and a stale pid file may name another process), and brought
back with deploy/local-slurm/up, which starts whatever is missing and resumes a DOWN node:
the same start logic as the cluster's own set-up, not a copy of it.

:func:`drive_with_fault` runs one study under the real controller (``slurmhpo run`` as a
child process) on the Slurm backend, calls a fault function once the study reaches a
chosen moment, and lets the study finish. Every wait is bounded, so a broken controller
fails a test instead of hanging CI.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slurm_study_helpers import (
    REPO,
    StudyRows,
    cancel_by_name_prefix,
    key_prefix,
    load_study_rows,
    slurm,
    start_controller,
    stop_child,
    wait_for_sacct_ended,
    wait_until_gone_from_squeue,
    watch_study,
)

from slurmhpo.errors import StoreError
from slurmhpo.store.db import make_engine
from tests.chaos.invariants import check_invariants

LOCAL_SLURM = REPO / "deploy" / "local-slurm"
FAILURE_TRIAL = REPO / "tests" / "slurm" / "failure_trial.py"  # per-trial speed and modes
UP_GIVE_UP_S = 300.0
READY_GIVE_UP_S = 180.0  # hang guard: the study reaches its fault moment in seconds
FINISH_GIVE_UP_S = 600.0  # hang guard: a requeued job reruns after ~30 s


def _lib(command: str) -> str:
    """stdout of ``command`` run in bash after sourcing deploy/local-slurm/lib.sh."""
    done = subprocess.run(
        ["bash", "-c", f'source "{LOCAL_SLURM}/lib.sh" && {command}'],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def daemon_pid(name: str) -> int | None:
    """The pid of the running daemon ``name`` (lib.sh's exact-name check), or None."""
    text = _lib(f"daemon_pid {name}").strip()
    return int(text) if text else None


def kill_daemon(name: str) -> int:
    """SIGKILL the daemon ``name``; returns its pid. The comm is checked again just before
    the signal, so a pid reused in between is never hit."""
    pid = daemon_pid(name)
    assert pid is not None, f"{name} is not running"
    comm = Path(f"/proc/{pid}/comm").read_text().strip()
    assert comm == name, f"pid {pid} is {comm!r}, not {name}"
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_for_state_save(after: float) -> None:
    """Wait until slurmctld has saved its job state (StateSaveLocation/job_state, written
    within ~5 s of a change) at a time later than ``after`` (time.time()).

    Why: a slurmctld killed before it saved a job's allocation recovers the job as pending,
    finds its tasks running on the node as orphans, kills them and drains the node
    ("Duplicate jobid"). The scenario under test is the other one, jobs that keep running
    under slurmd, so the kill waits for the save.
    """
    config = slurm(["scontrol", "show", "config"])
    (folder,) = [line.split("=", 1)[1].strip() for line in config.splitlines()
                 if line.startswith("StateSaveLocation")]  # fmt: skip
    state = Path(folder) / "job_state"
    deadline = time.monotonic() + 60
    while not (state.exists() and state.stat().st_mtime > after):
        assert time.monotonic() < deadline, f"slurmctld did not save {state} within 60 s"
        time.sleep(0.2)


def stop_daemon(name: str) -> None:
    """Stop the daemon ``name`` as `down` does (SIGTERM, then SIGKILL after 30 s)."""
    _lib(f"stop_daemon {name}")


def cluster_up() -> None:
    """deploy/local-slurm/up: start what is missing, resume a DOWN node, wait until jobs run."""
    done = subprocess.run(
        ["bash", str(LOCAL_SLURM / "up")],
        capture_output=True,
        text=True,
        timeout=UP_GIVE_UP_S,
        check=False,
    )
    assert done.returncode == 0, f"deploy/local-slurm/up failed:\n{done.stderr}"


@dataclass
class FaultRun:
    """What a study driven through a fault left behind."""

    name: str
    db_url: str
    since: str  # start of the run, for sacct -S
    exit_code: int
    log: str
    rows: StudyRows  # at the end
    at_fault: StudyRows  # when the fault began
    fault_s: float  # how long the fault function took (the outage)
    wall_s: float  # the whole run, controller start to its exit


def drive_with_fault(
    tmp_path: Path,
    study: Path,
    name: str,
    ready: Callable[[StudyRows], bool],
    fault: Callable[[StudyRows], None],
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> FaultRun:
    """Run the study file ``study`` with a controller polling every 0.5 s; once ``ready``
    holds for its rows, call ``fault`` (it injects the fault, waits, and ends it), then
    ``during`` (checks on the still-running controller), then wait for the controller to
    finish the study. Jobs of the study still in Slurm afterwards are cancelled (clean-up).
    """
    since = time.strftime("%Y-%m-%dT%H:%M:%S")  # sacct -S takes the cluster's local time
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    log_path = tmp_path / "controller.log"
    started = time.monotonic()
    controller = start_controller(study, db_url, log_path, poll_interval=0.5)
    prefix = None
    try:
        at_fault = watch_study(
            tmp_path / "studies.db", name, ready, controller, give_up_s=READY_GIVE_UP_S
        )
        assert at_fault is not None, f"the fault moment never came:\n{log_path.read_text()}"
        prefix = key_prefix(at_fault)
        fault_began = time.monotonic()
        fault(at_fault)
        fault_s = time.monotonic() - fault_began
        if during is not None:
            during(controller)
        try:
            code = controller.wait(timeout=FINISH_GIVE_UP_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the study did not finish within {FINISH_GIVE_UP_S} s:\n{log_path.read_text()}"
            ) from None
        wall_s = time.monotonic() - started
    finally:
        stop_child(controller)
        if prefix is not None:
            with contextlib.suppress(AssertionError, StoreError):
                cancel_by_name_prefix(prefix)
    rows = load_study_rows(make_engine(db_url), name)
    log = log_path.read_text(errors="replace")
    return FaultRun(name, db_url, since, code, log, rows, at_fault, fault_s, wall_s)


def running_jobs(rows: StudyRows) -> int:
    """How many of the study's job rows the controller has seen running."""
    return sum(job.state == "running" for job in rows.jobs)


def check_fault_run(run: FaultRun) -> dict[str, object]:
    """The invariants of every chaos scenario (tests/chaos/invariants.py), and on Slurm: the
    controller exited 0, no job of the study is left in squeue, and every job ended in
    sacct as its row says (COMPLETED, or CANCELLED by the controller stopping a trial), so
    no job was taken for failed or lost. Returns the counts for docs/reliability.md."""
    assert run.exit_code == 0, run.log
    engine = make_engine(run.db_url)
    counts = check_invariants(engine, run.name)
    engine.dispose()
    assert counts["failed_trials"] == []
    rows = run.rows
    assert {t.state for t in rows.trials} <= {"completed", "paused", "stopped"}, run.log
    assert {j.state for j in rows.jobs} <= {"completed", "cancelled"}, run.log
    assert wait_until_gone_from_squeue(key_prefix(rows)) == []
    accounted = wait_for_sacct_ended([job.external_id for job in rows.jobs])
    expected = {job.external_id: job.state.upper() for job in rows.jobs}
    assert {job_id: row["State"].split(" ")[0] for job_id, row in accounted.items()} == expected
    return {**counts, "trials": len(rows.trials)}
