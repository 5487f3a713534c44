"""What a Slurm job of slurmhpo runs on the compute node: the segment's command, no shell.

The Slurm backend hands :func:`run_segment` and a :class:`SegmentTask` to submitit, which
pickles them into the job. This module uses the standard library only (it is imported on the
node), and :func:`run_segment` ends the job with the command's own exit code, so sacct's
ExitCode column is the command's (``3:0`` for ``exit 3``) rather than submitit's generic 1.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

STDOUT = "stdout.log"
STDERR = "stderr.log"


@dataclass(frozen=True)
class SegmentTask:
    """The picklable part of a request: argument vector, extra environment, directories."""

    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    workdir: str
    log_dir: str


def run_segment(task: SegmentTask) -> int:
    """Run ``task.command`` in ``workdir`` with ``env`` added; stdout/stderr to ``log_dir``.

    Returns 0 when the command succeeded. Otherwise raises SystemExit with its exit code
    (128 + N when it died by signal N, the shell's convention), which ends the Python
    process with that code: submitit catches Exception, not SystemExit, so Slurm records it.
    """
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
    code = completed.returncode
    if code != 0:
        raise SystemExit(code if code > 0 else 128 - code)
    return 0
