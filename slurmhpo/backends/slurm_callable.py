"""Run one Python callable as a CPU-only Slurm job, through submitit.

The trial segments go out through :class:`~slurmhpo.backends.slurm.SlurmBackend`; this is the
other thing slurmhpo submits: the controller itself, as a job (``slurmhpo submit-controller``).
Keeping the submitit call here keeps submitit inside the backends layer.

The job runs the callable directly in the batch script (``use_srun=False``): there is no job
step, so Slurm's signals reach the batch shell's Python, which the controller job uses to hand
over before its time limit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import submitit

from slurmhpo.errors import SlurmhpoError


def submit_callable(
    function: Callable[[Any], Any],
    argument: Any,
    *,
    folder: Path,
    job_name: str,
    time_min: int,
    mem: str,
    partition: str | None = None,
    account: str | None = None,
    after: str | None = None,
    requeue: bool = False,
) -> str:
    """Submit ``function(argument)`` as a 1-CPU job; returns its Slurm job id.

    ``folder`` (may hold ``%j``) receives submitit's pickles and logs; ``after`` makes the job
    wait until job ``after`` has ended, however it ended (``afterany``). A refused sbatch
    raises SlurmhpoError with sbatch's words.
    """
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=0)
    params: dict[str, object] = {
        "job_name": job_name,
        "time": time_min,
        "cpus_per_task": 1,
        "mem": mem,
        "use_srun": False,
        "additional_parameters": {} if requeue else {"no-requeue": True},
    }
    if partition:
        params["partition"] = partition
    if account:
        params["account"] = account
    if after is not None:
        params["dependency"] = f"afterany:{after}"
    executor.update_parameters(**params)
    try:
        submitted = executor.submit(function, argument)
    except Exception as error:  # submitit raises bare Exceptions for sbatch failures
        raise SlurmhpoError(f"sbatch refused job {job_name}: {error}") from error
    return str(submitted.job_id)
