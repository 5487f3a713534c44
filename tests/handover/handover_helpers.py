"""Helpers of the hand-over tests: a Slurm study file for the toy trial (written by
tests/controller/controller_helpers.py, on sys.path through tests/handover/conftest.py), CLI
and Slurm calls.

Every call to Slurm or the CLI is bounded by a timeout, so a stuck cluster fails a test
instead of hanging CI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from controller_helpers import study_toml

from slurmhpo.controller.sbatch_controller import ControllerJob, QueuedJob

CLI = [sys.executable, "-m", "slurmhpo.cli.main"]
TIMEOUT_S = 120


def slurm_toy_study(
    tmp_path: Path,
    *,
    name: str,
    partition: str,
    toy_sleep: float,
    budget: dict[str, Any],
    resource_max: int = 9,
) -> Path:
    """ASHA (promotion) over the toy trial on the Slurm backend; CPU-only trial jobs (the
    fake GPUs are shared with other suites), ``toy_sleep`` seconds per epoch."""
    return study_toml(
        tmp_path,
        name=name,
        seed=5,
        backend="slurm",
        budget=budget,
        resource_max=resource_max,
        env={"TOY_SLEEP": str(toy_sleep)},
        slurm={
            "partition": partition,
            "gpus_per_task": 0,
            "cpus_per_task": 1,
            "mem_gb": 0.25,
            "time_min": 10,
        },
    )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def slurm(*args: str) -> str:
    """stdout of a Slurm client command; raises if it fails (a test wants a true answer)."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
    return done.stdout


def squeue_ids(name_prefix: str) -> list[str]:
    """Ids (array tasks as 12_3) of queued jobs whose name starts with ``name_prefix``."""
    out = slurm("squeue", "-h", "-r", "-o", "%i|%j")
    return [
        line.split("|", 1)[0]
        for line in out.splitlines()
        if line.partition("|")[2].startswith(name_prefix)
    ]


def sacct_by_prefix(name_prefix: str, since: str) -> list[dict[str, str]]:
    """sacct -X rows since ``since`` whose job name starts with ``name_prefix``."""
    fields = ("JobID", "JobName", "State", "Start", "End")
    out = slurm("sacct", "-X", "-n", "-P", "-S", since, "-o", ",".join(fields))
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
    return [row for row in rows if row["JobName"].startswith(name_prefix)]


def cancel_prefix(name_prefix: str) -> None:
    """scancel every queued job named ``name_prefix...`` (test clean-up; errors ignored)."""
    try:
        ids = squeue_ids(name_prefix)
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True, timeout=60, check=False)
    except (subprocess.SubprocessError, OSError):
        pass


class FakeQueue:
    """Records submissions; answers squeue with ``queued`` and the end time with ``end``."""

    def __init__(self, queued: list[QueuedJob] | None, end: float | None = None) -> None:
        self._queued = queued
        self._end = end
        self.submitted: list[tuple[ControllerJob, str | None]] = []
        self.cancelled: list[str] = []

    def submit(self, job: ControllerJob, after: str | None = None) -> str:
        self.submitted.append((job, after))
        return str(100 + len(self.submitted))

    def queued(self, study: str) -> list[QueuedJob] | None:
        return self._queued

    def cancel(self, job_id: str) -> bool:
        self.cancelled.append(job_id)
        return True

    def end_time(self, job_id: str) -> float | None:
        return self._end
