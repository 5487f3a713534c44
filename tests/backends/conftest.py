"""Fixtures for the backend tests: a backend that cancels what a test submitted.

The ``slurm_cluster`` fixture (skip on a laptop, fail in CI) lives in tests/conftest.py.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from slurmhpo.backends.base import Backend, JobStatus, Resources, SegmentRequest


@dataclass
class Jobs:
    """A backend plus every id submitted through it, all cancelled when the test ends."""

    backend: Backend
    root: Path
    submitted: list[str] = field(default_factory=list)

    def submit(self, requests: Sequence[SegmentRequest]) -> list[str]:
        ids = self.backend.submit(requests)
        self.submitted.extend(ids)
        return ids

    def request(
        self, key: str, code: str, env: dict[str, str] | None = None, **resources: object
    ) -> SegmentRequest:
        """A request running ``python -c code`` in ``root/work``, logging to ``root/logs/key``."""
        workdir = self.root / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        return SegmentRequest(
            job_key=key,
            command=(sys.executable, "-c", code),
            env=env or {},
            workdir=workdir,
            log_dir=self.root / "logs" / key,
            resources=Resources(**resources),  # type: ignore[arg-type]
        )

    def wait(
        self,
        ids: Sequence[str],
        done: Callable[[dict[str, JobStatus]], bool],
        timeout_s: float = 60.0,
    ) -> dict[str, JobStatus]:
        """Poll until ``done(statuses)`` or the bound; returns the last statuses (no assertion)."""
        deadline = time.monotonic() + timeout_s
        while True:
            statuses = self.backend.poll(ids)
            if done(statuses) or time.monotonic() > deadline:
                return statuses
            time.sleep(0.5)


@pytest.fixture
def local_jobs(tmp_path: Path) -> Iterator[Jobs]:
    from slurmhpo.backends.local import LocalBackend

    jobs = Jobs(LocalBackend(tmp_path / "backend", grace_s=2.0), tmp_path)
    yield jobs
    jobs.backend.cancel(jobs.submitted)


@pytest.fixture
def slurm_jobs(slurm_cluster: Any, tmp_path: Path) -> Iterator[Jobs]:
    from slurmhpo.backends.slurm import SlurmBackend

    jobs = Jobs(SlurmBackend(tmp_path / "backend"), tmp_path)
    yield jobs
    jobs.backend.cancel(jobs.submitted)
