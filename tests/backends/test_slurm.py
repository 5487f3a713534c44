"""Slurm backend specifics on the real local cluster: GPUs, arrays, time limits, extra options.

Every job is short or cancelled at the end of its test (``slurm_jobs`` teardown).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from slurmhpo.backends.base import JobState
from slurmhpo.backends.slurm import SlurmBackend
from slurmhpo.errors import SlurmhpoError

if TYPE_CHECKING:
    from tests.backends.conftest import Jobs, SlurmCluster

pytestmark = pytest.mark.slurm

SHOW_GPUS = (
    "import os, pathlib\n"
    "pathlib.Path(os.environ['OUT']).write_text(os.environ.get('CUDA_VISIBLE_DEVICES', '-'))\n"
)


def _done(*ids: str):
    return lambda statuses: all(statuses[job_id].state.finished for job_id in ids)


def test_gpu_request_sets_cuda_visible_devices(
    slurm_jobs: Jobs, slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    out = tmp_path / "gpus.txt"
    request = slurm_jobs.request(
        "s.gpu", SHOW_GPUS, {"OUT": str(out)}, partition=slurm_cluster.partition, gpus_per_task=2
    )
    (job,) = slurm_jobs.submit([request])
    status = slurm_jobs.wait([job], _done(job))[job]
    assert status.state is JobState.COMPLETED
    assert len(out.read_text().split(",")) == 2


def test_equal_resources_go_out_as_one_array(slurm_jobs: Jobs) -> None:
    same = [slurm_jobs.request(f"s.arr{i}", "pass", time_min=2) for i in range(4)]
    other = slurm_jobs.request("s.single", "pass", time_min=3)
    ids = slurm_jobs.submit([same[0], other, *same[1:]])
    array_ids = [ids[0], *ids[2:]]
    bases = {job_id.split("_")[0] for job_id in array_ids}
    assert len(bases) == 1
    assert sorted(job_id.split("_")[1] for job_id in array_ids) == ["0", "1", "2", "3"]
    assert "_" not in ids[1]
    statuses = slurm_jobs.wait(ids, _done(*ids))
    assert {status.state for status in statuses.values()} == {JobState.COMPLETED}
    (base,) = bases
    rows = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-j", base, "--format=JobID,JobName"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert sorted(rows) == sorted(f"{job_id}|s.arr0+3" for job_id in array_ids)


def test_find_by_job_name_when_the_id_was_never_recorded(slurm_jobs: Jobs) -> None:
    requests = [slurm_jobs.request(f"s.lost{i}", "import time; time.sleep(30)") for i in range(2)]
    requests.append(slurm_jobs.request("s.lost-single", "pass", time_min=7))
    ids = slurm_jobs.submit(requests)
    keys = slurm_jobs.backend.keys  # type: ignore[attr-defined]
    for request in requests:  # as if the controller died right after sbatch returned
        record = keys.read(request.job_key)
        del record["external_id"]
        keys.write(request.job_key, record)
    found = slurm_jobs.backend.find([request.job_key for request in requests])
    assert found == {request.job_key: job_id for request, job_id in zip(requests, ids, strict=True)}


@pytest.mark.slow
def test_time_limit_is_reported_as_timeout(slurm_jobs: Jobs) -> None:
    """One minute limit, a job that sleeps two: TIMEOUT (not FAILED), ~90 s of wall time."""
    request = slurm_jobs.request("s.timeout", "import time; time.sleep(120)", time_min=1)
    (job,) = slurm_jobs.submit([request])
    status = slurm_jobs.wait([job], _done(job), timeout_s=200)[job]
    assert status.state is JobState.TIMEOUT


def test_extra_options_are_passed_as_data(slurm_jobs: Jobs) -> None:
    comment = "it's; $(not run) `either`"
    request = slurm_jobs.request(
        "s.extra", "import time; time.sleep(30)", extra={"comment": comment}
    )
    (job,) = slurm_jobs.submit([request])
    shown = subprocess.run(
        ["scontrol", "show", "job", job], capture_output=True, text=True, check=True
    ).stdout
    assert f"Comment={comment}" in shown


def test_the_backend_folder_is_private(slurm_jobs: Jobs) -> None:
    """submitit's pickles under it carry the trial's environment (trial.env may hold tokens)."""
    request = slurm_jobs.request("s.private", "pass", {"TOKEN": "t0ken"})
    (job,) = slurm_jobs.submit([request])
    root = slurm_jobs.backend.root
    assert root.stat().st_mode & 0o777 == 0o700
    assert any(b"t0ken" in path.read_bytes() for path in root.rglob("*.pkl")), job


def test_sbatch_failure_raises(slurm_jobs: Jobs) -> None:
    request = slurm_jobs.request("s.nowhere", "pass", partition="no-such-partition")
    with pytest.raises(SlurmhpoError, match="sbatch failed"):
        slurm_jobs.submit([request])


def test_setup_lines_run_before_the_command(slurm_jobs: Jobs, tmp_path: Path) -> None:
    out = tmp_path / "setup.txt"
    code = "import os, pathlib; pathlib.Path(os.environ['OUT']).write_text(os.environ['WORD'])"
    request = slurm_jobs.request(
        "s.setup", code, {"OUT": str(out)}, setup=("export WORD=from-setup",)
    )
    (job,) = slurm_jobs.submit([request])
    status = slurm_jobs.wait([job], _done(job))[job]
    assert status.state is JobState.COMPLETED
    assert out.read_text() == "from-setup"


@pytest.mark.slow
def test_requeued_job_is_seen_pending_then_running_again(slurm_jobs: Jobs) -> None:
    """``scontrol requeue``: REQUEUED/PENDING, never a final state, then RUNNING (~30 s).

    The requeued job becomes eligible only after AuthInfo cred_expire (10 s on the local
    cluster, 120 s by default), then waits for the next scheduling pass.
    """
    request = slurm_jobs.request("s.requeue", "import time; time.sleep(60)", time_min=5)
    (job,) = slurm_jobs.submit([request])
    running = slurm_jobs.wait([job], lambda s: s[job].state is JobState.RUNNING)
    assert running[job].state is JobState.RUNNING
    subprocess.run(["scontrol", "requeue", job], check=True, capture_output=True)
    waiting = {JobState.REQUEUED, JobState.PENDING}
    seen = slurm_jobs.wait([job], lambda s: s[job].state in waiting)
    assert seen[job].state in waiting
    states: list[JobState] = []

    def again(statuses: dict) -> bool:
        states.append(statuses[job].state)
        return statuses[job].state is JobState.RUNNING

    slurm_jobs.wait([job], again, timeout_s=240)
    assert states[-1] is JobState.RUNNING
    assert not any(state.finished for state in states)


def test_failing_slurm_commands_give_unknown_never_a_verdict(
    slurm_jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job,) = slurm_jobs.submit([slurm_jobs.request("s.flaky", "pass")])
    assert slurm_jobs.wait([job], _done(job))[job].state is JobState.COMPLETED
    monkeypatch.setenv("PATH", "/nonexistent")  # squeue and sacct cannot even start
    assert slurm_jobs.backend.poll([job])[job].state is JobState.UNKNOWN
    with pytest.raises(SlurmhpoError, match="scancel failed"):
        slurm_jobs.backend.cancel([job])
    monkeypatch.undo()
    # backing off: the next poll right away does not ask Slurm, and says UNKNOWN again
    assert slurm_jobs.backend.poll([job])[job].state is JobState.UNKNOWN
    fresh = SlurmBackend(slurm_jobs.root / "backend")  # a backend that has not failed yet
    assert fresh.poll([job])[job].state is JobState.COMPLETED
