"""Run trial segments as Slurm jobs, submitted through submitit, watched with squeue and sacct.

Submission: requests with equal resources go out as ONE job array (submitit's ``batch()``),
one sbatch call per group however many segments it holds. Each job runs
:func:`slurmhpo.backends.slurm_task.run_segment`, which runs the segment's command (an
argument vector, no shell) and ends with the command's exit code.

Time limits: submitit always asks Slurm for ``--signal=USR2@90``, and a plain submitit
function that receives it ends FAILED, never TIMEOUT (see slurm-notes). We run the task
directly in the batch script (``use_srun=False``): such a ``--signal`` (without ``B:``) goes
to job steps only and there are none, so no USR2 reaches the command; at the limit Slurm
sends SIGTERM, then SIGKILL, and records TIMEOUT, which is what the controller must see.

Names: a single job is named after its job key; an array after its first key plus the count
(``key+N``). Before sbatch runs, a marker per key (see :mod:`slurmhpo.backends.keys`) records
the job name, the array index and the task, then the external id once known, so :meth:`find`
can re-adopt a job whose id never reached the database.

The crash window between sbatch and the pickles: submitit writes each job's pickle under a
temporary name, runs sbatch, and only then moves it to the name the job reads
(``<id>_submitted.pkl``). A controller killed in between leaves a queued job without its
task. Such a job waits for it (submitit's job side polls for its pickle for 60 s), and
:meth:`find`, which re-adopts it by name, writes the pickle from the task in the marker. The
folder is named after the job, not its id, so that it exists before sbatch: Slurm cannot start
a job whose log folder is missing.

Status: :meth:`poll` makes one squeue call (what runs now) and one sacct call (how jobs
ended) for all ids; submitit's own state watcher is not used (minutes stale). A failing call
is transient: UNKNOWN for what it would have answered, and the next calls back off. The
queries live in :class:`~slurmhpo.backends.slurm_queries.SlurmQueries`, which the backends of
many studies can share (the daemon answers all their polls of a round with one pair of calls).

Files: submitit's pickles and logs under ``<root>/submitit/<job name>/`` (``root`` is made
0700: the pickles and markers hold the trial's environment); the command's stdout/stderr in
``<log_dir>/stdout.log`` and ``stderr.log``. ``root`` and every ``log_dir`` must be on a file
system the compute nodes share.
"""

from __future__ import annotations

import getpass
import logging
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import submitit
from submitit.core.utils import DelayedSubmission, JobPaths

from slurmhpo.backends.base import JobStatus, Resources, SegmentRequest
from slurmhpo.backends.keys import KeyIndex, check_job_key
from slurmhpo.backends.slurm_queries import COMMAND_TIMEOUT_S, JOB_ID, SlurmQueries, unreachable
from slurmhpo.backends.slurm_task import SegmentTask, run_segment
from slurmhpo.errors import BackendUnavailable, ConfigError, SlurmhpoError
from slurmhpo.paths import make_private_dir
from slurmhpo.sbatch_options import check_sbatch_extra

logger = logging.getLogger(__name__)

_BENIGN_SCANCEL = ("already completing or completed", "invalid job id")


def _group_key(resources: Resources) -> tuple[Any, ...]:
    """Resources as a hashable value: requests with equal keys can share one job array."""
    return (
        resources.partition,
        resources.gpus_per_task,
        resources.cpus_per_task,
        resources.mem_gb,
        resources.time_min,
        resources.account,
        resources.qos,
        tuple(resources.setup),
        tuple(sorted(resources.extra.items())),
    )


def _parameters(resources: Resources, job_name: str, count: int) -> dict[str, Any]:
    """submitit SlurmExecutor parameters for a group of ``count`` jobs."""
    if resources.time_min <= 0 or resources.cpus_per_task <= 0 or resources.gpus_per_task < 0:
        raise ConfigError(
            "slurm", f"invalid resources {resources}", "time_min and cpus_per_task must be > 0"
        )
    params: dict[str, Any] = {
        "job_name": job_name,
        "time": resources.time_min,
        "cpus_per_task": resources.cpus_per_task,
        "use_srun": False,
        "array_parallelism": max(1, count),
        "setup": list(resources.setup),
        "additional_parameters": check_sbatch_extra(resources.extra),
    }
    if resources.partition:
        params["partition"] = resources.partition
    if resources.gpus_per_task:
        params["gpus_per_node"] = resources.gpus_per_task
    if resources.mem_gb is not None:
        params["mem"] = f"{max(1, round(resources.mem_gb * 1024))}M"
    if resources.account:
        params["account"] = resources.account
    if resources.qos:
        params["qos"] = resources.qos
    return params


def _task(request: SegmentRequest) -> SegmentTask:
    if not request.command or not all(isinstance(part, str) for part in request.command):
        raise ConfigError("trial.command", f"{request.command!r} is not a command")
    return SegmentTask.from_request(request)


class SlurmBackend:
    """The :class:`~slurmhpo.backends.base.Backend` for a Slurm cluster (see module docstring).

    ``queries`` runs squeue and sacct (with backoff after failures); pass one instance to
    the backends of many studies to answer all their polls of a round with one pair of calls.
    """

    name = "slurm"

    def __init__(self, root: Path, queries: SlurmQueries | None = None) -> None:
        self.root = Path(root)
        self.keys = KeyIndex(self.root)
        self.queries = queries or SlurmQueries()

    # submit -------------------------------------------------------------------------------

    def submit(self, requests: Sequence[SegmentRequest]) -> list[str]:
        """One sbatch call per group of equal resources; ids in request order.

        All requests are checked before anything is submitted. A failing sbatch raises
        SlurmhpoError (BackendUnavailable when slurmctld did not answer); groups submitted
        before it keep running and can be found by key.
        """
        groups: dict[tuple[Any, ...], list[int]] = {}
        for position, request in enumerate(requests):
            check_job_key(request.job_key)
            _task(request)
            _parameters(request.resources, request.job_key, 1)
            groups.setdefault(_group_key(request.resources), []).append(position)
        ids: list[str] = [""] * len(requests)
        for positions in groups.values():
            group = [requests[position] for position in positions]
            for position, job_id in zip(positions, self._submit_group(group), strict=True):
                ids[position] = job_id
        return ids

    def _submit_group(self, group: list[SegmentRequest]) -> list[str]:
        make_private_dir(self.root)  # submitit's pickles hold the trial's environment
        array = len(group) > 1
        name = f"{group[0].job_key}+{len(group) - 1}" if array else group[0].job_key
        submitted_at = time.time()
        for index, request in enumerate(group):
            record = {"name": name, "index": index if array else None, "at": submitted_at}
            task = {"task": _task(request).to_dict(), "time_min": request.resources.time_min}
            self.keys.write(request.job_key, {**record, **task})
        executor = submitit.SlurmExecutor(folder=self._folder(name), max_num_timeout=0)
        executor.update_parameters(**_parameters(group[0].resources, name, len(group)))
        self.queries.calls["sbatch"] += 1
        try:
            with executor.batch():
                jobs = [executor.submit(run_segment, _task(request)) for request in group]
        except Exception as error:  # submitit raises bare Exceptions for sbatch failures
            if unreachable(str(error)):
                raise BackendUnavailable(f"sbatch failed for {name}: {error}") from error
            raise SlurmhpoError(
                f"sbatch failed for {name}: {error} (check `sinfo` and the partition, "
                "account and qos of the study; the controller retries next cycle)"
            ) from error
        ids = [str(job.job_id) for job in jobs]
        for index, (request, job_id) in enumerate(zip(group, ids, strict=True)):
            record = {"name": name, "index": index if array else None, "at": submitted_at}
            # not fsynced: after a machine crash find() falls back to the job name
            self.keys.write(request.job_key, {**record, "external_id": job_id}, durable=False)
        return ids

    def _folder(self, job_name: str) -> Path:
        """submitit's folder for the job (or array) named ``job_name``: known before sbatch."""
        return self.root / "submitit" / job_name

    def _give_task(self, record: dict[str, Any], job_id: str) -> None:
        """Write the pickle that job ``job_id`` waits for, if the controller that submitted it
        died before submitit moved it into place (see the module docstring)."""
        folder = self._folder(str(record["name"]))
        pickle = JobPaths(folder, job_id=job_id).submitted_pickle
        if pickle.exists() or "task" not in record:  # placed; or an older marker, without a task
            return
        delayed = DelayedSubmission(run_segment, SegmentTask.from_dict(record["task"]))
        delayed.set_timeout(int(record["time_min"]), 0)  # as submitit's own submit does
        partial = pickle.with_name(f".{pickle.name}.{os.getpid()}.tmp")
        delayed.dump(partial)
        os.replace(partial, pickle)  # the job polls for the name: it must appear whole
        logger.warning("job %s: wrote the task its submitting controller never placed", job_id)

    # poll ---------------------------------------------------------------------------------

    def poll(self, external_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One squeue and one sacct call for all ids, or the answers of the round's snapshot
        when the queries are shared (see :mod:`slurmhpo.backends.slurm_queries`)."""
        return self.queries.poll(external_ids)

    # cancel -------------------------------------------------------------------------------

    def cancel(self, external_ids: Sequence[str]) -> None:
        """One scancel call for all ids; finished or unknown ids are fine.

        Raises BackendUnavailable when slurmctld does not answer (it is down or restarting),
        so that the controller keeps the cancellation on its list and retries next cycle;
        SlurmhpoError when scancel refuses for another reason.
        """
        wanted = [job_id for job_id in dict.fromkeys(external_ids) if JOB_ID.fullmatch(job_id)]
        if not wanted:
            return
        self.queries.calls["scancel"] += 1
        try:
            done = subprocess.run(
                ["scancel", *wanted],
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise BackendUnavailable(f"scancel failed: {error} (is slurmctld up?)") from error
        problems = [
            line
            for line in done.stderr.splitlines()
            if line.strip() and not any(text in line.lower() for text in _BENIGN_SCANCEL)
        ]
        if done.returncode != 0 and problems:
            failure = BackendUnavailable if unreachable(done.stderr) else SlurmhpoError
            raise failure(f"scancel failed: {'; '.join(problems)} (is slurmctld up?)")

    # find ---------------------------------------------------------------------------------

    def find(self, job_keys: Sequence[str]) -> dict[str, str]:
        """External ids of jobs submitted for ``job_keys``: from the markers, else from Slurm.

        A key whose marker lacks the id (crash right after sbatch) is looked up by job name
        with one squeue and one sacct call; a key Slurm never saw is left out.
        """
        found: dict[str, str] = {}
        missing: dict[str, dict[str, Any]] = {}
        for job_key in job_keys:
            record = self.keys.read(job_key)
            if record is None:
                continue
            if record.get("external_id"):
                found[job_key] = str(record["external_id"])
            else:
                missing[job_key] = record
        if missing:
            by_name = self._find_by_name(missing)
            for job_key, job_id in by_name.items():
                self._give_task(missing[job_key], job_id)
            found.update(by_name)
        return found

    def _find_by_name(self, records: dict[str, dict[str, Any]]) -> dict[str, str]:
        names = sorted({str(record["name"]) for record in records.values()})
        since = min(float(record.get("at", 0)) for record in records.values()) - 3600
        start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(max(0.0, since)))
        user = getpass.getuser()
        # `-t all`: also jobs that ended seconds ago. slurmctld keeps them (MinJobAge) while
        # sacct may not list them yet; without it, a job that failed fast right after a crash
        # was in neither answer, so it was submitted again and the first one orphaned.
        queued = self.queries.call(
            ["squeue", "-h", "-t", "all", "-u", user, "-n", ",".join(names), "-o", "%F|%j"]
        )
        by_name = ["--name", ",".join(names), "--format=JobID,JobName"]
        accounted = self.queries.call(
            ["sacct", "-X", "-P", "-n", "-S", start, "-u", user, *by_name]
        )
        base_ids: dict[str, int] = {}
        for line in (queued or "").splitlines() + (accounted or "").splitlines():
            job_id, _, job_name = line.partition("|")
            base = job_id.split("_", 1)[0]
            if base.isdigit():
                base_ids[job_name] = max(base_ids.get(job_name, 0), int(base))
        found: dict[str, str] = {}
        for job_key, record in records.items():
            first = base_ids.get(str(record["name"]))
            if first is not None:
                index = record.get("index")
                found[job_key] = f"{first}_{index}" if index is not None else str(first)
        return found
