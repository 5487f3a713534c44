"""The wrapper every local job runs under: ``python -m slurmhpo.backends.local_runner JOB_DIR``.

Why a wrapper: the controller may restart while a job runs, and a restarted controller is no
longer the job's parent, so it could never learn the exit status. The runner is the parent
instead; it records what happened in ``JOB_DIR`` (see :mod:`slurmhpo.backends.local`), so
the status is a file anyone can read at any time. It also plays the part Slurm plays for
Slurm jobs:

* the time limit (``time_min`` in ``spec.json``): SIGTERM to the command's process group,
  SIGKILL ``grace_s`` later; the result says ``timed_out``;
* cancellation: a SIGTERM to the runner is forwarded the same way (SIGTERM, then SIGKILL);
  the result says ``cancelled``;
* clean-up: whatever the command left running in its process group is killed at the end.

No shell is involved: the command is an argument vector. Environment, working directory,
stdout and stderr are the runner's own, set by the backend when it started the runner.
Files written (atomically): ``child.json`` (the command's process identity) and finally
``result.json`` (``returncode`` as :class:`subprocess.Popen` reports it: negative for a
signal; plus ``timed_out``, ``cancelled``, ``started_at``, ``ended_at``, ``error``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from slurmhpo.backends.procs import ProcessId
from slurmhpo.paths import write_atomic

SPEC = "spec.json"
CHILD = "child.json"
RESULT = "result.json"
CANCEL = "cancel"  # written by the backend before it signals: cancelled before or while running
EXIT_NOT_RUNNABLE = 127  # the shell's code for "command not found / not executable"


class _Stop:
    """Why and since when the command is being stopped; set by the signal handler or a limit."""

    def __init__(self) -> None:
        self.cancelled = False
        self.timed_out = False
        self.kill_at: float | None = None


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    """Start the command in its own process group, so it can be signalled as a whole."""
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def _supervise(child: subprocess.Popen[bytes], spec: dict[str, Any], stop: _Stop) -> int:
    """Wait for the command, enforcing the time limit and a requested stop; its returncode."""
    grace = float(spec.get("grace_s", 10.0))
    deadline = time.monotonic() + 60.0 * float(spec["time_min"])
    terminated = False
    while True:
        now = time.monotonic()
        if not terminated and (stop.cancelled or now >= deadline):
            stop.timed_out = not stop.cancelled
            _signal_group(child, signal.SIGTERM)
            stop.kill_at = now + grace
            terminated = True
        if stop.kill_at is not None and now >= stop.kill_at:
            _signal_group(child, signal.SIGKILL)
            stop.kill_at = None
        wake = stop.kill_at if terminated else deadline
        try:
            return child.wait(timeout=max(0.05, min(1.0, (wake or now + 1.0) - now)))
        except subprocess.TimeoutExpired:
            continue


def run(job_dir: Path) -> int:
    """Run the job described by ``job_dir/spec.json`` and record its outcome; returns 0."""
    spec = json.loads((job_dir / SPEC).read_text(encoding="utf-8"))
    stop = _Stop()

    def on_term(signum: int, frame: object) -> None:
        stop.cancelled = True

    signal.signal(signal.SIGTERM, on_term)
    result: dict[str, Any] = {"started_at": time.time(), "error": None, "returncode": None}
    if (job_dir / CANCEL).exists():
        stop.cancelled = True  # cancelled before it could start: do not start it at all
    else:
        _run_child(job_dir, spec, stop, result)
    result.update(cancelled=stop.cancelled, timed_out=stop.timed_out, ended_at=time.time())
    if result["error"]:
        print(f"slurmhpo local runner: {result['error']}", file=sys.stderr, flush=True)
    write_atomic(job_dir / RESULT, json.dumps(result, sort_keys=True))
    return 0


def _run_child(job_dir: Path, spec: dict[str, Any], stop: _Stop, result: dict[str, Any]) -> None:
    """Start and supervise the command; fills ``result['returncode']`` (and ``error``)."""
    try:
        child = _start(list(spec["command"]))
    except OSError as error:
        result.update(returncode=EXIT_NOT_RUNNABLE, error=f"cannot start command: {error}")
    else:
        identity = ProcessId.of(child.pid)
        if identity is not None:
            write_atomic(job_dir / CHILD, json.dumps(identity.to_dict()), durable=False)
        result["returncode"] = _supervise(child, spec, stop)
        _signal_group(child, signal.SIGKILL)  # leftovers of the command, as Slurm would


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m slurmhpo.backends.local_runner JOB_DIR", file=sys.stderr)
        return 2
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
