"""The Backend contract, run against every implementation (local processes and real Slurm).

Each test drives real jobs: short Python commands, polled with a bounded wait (never a timing
assertion). Every job a test submits is cancelled when it ends (see ``Jobs`` in conftest).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from slurmhpo.backends.base import JobState, JobStatus
from slurmhpo.errors import ConfigError

if TYPE_CHECKING:
    from tests.backends.conftest import Jobs

WRITER = (
    "import os, pathlib\n"
    "pathlib.Path(os.environ['SLURMHPO_TEST_OUT']).write_text("
    "os.environ['SLURMHPO_TEST_WORD'] + '\\n' + os.getcwd() + '\\n')\n"
    "print('hello from the writer', flush=True)\n"
)
FAILER = "import sys; print('failing', file=sys.stderr); sys.exit(3)"
SLEEPER = "import time; time.sleep(120)"


@pytest.fixture(params=["local", pytest.param("slurm", marks=pytest.mark.slurm)])
def jobs(request: pytest.FixtureRequest) -> Jobs:
    """The backend under test, as a ``Jobs`` helper (its teardown cancels what it submitted)."""
    return request.getfixturevalue(f"{request.param}_jobs")


def _finished(*ids: str):
    return lambda statuses: all(statuses[job_id].state.finished for job_id in ids)


def test_submit_poll_cancel_find(jobs: Jobs, tmp_path: Path) -> None:
    out = tmp_path / "writer.txt"
    env = {"SLURMHPO_TEST_OUT": str(out), "SLURMHPO_TEST_WORD": "honoured"}
    requests = [
        jobs.request("c.writer", WRITER, env, time_min=5),
        jobs.request("c.failer", FAILER, time_min=5),
        jobs.request("c.sleeper", SLEEPER, time_min=5),
    ]
    writer, failer, sleeper = ids = jobs.submit(requests)
    assert len(set(ids)) == 3 and all(isinstance(job_id, str) and job_id for job_id in ids)

    def settled(statuses: dict[str, JobStatus]) -> bool:
        running = statuses[sleeper].state is JobState.RUNNING
        return running and _finished(writer, failer)(statuses)

    statuses = jobs.wait(ids, settled)
    assert set(statuses) == set(ids)
    assert statuses[writer].state is JobState.COMPLETED
    assert statuses[writer].exit_code == 0
    assert statuses[failer].state is JobState.FAILED
    assert statuses[failer].exit_code == 3
    assert statuses[sleeper].state is JobState.RUNNING

    assert out.read_text().splitlines() == ["honoured", str(requests[0].workdir)]
    assert "hello from the writer" in (requests[0].log_dir / "stdout.log").read_text()
    assert "failing" in (requests[1].log_dir / "stderr.log").read_text()
    keys = [request.job_key for request in requests]
    assert jobs.backend.find([*keys, "c.never-submitted"]) == dict(zip(keys, ids, strict=True))

    jobs.backend.cancel([sleeper])
    jobs.backend.cancel([sleeper, writer])  # again, and a finished job: both harmless
    statuses = jobs.wait(ids, _finished(sleeper))
    assert statuses[sleeper].state is JobState.CANCELLED
    assert statuses[writer].state is JobState.COMPLETED


def test_unknown_ids_are_unknown(jobs: Jobs) -> None:
    ids = ["987654321", "987654321_3", "local-20000101T000000-000000000000", "not an id"]
    statuses = jobs.backend.poll(ids)
    assert {job_id: status.state for job_id, status in statuses.items()} == dict.fromkeys(
        ids, JobState.UNKNOWN
    )
    jobs.backend.cancel(ids)  # unknown ids: not an error
    assert jobs.backend.find(["c.nobody"]) == {}


def test_empty_calls(jobs: Jobs) -> None:
    assert jobs.backend.submit([]) == []
    assert jobs.backend.poll([]) == {}
    jobs.backend.cancel([])
    assert jobs.backend.find([]) == {}


def test_bad_job_key_submits_nothing(jobs: Jobs) -> None:
    good = jobs.request("c.good", SLEEPER, time_min=5)
    bad = replace(good, job_key="../escape")
    with pytest.raises(ConfigError, match="job_key"):
        jobs.submit([good, bad])
    assert jobs.backend.find(["c.good"]) == {}
