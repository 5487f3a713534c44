"""Run trial segments as local processes that outlive the controller.

Each job runs under :mod:`slurmhpo.backends.local_runner` in a new session (so a controller
crash or restart neither kills it nor loses its exit status) and keeps its control files in
its own directory, named by its external id::

    <root>/jobs/<external_id>/
        spec.json     what to run: command, time limit, grace period, job key (written first)
        runner.json   the runner's process identity (pid + start time + boot id)
        child.json    the command's process identity (written by the runner)
        cancel        present once cancel() was asked for
        result.json   the outcome, written by the runner when the command ended
    <root>/keys/<job_key>.json   {"external_id": ...}, written before the process starts

stdout and stderr go to ``<log_dir>/stdout.log`` and ``<log_dir>/stderr.log`` (appended), the
names :class:`slurmhpo.paths.TrialPaths` uses. The external id (``local-<time>-<random>``)
is never reused, and liveness is judged by process identity, never by a bare pid.

Resources: ``time_min`` is enforced (by the runner, so also while no controller runs) and
reported as TIMEOUT; partition, GPUs, CPUs, memory, account, qos and extra sbatch options mean
nothing here and are ignored; ``setup`` shell lines are ignored too, because no shell is
involved (a warning is logged). Concurrency limits are the controller's business.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slurmhpo.backends import local_runner as runner
from slurmhpo.backends.base import JobState, JobStatus, SegmentRequest
from slurmhpo.backends.keys import KeyIndex, check_job_key
from slurmhpo.backends.procs import ProcessId, signal_name
from slurmhpo.errors import ConfigError
from slurmhpo.paths import write_atomic

logger = logging.getLogger(__name__)

RUNNER = "runner.json"
STDOUT = "stdout.log"
STDERR = "stderr.log"
_ID = re.compile(r"local-\d{8}T\d{6}-[0-9a-f]{12}")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def _check_request(request: SegmentRequest) -> None:
    """Refuse a request that could not start, before anything of the batch is started."""
    check_job_key(request.job_key)
    command = request.command
    if not command or not all(isinstance(part, str) for part in command):
        raise ConfigError("trial.command", f"{command!r} is not a command", "give a list of str")
    if not Path(request.workdir).is_dir():
        raise ConfigError("trial.workdir", f"{request.workdir} is not a directory", "create it")
    if request.resources.time_min <= 0:
        raise ConfigError("slurm.time_min", "must be > 0", "give the time limit in minutes")


class LocalBackend:
    """The :class:`~slurmhpo.backends.base.Backend` that runs jobs on this machine.

    ``grace_s`` is the time between SIGTERM and SIGKILL on cancel and at the time limit
    (Slurm's KillWait); ``start_grace_s`` is how long a job without a runner record counts
    as PENDING (a controller that died between writing the spec and starting the runner)
    before it is reported FAILED.
    """

    name = "local"

    def __init__(self, root: Path, grace_s: float = 10.0, start_grace_s: float = 60.0) -> None:
        self.root = Path(root)
        self.grace_s = grace_s
        self.start_grace_s = start_grace_s
        self.keys = KeyIndex(self.root)
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def job_dir(self, external_id: str) -> Path | None:
        """Control directory of ``external_id``, or None when it is not one of ours."""
        if not isinstance(external_id, str) or _ID.fullmatch(external_id) is None:
            return None
        return self.root / "jobs" / external_id

    # submit -------------------------------------------------------------------------------

    def submit(self, requests: Sequence[SegmentRequest]) -> list[str]:
        """Start every request now; ids in the same order. Bad input starts nothing."""
        for request in requests:
            _check_request(request)
        if any(request.resources.setup for request in requests):
            logger.warning("local backend: resources.setup shell lines are ignored (no shell)")
        return [self._start(request) for request in requests]

    def _new_id(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return f"local-{stamp}-{secrets.token_hex(6)}"

    def _start(self, request: SegmentRequest) -> str:
        external_id = self._new_id()
        job_dir = self.root / "jobs" / external_id
        job_dir.mkdir(parents=True)
        spec = {
            "command": list(request.command),
            "time_min": request.resources.time_min,
            "grace_s": self.grace_s,
            "job_key": request.job_key,
            "submitted_at": time.time(),
        }
        # no fsync: local jobs do not survive a machine crash, only a controller crash
        write_atomic(job_dir / runner.SPEC, json.dumps(spec, sort_keys=True), durable=False)
        self.keys.write(request.job_key, {"external_id": external_id}, durable=False)
        log_dir = Path(request.log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / STDOUT, "ab") as out, open(log_dir / STDERR, "ab") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", runner.__name__, str(job_dir)],
                env={**os.environ, **request.env},
                cwd=request.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self._children[external_id] = process
        identity = ProcessId.of(process.pid)
        if identity is not None:  # None: it already ended; result.json will tell
            write_atomic(job_dir / RUNNER, json.dumps(identity.to_dict()), durable=False)
        return external_id

    # poll ---------------------------------------------------------------------------------

    def poll(self, external_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Status of each id from its control files and process identities (no waiting)."""
        self._reap()
        return {external_id: self._status(external_id) for external_id in external_ids}

    def _reap(self) -> None:
        """Collect our finished runners, so they do not linger as zombies."""
        for external_id, process in list(self._children.items()):
            if process.poll() is not None:
                del self._children[external_id]

    def _status(self, external_id: str) -> JobStatus:
        job_dir = self.job_dir(external_id)
        if job_dir is None or not (job_dir / runner.SPEC).exists():
            return JobStatus(JobState.UNKNOWN, reason="no such local job")
        result = _read_json(job_dir / runner.RESULT)
        if result is not None:
            return _verdict(result)
        record = _read_json(job_dir / RUNNER)
        if record is not None and ProcessId.from_dict(record).alive():
            started = (job_dir / RUNNER).stat().st_mtime
            return JobStatus(JobState.RUNNING, started_at=_when(started))
        result = _read_json(job_dir / runner.RESULT)  # it may have ended since the first look
        if result is not None:
            return _verdict(result)
        return self._lost(job_dir, record)

    def _lost(self, job_dir: Path, record: dict[str, Any] | None) -> JobStatus:
        """No result and no live runner: not started yet, cancelled early, or killed hard."""
        if (job_dir / runner.CANCEL).exists():
            return JobStatus(JobState.CANCELLED, reason="cancelled before it recorded a result")
        if record is None:
            spec = _read_json(job_dir / runner.SPEC) or {}
            if time.time() - float(spec.get("submitted_at", 0)) < self.start_grace_s:
                return JobStatus(JobState.PENDING, reason="runner not started yet")
            return JobStatus(JobState.FAILED, reason="the runner never started")
        return JobStatus(
            JobState.FAILED,
            reason="the runner died without recording an exit status "
            "(killed by SIGKILL, the OOM killer or a reboot)",
        )

    # cancel -------------------------------------------------------------------------------

    def cancel(self, external_ids: Sequence[str]) -> None:
        """Ask each job to stop: SIGTERM now, SIGKILL ``grace_s`` later (by the runner).

        Never waits. Unknown and finished jobs are skipped, so cancelling twice is harmless.
        """
        for external_id in external_ids:
            job_dir = self.job_dir(external_id)
            if job_dir is None or not job_dir.is_dir() or (job_dir / runner.RESULT).exists():
                continue
            write_atomic(job_dir / runner.CANCEL, b"", durable=False)
            self._signal(job_dir)

    def _signal(self, job_dir: Path) -> None:
        record = _read_json(job_dir / RUNNER)
        if record is not None and ProcessId.from_dict(record).signal(signal.SIGTERM):
            return
        child = _read_json(job_dir / runner.CHILD)  # the runner is gone: stop its orphan
        if child is not None:
            ProcessId.from_dict(child).signal(signal.SIGKILL, group=True)

    # find ---------------------------------------------------------------------------------

    def find(self, job_keys: Sequence[str]) -> dict[str, str]:
        """External ids of the jobs started for ``job_keys``; keys never submitted are left out."""
        found: dict[str, str] = {}
        for job_key in job_keys:
            record = self.keys.read(job_key) or {}
            external_id = str(record.get("external_id", ""))
            job_dir = self.job_dir(external_id)
            if job_dir is not None and (job_dir / runner.SPEC).exists():
                found[job_key] = external_id
        return found


def _verdict(result: dict[str, Any]) -> JobStatus:
    """Map the runner's ``result.json`` to a final status."""
    code = result.get("returncode")
    reason = result.get("error")
    exit_code = code
    if isinstance(code, int) and code < 0:
        exit_code = 128 - code
        reason = f"killed by {signal_name(-code)}"
    if result.get("timed_out"):
        state = JobState.TIMEOUT
    elif result.get("cancelled"):
        state = JobState.CANCELLED
    elif code == 0:
        state = JobState.COMPLETED
    else:
        state = JobState.FAILED
    return JobStatus(
        state,
        exit_code=exit_code,
        reason=reason,
        started_at=_when(result.get("started_at")),
        ended_at=_when(result.get("ended_at")),
    )
