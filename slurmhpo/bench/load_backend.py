"""The load benchmark's backend: every submitted segment runs at once, as a writer's job.

Only the outside world is replaced, as with the simulated backend: the controller, store and
scheduler are the real ones. A submitted segment becomes a job of a
:class:`~slurmhpo.bench.load_writers.WriterPool` that appends its metric file at the
benchmark's rate from ``start + 1`` to ``target``; the job reports RUNNING until its writer
has written the target line (then COMPLETED) or the controller cancels it (then CANCELLED at
once: a real cancel takes longer, which would only flatter the controller).

The trial's quality (what the curve converges to) is the config's ``x``, read from the
config file the controller wrote for the segment, so ASHA has real rankings to act on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from slurmhpo.backends.base import JobState, JobStatus, SegmentRequest
from slurmhpo.bench.load_writers import WriterPool
from slurmhpo.trial import ENV_CONFIG, ENV_METRIC_FILE, ENV_START, ENV_TARGET


class LoadBackend:
    """A :class:`~slurmhpo.backends.base.Backend` whose jobs are writer-pool jobs."""

    name = "local"  # jobs.backend accepts slurm/local/simulated; these are local processes

    def __init__(self, pool: WriterPool) -> None:
        self.pool = pool
        self.submitted = 0
        self.cancelled = 0
        self.completed = 0
        self._states: dict[str, JobState] = {}
        self._started: dict[str, datetime] = {}
        self._keys: dict[str, str] = {}

    def submit(self, requests: Sequence[SegmentRequest]) -> list[str]:
        ids = []
        for request in requests:
            env = request.env
            config = json.loads(Path(env[ENV_CONFIG]).read_text(encoding="utf-8"))
            job = f"load-{self.submitted}"
            self.submitted += 1
            self.pool.start(
                job,
                env[ENV_METRIC_FILE],
                int(env[ENV_START]),
                int(env[ENV_TARGET]),
                float(config.get("x", 0.5)),
            )
            self._states[job] = JobState.RUNNING
            self._started[job] = datetime.now(UTC)
            self._keys[request.job_key] = job
            ids.append(job)
        return ids

    def poll(self, external_ids: Sequence[str]) -> dict[str, JobStatus]:
        for job in self.pool.finished():
            if self._states.get(job) is JobState.RUNNING:
                self._states[job] = JobState.COMPLETED
                self.completed += 1
        answers = {}
        for job in external_ids:
            state = self._states.get(job, JobState.UNKNOWN)
            exit_code = 0 if state is JobState.COMPLETED else None
            answers[job] = JobStatus(state, exit_code=exit_code, started_at=self._started.get(job))
        return answers

    def cancel(self, external_ids: Sequence[str]) -> None:
        for job in external_ids:
            if self._states.get(job) is JobState.RUNNING:
                self.pool.stop(job)
                self._states[job] = JobState.CANCELLED
                self.cancelled += 1

    def find(self, job_keys: Sequence[str]) -> dict[str, str]:
        return {key: self._keys[key] for key in job_keys if key in self._keys}
