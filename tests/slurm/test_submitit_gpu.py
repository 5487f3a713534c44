"""A real submitit job on the local Slurm cluster gets exactly one (fake) GPU and is accounted.

The Slurm backend rests on what this checks against the real scheduler: submitit can ask for a
GPU in either spelling the backend may use (`--gres=gpu:1` or `--gpus-per-node=1`), the job sees
one device in CUDA_VISIBLE_DEVICES, the result comes back, and sacct reports the end state,
partition and GPU count (what GPU-hour budgets will read).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
import submitit

pytestmark = pytest.mark.slurm

N = 300
RESULT_GIVE_UP_S = 300.0  # hang guard for a stuck queue, not a timing assertion


def make_probe() -> Callable[[int], dict[str, Any]]:
    """Build the job function inside a factory so cloudpickle ships it by value.

    A module-level function would be pickled by reference to this test module, which the job's
    Python cannot import (tests/slurm is not on its sys.path).
    """

    def probe(n: int) -> dict[str, Any]:
        return {
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "sum_of_squares": sum(i * i for i in range(n)),
        }

    return probe


def wait_for_result(job: submitit.Job[dict[str, Any]]) -> dict[str, Any]:
    """job.result(), but cancel the job and fail with its log if it never finishes."""
    deadline = time.monotonic() + RESULT_GIVE_UP_S
    while not job.done():
        if time.monotonic() > deadline:
            job.cancel(check=False)
            pytest.fail(
                f"job {job.job_id} not done after {RESULT_GIVE_UP_S} s "
                f"(submitit state {job.state}); stderr:\n{job.stderr()}"
            )
        time.sleep(0.5)
    return job.result()


@pytest.mark.parametrize(
    "gpu_request",
    [{"slurm_gres": "gpu:1"}, {"gpus_per_node": 1}],
    ids=["gres", "gpus_per_node"],
)
def test_job_gets_one_gpu_and_completes(
    slurm_cluster, sacct_final_row, tmp_path, gpu_request: dict[str, Any]
) -> None:
    executor = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="slurm")
    executor.update_parameters(
        name="slurmhpo-gpu-probe",
        slurm_partition=slurm_cluster.partition,
        timeout_min=5,
        cpus_per_task=1,
        mem_gb=1,
        **gpu_request,
    )
    job = executor.submit(make_probe(), N)

    result = wait_for_result(job)

    assert result["slurm_job_id"] == job.job_id
    assert result["sum_of_squares"] == sum(i * i for i in range(N))
    devices = (result["cuda_visible_devices"] or "").split(",")
    assert result["cuda_visible_devices"] is not None, "Slurm set no CUDA_VISIBLE_DEVICES"
    assert len(devices) == 1, f"expected one GPU, got CUDA_VISIBLE_DEVICES={devices}"
    assert devices[0] in {str(i) for i in range(slurm_cluster.gpus)}

    row = sacct_final_row(job.job_id, ("State", "Partition", "AllocTRES", "ExitCode"))
    assert row["State"] == "COMPLETED", f"sacct row {row}; stderr:\n{job.stderr()}"
    assert row["ExitCode"] == "0:0"
    assert row["Partition"] == slurm_cluster.partition
    assert "gres/gpu=1" in row["AllocTRES"].split(","), row["AllocTRES"]
