"""Fixtures for the backend tests: the local Slurm cluster check and helpers shared by suites.

``slurm_cluster`` follows the project's policy (tests/conftest.py): without a working cluster
a Slurm test is skipped on a laptop and fails in CI. Working means: ``sinfo`` shows the test
partition up and ``sacct`` answers (the backend needs accounting). Names come from
deploy/local-slurm/cluster.env, the file the cluster script renders slurm.conf from.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from slurmhpo.backends.base import Backend, JobStatus, Resources, SegmentRequest

CLUSTER_ENV = Path(__file__).resolve().parents[2] / "deploy" / "local-slurm" / "cluster.env"


def skip_or_fail(reason: str) -> None:
    """tests/conftest.py's policy function, loaded by path.

    ``tests`` is not a package and the repository root is not on sys.path under a plain
    ``pytest`` run, so ``from tests.conftest import ...`` would fail there.
    """
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("_slurmhpo_test_policy", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.skip_or_fail(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: takes minutes of wall time (a real Slurm time limit); -m 'not slow' skips"
    )


def read_cluster_env() -> dict[str, str]:
    """KEY=VALUE lines of cluster.env (no quoting, no expansion)."""
    values: dict[str, str] = {}
    for line in CLUSTER_ENV.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def _cluster_problem(partition: str) -> str | None:
    """Why the cluster cannot run the tests, or None when it can."""
    if shutil.which("sbatch") is None:
        return "Slurm commands not installed (run deploy/local-slurm/up as root)"
    try:
        state = subprocess.run(
            ["sinfo", "-h", "-p", partition, "-o", "%a"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
        accounting = subprocess.run(
            ["sacct", "-X", "-n", "-S", "now"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"Slurm does not answer: {error} (run deploy/local-slurm/up as root)"
    if state.returncode != 0 or "up" not in state.stdout.split():
        return f"partition {partition!r} not up: {state.stderr.strip()} (run deploy/local-slurm/up)"
    if accounting.returncode != 0:
        return f"sacct fails: {accounting.stderr.strip()} (run deploy/local-slurm/up)"
    return None


@dataclass(frozen=True)
class SlurmCluster:
    """Names of the local test cluster."""

    partition: str
    preempt_partition: str
    gpus: int


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    """The local test cluster, checked once per session; skip (laptop) or fail (CI) if absent."""
    env = read_cluster_env()
    partition = env.get("SLURMHPO_TEST_PARTITION", "gpu")
    problem = _cluster_problem(partition)
    if problem is not None:
        skip_or_fail(problem)
    return SlurmCluster(
        partition=partition,
        preempt_partition=env.get("SLURMHPO_TEST_PREEMPT_PARTITION", "preempt"),
        gpus=int(env.get("SLURMHPO_TEST_GPUS", "4")),
    )


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
def slurm_jobs(slurm_cluster: SlurmCluster, tmp_path: Path) -> Iterator[Jobs]:
    from slurmhpo.backends.slurm import SlurmBackend

    jobs = Jobs(SlurmBackend(tmp_path / "backend"), tmp_path)
    yield jobs
    jobs.backend.cancel(jobs.submitted)
