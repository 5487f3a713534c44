"""The one small interface every backend implements, and the values it exchanges.

The controller speaks only this interface, so the same loop drives Slurm jobs, local processes
and the simulator. Every call is batched (one submission, one status query, one cancel per
cycle, whatever the number of jobs) and idempotent:

* ``submit`` starts segments and returns their external ids in the same order. Each request
  carries a ``job_key`` that the backend attaches to the job (the Slurm job name, a marker
  file...), so that :meth:`Backend.find` can re-adopt a job that was submitted just before a
  controller crash, before its id reached the database.
* ``poll`` answers for every id it was given. A job the backend cannot see right now is
  ``UNKNOWN``: a transient answer, never a verdict (sacct lags squeue, a query can fail).
* ``cancel`` of a finished or unknown job is not an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Protocol


class JobState(str, Enum):
    """Backend-neutral job states; Slurm's names where Slurm has one."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    NODE_FAIL = "node_fail"
    PREEMPTED = "preempted"
    REQUEUED = "requeued"  # back in the queue after preemption/node failure: will run again
    UNKNOWN = "unknown"  # not visible right now; ask again later

    @property
    def finished(self) -> bool:
        """True for states after which the job will not run again by itself."""
        return self in _FINISHED


_FINISHED = frozenset(
    {
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.TIMEOUT,
        JobState.OUT_OF_MEMORY,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
    }
)


@dataclass(frozen=True)
class JobStatus:
    """What the backend says about one job; ``reason`` is its raw words (e.g. sacct's)."""

    state: JobState
    exit_code: int | None = None
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Resources:
    """Per-segment job resources; local and simulated backends ignore what they cannot use."""

    partition: str | None = None
    gpus_per_task: int = 0
    cpus_per_task: int = 1
    mem_gb: float | None = None
    time_min: int = 60
    account: str | None = None
    qos: str | None = None
    setup: tuple[str, ...] = ()
    extra: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentRequest:
    """One trial segment to run: ``command`` with ``env`` in ``workdir``, logs in ``log_dir``.

    ``env`` holds the SLURMHPO_* variables the trial side reads (config path, start and
    target resource, checkpoint dir, metric file) plus the study's own variables.
    """

    job_key: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    workdir: Path
    log_dir: Path
    resources: Resources = field(default_factory=Resources)


class Backend(Protocol):
    """Submit, poll, cancel and re-adopt trial segments (see the module docstring)."""

    name: str  # "slurm" | "local" | "simulated": the value stored in jobs.backend

    def submit(self, requests: Sequence[SegmentRequest]) -> list[str]: ...

    def poll(self, external_ids: Sequence[str]) -> dict[str, JobStatus]: ...

    def cancel(self, external_ids: Sequence[str]) -> None: ...

    def find(self, job_keys: Sequence[str]) -> dict[str, str]: ...
