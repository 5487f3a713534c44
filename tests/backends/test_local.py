"""Local backend specifics: jobs outlive their controller, time limits, pid reuse, hard kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from slurmhpo.backends import local_runner
from slurmhpo.backends.base import JobState
from slurmhpo.backends.local import LocalBackend
from slurmhpo.backends.procs import ProcessId, boot_id
from slurmhpo.errors import ConfigError

if TYPE_CHECKING:
    from tests.backends.conftest import Jobs

# A controller that submits two jobs, prints their ids, and dies without any clean-up.
CRASHING_CONTROLLER = """
import json, os, sys
from pathlib import Path
from slurmhpo.backends.base import Resources, SegmentRequest
from slurmhpo.backends.local import LocalBackend
root = Path(sys.argv[1])
def request(key, code):
    return SegmentRequest(key, (sys.executable, "-c", code), {}, root, root / "logs" / key,
                          Resources(time_min=5))
ids = LocalBackend(root / "backend").submit(
    [request("quick", "print('done')"), request("slow", "import time; time.sleep(120)")])
print(json.dumps(ids), flush=True)
os._exit(0)
"""


def test_jobs_survive_a_controller_crash(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CRASHING_CONTROLLER, str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    quick, slow = json.loads(out.stdout)
    backend = LocalBackend(tmp_path / "backend", grace_s=2.0)  # the restarted controller
    try:
        assert backend.find(["quick", "slow"]) == {"quick": quick, "slow": slow}
        statuses = _wait(backend, [quick, slow], lambda s: s[quick].state.finished)
        assert statuses[quick].state is JobState.COMPLETED
        assert statuses[slow].state is JobState.RUNNING
        backend.cancel([slow])
        statuses = _wait(backend, [slow], lambda s: s[slow].state.finished)
        assert statuses[slow].state is JobState.CANCELLED
    finally:
        backend.cancel([slow])


def _wait(backend: LocalBackend, ids, done, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = backend.poll(ids)
        if done(statuses) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.3)


def _job_dir(backend: LocalBackend, spec: dict) -> tuple[str, Path]:
    """A job directory made by hand, as submit() would, without starting anything."""
    external_id = "local-20260101T000000-0123456789ab"
    job_dir = backend.job_dir(external_id)
    assert job_dir is not None
    job_dir.mkdir(parents=True)
    (job_dir / local_runner.SPEC).write_text(json.dumps(spec))
    return external_id, job_dir


def test_time_limit_is_reported_as_timeout(tmp_path: Path) -> None:
    # time_min is a whole number of minutes in Resources; the runner takes fractions, which
    # keeps this test short: 0.02 min = 1.2 s, then SIGTERM.
    backend = LocalBackend(tmp_path / "backend")
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    spec = {"command": command, "time_min": 0.02, "grace_s": 1.0, "submitted_at": time.time()}
    external_id, job_dir = _job_dir(backend, spec)
    subprocess.run(
        [sys.executable, "-m", local_runner.__name__, str(job_dir)], check=True, timeout=60
    )
    status = backend.poll([external_id])[external_id]
    assert status.state is JobState.TIMEOUT
    assert status.reason == "killed by SIGTERM"


def test_a_recycled_pid_is_not_our_job(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "backend", start_grace_s=0.0)
    spec = {"command": ["true"], "time_min": 1, "submitted_at": time.time() - 10}
    external_id, job_dir = _job_dir(backend, spec)
    me = ProcessId.of(os.getpid())
    assert me is not None
    # our own live pid, but a different start time: a stranger that reuses the number
    stranger = {"pid": me.pid, "start_ticks": me.start_ticks + 1, "boot": boot_id()}
    (job_dir / "runner.json").write_text(json.dumps(stranger))
    status = backend.poll([external_id])[external_id]
    assert status.state is JobState.FAILED
    assert status.reason is not None and "died" in status.reason
    backend.cancel([external_id])  # must not signal the stranger (this very process)


def test_killed_command_fails_with_signal(local_jobs: Jobs) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    (job,) = local_jobs.submit([local_jobs.request("killed", code, time_min=1)])
    status = local_jobs.wait([job], lambda s: s[job].state.finished)[job]
    assert status.state is JobState.FAILED
    assert status.exit_code == 128 + signal.SIGKILL
    assert status.reason == "killed by SIGKILL"


def test_command_that_cannot_start_fails_127(local_jobs: Jobs) -> None:
    request = replace(local_jobs.request("missing", ""), command=("/nonexistent/slurmhpo-bin",))
    (job,) = local_jobs.submit([request])
    status = local_jobs.wait([job], lambda s: s[job].state.finished)[job]
    assert status.state is JobState.FAILED
    assert status.exit_code == local_runner.EXIT_NOT_RUNNABLE
    assert "cannot start" in (request.log_dir / "stderr.log").read_text()


def test_missing_workdir_is_refused(local_jobs: Jobs, tmp_path: Path) -> None:
    request = replace(local_jobs.request("nowhere", "1"), workdir=tmp_path / "does-not-exist")
    with pytest.raises(ConfigError, match="workdir"):
        local_jobs.submit([request])
