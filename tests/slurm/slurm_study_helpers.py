"""Helpers for the controller tests on the real Slurm cluster: study files, DB rows, sacct.

The study files run tests/controller/toy_trial.py (a deterministic learning curve with
checkpoints and failure knobs) as Slurm jobs; tests/controller/controller_helpers.py writes
them (tests/slurm/conftest.py puts its folder on sys.path). Every query to Slurm here is
bounded (a timeout on each command, a deadline on each wait), so a stuck cluster fails a
test instead of hanging CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller_helpers import TOY, study_toml
from sqlalchemy import Engine, select

from slurmhpo.errors import StoreError
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import event_from_dict, rebuild
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.models import Decision, Job, Observation, Study, Trial
from slurmhpo.store.runtime import job_key
from slurmhpo.study import StudySpec

REPO = Path(__file__).resolve().parents[2]
SLURM_COMMAND_TIMEOUT_S = 60.0


def slurm_study_toml(
    tmp_path: Path,
    *,
    name: str,
    partition: str,
    scheduler: dict[str, Any] | None = None,
    budget: dict[str, Any] | None = None,
    resource_max: int = 9,
    extra_space: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    time_min: int = 10,
    max_retries: int = 2,
    script: Path = TOY,
    initial_configs: list[dict[str, Any]] | None = None,
    trial_options: dict[str, Any] | None = None,
) -> Path:
    """A study over ``script`` on the Slurm backend, one fake GPU per job, files in tmp_path
    (controller_helpers.study_toml with this suite's defaults: 4 trials at a time).

    ``name`` must be unique per test: it is part of every job name, which is how the tests
    find this study's jobs in squeue and sacct.
    """
    slurm = {"partition": partition, "gpus_per_task": 1, "cpus_per_task": 1, "mem_gb": 0.25}
    return study_toml(
        tmp_path,
        name=name,
        backend="slurm",
        scheduler=scheduler,
        budget=budget or {"max_trials": 12, "max_concurrent": 4},
        resource_max=resource_max,
        extra_space=extra_space,
        env=env,
        max_retries=max_retries,
        script=script,
        initial_configs=initial_configs,
        trial_options=trial_options,
        slurm={**slurm, "time_min": time_min},
    )


@dataclass
class StudyRows:
    """A study as plain rows, loaded in one read (for assertions)."""

    study: Study
    trials: list[Trial]
    jobs: list[Job]
    observations: list[Observation]
    decisions: list[Decision]

    @property
    def number_of(self) -> dict[int, int]:
        """Trial row id -> trial number."""
        return {trial.id: trial.number for trial in self.trials}

    def jobs_of(self, number: int) -> list[Job]:
        """The jobs of trial ``number``, oldest first."""
        (trial,) = [t for t in self.trials if t.number == number]
        return [job for job in self.jobs if job.trial_id == trial.id]


def load_study_rows(engine: Engine, name: str) -> StudyRows:
    with read_session(engine) as session:
        study = session.scalar(select(Study).where(Study.name == name))
        assert study is not None, f"study {name!r} is not in the database"
        trials = list(session.scalars(select(Trial).where(Trial.study_id == study.id)))
        jobs = list(session.scalars(select(Job).where(Job.study_id == study.id).order_by(Job.id)))
        observations = list(
            session.scalars(select(Observation).where(Observation.study_id == study.id))
        )
        decisions = list(
            session.scalars(
                select(Decision).where(Decision.study_id == study.id).order_by(Decision.seq)
            )
        )
    return StudyRows(study, trials, jobs, observations, decisions)


def watch_study(
    db_file: Path,
    name: str,
    until: Callable[[StudyRows], bool],
    process: subprocess.Popen[bytes],
    give_up_s: float = 60.0,
) -> StudyRows | None:
    """Read the study written by a running controller until ``until(rows)`` holds.

    Waits for the controller to create the database file itself (so the test never races
    it to an empty file), then reads every 0.2 s; None if ``process`` exits or ``give_up_s``
    passes first. Until the schema and the study exist, reads fail: that is waited out.
    """
    deadline = time.monotonic() + give_up_s
    while not db_file.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            return None
        time.sleep(0.2)
    engine = make_engine(f"sqlite:///{db_file}")
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                rows = load_study_rows(engine, name)
            except (AssertionError, StoreError):
                rows = None
            if rows is not None and until(rows):
                return rows
            time.sleep(0.2)
    finally:
        engine.dispose()
    return None


def key_prefix(rows: StudyRows) -> str:
    """``shpo-<study>-<digest>-j``: the start of every job name of the study (arrays add
    ``<id>+N``). The digest differs per database, so it is unique to one test run."""
    return job_key(rows.study, rows.jobs[0].id).rsplit("-j", 1)[0] + "-j"


def metric_lines(metric_file: Path) -> list[dict[str, Any]]:
    """The JSON lines of a metric file written by the toy trial ([] if it was never made)."""
    if not metric_file.exists():
        return []
    return [json.loads(line) for line in metric_file.read_text().splitlines() if line.strip()]


def replayed_rungs(rows: StudyRows) -> dict[int, dict[int, float]]:
    """Rung level -> {trial number: value} from a replay of the stored decision history."""
    spec = StudySpec.from_dict(rows.study.spec)
    scheduler = rebuild(
        lambda: make_scheduler(spec.to_dict(), spec.space, spec.seed),
        [event_from_dict(d.payload) for d in rows.decisions],
    )
    table = scheduler.rung_table()[0]
    return {level: {row.trial_id: row.value for row in members} for level, members in table.items()}


def stored_rungs(rows: StudyRows, levels: list[int]) -> dict[int, dict[int, float]]:
    """Rung level -> {trial number: objective} from the observations table."""
    by_level: dict[int, dict[int, float]] = defaultdict(dict)
    for obs in rows.observations:
        if obs.resource in levels:
            by_level[obs.resource][rows.number_of[obs.trial_id]] = obs.objective
    return {level: dict(by_level[level]) for level in levels}


def start_controller(
    target: str | Path,
    db_url: str,
    log_path: Path,
    poll_interval: float = 1.0,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`python -m slurmhpo.cli.main run TARGET` as a child process, its output in log_path.

    A separate process, so a test can SIGKILL or SIGTERM it, requeue its jobs meanwhile, or
    start a second controller next to it.
    """
    argv = controller_argv(target, db_url, poll_interval)
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)


def controller_argv(target: str | Path, db_url: str, poll_interval: float = 1.0) -> list[str]:
    """The command line of a controller for ``target`` (a study file or a stored name)."""
    argv = [sys.executable, "-m", "slurmhpo.cli.main", "run", str(target), "--db", db_url]
    return [*argv, "--poll-interval", str(poll_interval)]


def stop_child(process: subprocess.Popen[bytes]) -> None:
    """Kill a child controller that is still running (test clean-up)."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def slurm(args: list[str]) -> str:
    """stdout of a Slurm client command; raises if it fails (a test wants a true answer)."""
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=SLURM_COMMAND_TIMEOUT_S, check=True
    )
    return done.stdout


def squeue_names(prefix: str, all_states: bool = False) -> list[str]:
    """``id|name`` of the jobs in squeue whose name starts with ``prefix``, one per array task.

    ``all_states`` adds jobs that ended within the last MinJobAge seconds (``squeue -t all``):
    a job that fails at launch leaves the default listing within a second.
    """
    states = ["-t", "all"] if all_states else []
    out = slurm(["squeue", "-h", "-r", *states, "-o", "%i|%j"])
    return [line for line in out.splitlines() if line.split("|", 1)[-1].startswith(prefix)]


def sacct_rows(
    job_ids: list[str], fields: tuple[str, ...] = ("JobID", "JobName", "State")
) -> dict[str, dict[str, str]]:
    """sacct -X rows of these job ids (array tasks as ``123_4``), keyed by JobID."""
    if not job_ids:
        return {}
    out = slurm(["sacct", "-X", "-n", "-P", "-o", ",".join(fields), "-j", ",".join(job_ids)])
    rows = {}
    for line in out.splitlines():
        values = line.split("|")
        if len(values) == len(fields):
            row = dict(zip(fields, values, strict=True))
            rows[row["JobID"]] = row
    return rows


def sacct_rows_by_name_prefix(prefix: str, since: str) -> dict[str, dict[str, str]]:
    """Every sacct -X row since ``since`` (sacct -S) whose job name starts with ``prefix``.

    sacct cannot filter by a name prefix, so this lists all jobs of the window and filters
    here: the window is the test's own lifetime, a few hundred rows at most.
    """
    fields = ("JobID", "JobName", "State")
    out = slurm(["sacct", "-X", "-n", "-P", "-a", "-S", since, "-o", ",".join(fields)])
    rows = {}
    for line in out.splitlines():
        values = line.split("|")
        if len(values) == len(fields) and values[1].startswith(prefix):
            rows[values[0]] = dict(zip(fields, values, strict=True))
    return rows


def wait_for_sacct_ended(job_ids: list[str], give_up_s: float = 120.0) -> dict[str, dict[str, str]]:
    """sacct rows of ``job_ids`` once all show an end state (sacct lags squeue by seconds).

    Returns whatever it has after ``give_up_s`` (a hang guard; the caller's assertion on the
    states then shows what was missing).
    """
    not_ended = {"", "PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED"}
    deadline = time.monotonic() + give_up_s
    while True:
        rows = sacct_rows(job_ids)
        states = [rows.get(job_id, {}).get("State", "").split(" ")[0] for job_id in job_ids]
        if all(state not in not_ended for state in states) or time.monotonic() > deadline:
            return rows
        time.sleep(1.0)


def wait_until_gone_from_squeue(prefix: str, give_up_s: float = 60.0) -> list[str]:
    """Wait until no job named ``prefix...`` is in squeue; returns those still there."""
    deadline = time.monotonic() + give_up_s
    while (left := squeue_names(prefix)) and time.monotonic() < deadline:
        time.sleep(1.0)
    return left


def cancel_by_name_prefix(prefix: str) -> None:
    """scancel every job whose name starts with ``prefix`` (test clean-up; errors ignored)."""
    try:
        ids = [line.split("|", 1)[0] for line in squeue_names(prefix)]
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True, timeout=60, check=False)
    except (subprocess.SubprocessError, OSError):
        pass
