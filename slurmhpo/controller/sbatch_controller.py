"""The controller as a Slurm job: what such a job needs, submitting it, asking Slurm about it.

``slurmhpo submit-controller`` builds a :class:`ControllerJob` and :func:`submit` sends it as a
CPU-only job (1 CPU, 1 GiB, no GPU, ``--no-requeue``) named ``shpo-ctl-<study>``; inside
the job, :func:`run_controller_job` drives the study (see :mod:`slurmhpo.controller.handover`
for the hand-over chain). The job's resources default to the study's own ``[slurm]`` table:
``partition`` and ``account`` as the trials use them, and ``time_min`` (the trials' time
limit, so one a partition is known to accept); the hand-over margin defaults to
``min(5, time_min / 4)`` minutes.

Why ``--no-requeue``: a requeued controller job would start again under the same job id and
could submit a second successor; a node failure instead ends the job, and the successor that
waits on it (``--dependency=afterany``) takes over.

The submission itself goes through :mod:`slurmhpo.backends.slurm_callable` (submitit stays in
the backends layer). Slurm commands here are bounded by a timeout; a failing squeue is an
unknown answer (None), never a verdict.

The database URL travels to the job inside submitit's pickle, under the study's runs_dir in
``_slurm/controller/``, a folder made 0700 (owner only); ``ControllerJob``'s repr masks the
password. Still, prefer a password file (``~/.pgpass``) to a password in ``--db``.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from slurmhpo.backends.slurm_queries import run_command
from slurmhpo.errors import ConfigError, SlurmhpoError
from slurmhpo.paths import make_private_dir
from slurmhpo.store.db import display_url
from slurmhpo.study import StudySpec

log = logging.getLogger("slurmhpo.controller")

JOB_NAME_PREFIX = "shpo-ctl-"
MAX_HANDOVER_MIN = 5.0
CONTROLLER_MEM = "1024M"
_AFTERANY = re.compile(r"afterany:(\d+)")


def job_name(study: str) -> str:
    """The Slurm job name of every controller job of ``study`` (how they are found)."""
    return f"{JOB_NAME_PREFIX}{study}"


@dataclass(frozen=True, repr=False)
class ControllerJob:
    """What a controller job needs; pickled into the job, handed on to its successor.

    ``generation`` counts the jobs of one chain (1 = the one ``submit-controller`` started);
    ``predecessor`` is the job id the successor waits for, whose lease it may take at once.
    ``db_url`` may hold a password: the repr masks it, and the pickle lands in a 0700 folder.
    """

    study: str
    db_url: str
    runs_dir: str
    time_min: int
    handover_min: float
    partition: str | None = None
    account: str | None = None
    poll_interval: float = 5.0
    lease_ttl: float = 60.0
    generation: int = 1
    predecessor: str | None = None

    @property
    def name(self) -> str:
        return job_name(self.study)

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["db_url"] = display_url(self.db_url)
        return f"ControllerJob({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def successor(self, job_id: str) -> ControllerJob:
        """The job that takes over from job ``job_id``."""
        return replace(self, generation=self.generation + 1, predecessor=job_id)


def controller_job_for(
    spec: StudySpec,
    db_url: str,
    *,
    partition: str | None = None,
    time_min: int | None = None,
    account: str | None = None,
    handover_min: float | None = None,
    poll_interval: float = 5.0,
) -> ControllerJob:
    """The first job of a chain for ``spec``; unset options come from the study's [slurm]."""
    minutes = spec.slurm.time_min if time_min is None else time_min
    if minutes < 1:
        raise ConfigError("--time-min", f"{minutes} is not a time limit", "use whole minutes >= 1")
    margin = min(MAX_HANDOVER_MIN, minutes / 4) if handover_min is None else handover_min
    if not 0 < margin < minutes:
        raise ConfigError(
            "--handover-min",
            f"{margin:g} must be above 0 and below the time limit ({minutes} min)",
            f"e.g. --handover-min {min(MAX_HANDOVER_MIN, minutes / 4):g}",
        )
    if poll_interval <= 0:
        raise ConfigError("--poll-interval", f"{poll_interval} is not positive", "use 5")
    if not spec.runs_dir:
        raise ConfigError("runs_dir", "the stored study has no runs_dir", "register it again")
    return ControllerJob(
        study=spec.name,
        db_url=db_url,
        runs_dir=spec.runs_dir,
        time_min=minutes,
        handover_min=margin,
        partition=partition or spec.slurm.partition,
        account=account or spec.slurm.account,
        poll_interval=poll_interval,
    )


def log_folder(job: ControllerJob) -> Path:
    """Where submitit keeps the controller jobs' pickles and logs (``%j``: the job id)."""
    return Path(job.runs_dir) / "_slurm" / "controller" / "%j"


def make_log_folder(job: ControllerJob) -> Path:
    """:func:`log_folder`, its parents up to ``_slurm`` made 0700: the pickles hold the URL."""
    folder = log_folder(job)
    make_private_dir(folder.parent.parent)
    make_private_dir(folder.parent)
    return folder


def submit(job: ControllerJob, *, after: str | None = None) -> str:
    """Submit ``job``; with ``after``, it starts once job ``after`` has ended (any way).

    Returns the Slurm job id; a refused sbatch raises SlurmhpoError naming what to check.
    """
    from slurmhpo.backends.slurm_callable import submit_callable  # submitit: only when used

    try:
        return submit_callable(
            run_controller_job,
            job,
            folder=make_log_folder(job),
            job_name=job.name,
            time_min=job.time_min,
            mem=CONTROLLER_MEM,
            partition=job.partition,
            account=job.account,
            after=after,
        )
    except SlurmhpoError as error:
        raise SlurmhpoError(
            f"the controller job of study {job.study!r}: {error} (check the partition and "
            "account: --partition/--account, or the study's [slurm] table)"
        ) from error


def run_controller_job(job: ControllerJob) -> str:
    """What the controller job runs (submitit calls it on the node)."""
    from slurmhpo.controller.handover import drive_in_job  # the layer's loop, imported late

    return drive_in_job(job, SlurmQueue())


# ---- asking Slurm ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueuedJob:
    """A controller job in squeue: its id, state (PENDING, RUNNING...) and dependency."""

    job_id: str
    state: str
    dependency: str

    @property
    def waits_for(self) -> set[str]:
        """Job ids this job waits for with ``afterany``."""
        return set(_AFTERANY.findall(self.dependency))


class JobQueue(Protocol):
    """The few Slurm questions the hand-over chain asks (a seam: tests pass a fake)."""

    def submit(self, job: ControllerJob, after: str | None = None) -> str: ...

    def queued(self, study: str) -> list[QueuedJob] | None: ...

    def cancel(self, job_id: str) -> bool: ...

    def end_time(self, job_id: str) -> float | None: ...


class SlurmQueue:
    """:class:`JobQueue` on the real cluster: sbatch (through submitit), squeue, scancel."""

    def submit(self, job: ControllerJob, after: str | None = None) -> str:
        return submit(job, after=after)

    def queued(self, study: str) -> list[QueuedJob] | None:
        """This user's controller jobs of ``study`` in squeue; None when squeue failed."""
        argv = ["squeue", "-h", "-u", getpass.getuser(), "-n", job_name(study)]
        out = run_command([*argv, "-o", "%i|%T|%E"])
        if out is None:
            return None
        jobs = []
        for line in out.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 3 and parts[0]:
                jobs.append(QueuedJob(parts[0], parts[1], parts[2]))
        return jobs

    def cancel(self, job_id: str) -> bool:
        """scancel one job; False (logged) when scancel failed."""
        return run_command(["scancel", job_id]) is not None

    def end_time(self, job_id: str) -> float | None:
        """When Slurm will end job ``job_id`` (Unix time), or None if it cannot say.

        ``SLURM_JOB_END_TIME`` (Slurm 23.02+) when set, else squeue's end time (``%e``, the
        start time plus the limit, in the node's local time); both follow an admin's
        ``scontrol update TimeLimit``, which a time limit passed in could not.
        """
        if os.environ.get("SLURM_JOB_ID") == job_id:
            env = os.environ.get("SLURM_JOB_END_TIME", "")
            if env.isdigit() and int(env) > 0:
                return float(env)
        out = run_command(["squeue", "-h", "-j", job_id, "-o", "%e"])
        try:
            return datetime.fromisoformat((out or "").strip()).timestamp()
        except ValueError:  # "N/A", "Unknown", nothing
            return None
