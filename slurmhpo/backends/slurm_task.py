"""What a Slurm job of slurmhpo runs on the compute node: the segment's command, no shell.

The Slurm backend hands :func:`run_segment` and a :class:`SegmentTask` to submitit, which
pickles them into the job. This module needs only the standard library and slurmhpo's
node-side modules (it is imported on the node), and :func:`run_segment` ends the job with the
command's own exit code, so sacct's ExitCode column is the command's (``3:0`` for ``exit 3``)
rather than submitit's generic 1.

A study that continues trials in place (:mod:`slurmhpo.control`) sets ``SLURMHPO_HOLD_SECONDS``
on its segments: once the command exited 0 having reported its target, the job waits for the
controller's answer and runs the segment it hands over, in the same job, with no new queue
wait. A job that Slurm requeued follows the answers to the segment it was running.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slurmhpo.control import follow, next_task, place_of, reached_target, wait_for_answer, waits

if TYPE_CHECKING:  # the node side imports nothing of the controller's
    from slurmhpo.backends.base import SegmentRequest

STDOUT = "stdout.log"
STDERR = "stderr.log"
ENV_SLURM_RESTART = "SLURM_RESTART_COUNT"


@dataclass(frozen=True)
class SegmentTask:
    """The picklable part of a request: argument vector, extra environment, directories."""

    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    workdir: str
    log_dir: str

    def to_dict(self) -> dict[str, Any]:
        """The form an answer carries (:mod:`slurmhpo.control`)."""
        return {
            "command": list(self.command),
            "env": dict(self.env),
            "workdir": self.workdir,
            "log_dir": self.log_dir,
        }

    @classmethod
    def from_request(cls, request: SegmentRequest) -> SegmentTask:
        """The task of a segment request, with absolute paths (a job's working directory is
        not the controller's)."""
        return cls(
            command=tuple(request.command),
            env=tuple(sorted((str(k), str(v)) for k, v in request.env.items())),
            workdir=str(Path(request.workdir).resolve()),
            log_dir=str(Path(request.log_dir).resolve()),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentTask:
        return cls(
            command=tuple(str(part) for part in data["command"]),
            env=tuple((str(k), str(v)) for k, v in data["env"].items()),
            workdir=str(data["workdir"]),
            log_dir=str(data["log_dir"]),
        )


def run_segment(task: SegmentTask) -> int:
    """Run ``task.command`` in ``workdir`` with ``env`` added; stdout/stderr to ``log_dir``;
    then, while the controller hands over more, the segments it hands over.

    Returns 0 when every command succeeded. Otherwise raises SystemExit with the failing
    command's exit code (128 + N when it died by signal N, the shell's convention), which
    ends the Python process with that code: submitit catches Exception, not SystemExit, so
    Slurm records it.
    """
    current: SegmentTask | None = _restart_point(task)
    while current is not None:
        code = _run(current)
        if code != 0:
            raise SystemExit(code if code > 0 else 128 - code)
        current = _next(current)
    return 0


def _run(task: SegmentTask) -> int:
    log_dir = Path(task.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / STDOUT, "ab") as out, open(log_dir / STDERR, "ab") as err:
        completed = subprocess.run(
            list(task.command),
            env={**os.environ, **dict(task.env)},
            cwd=task.workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            check=False,
        )
    return completed.returncode


def _next(task: SegmentTask) -> SegmentTask | None:
    """The segment the controller hands this job after ``task``, or None: end the job."""
    env = dict(task.env)
    hold = waits(env)
    if not hold or not reached_target(env):
        return None
    folder, target = place_of(env)
    following = next_task(wait_for_answer(folder, target, hold))
    return None if following is None else SegmentTask.from_dict(following)


def _restart_point(task: SegmentTask) -> SegmentTask | None:
    """``task``, or in a requeued job the segment the answers lead to (None: the job had
    been told to end before Slurm started it again)."""
    if os.environ.get(ENV_SLURM_RESTART, "0").strip() in ("", "0"):
        return task
    reached = follow(task.to_dict())
    return None if reached is None else SegmentTask.from_dict(reached)
