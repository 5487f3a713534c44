"""Fixtures of the operations tests (status, lifecycle commands, daemon).

The study files come from tests/controller/controller_helpers.py (the toy trial); tests/ is
not a package, so its folder is put on sys.path here, once, instead of copying the helper.
The Slurm fixture re-states the small check of tests/slurm/conftest.py for the same reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTROLLER_TESTS = Path(__file__).resolve().parents[1] / "controller"
if str(CONTROLLER_TESTS) not in sys.path:
    sys.path.insert(0, str(CONTROLLER_TESTS))
SLURM_TESTS = Path(__file__).resolve().parents[1] / "slurm"
CLUSTER_ENV = Path(__file__).resolve().parents[2] / "deploy" / "local-slurm" / "cluster.env"
UP_HINT = "start it as root with `bash deploy/local-slurm/up` from the repository root"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def _skip_or_fail(reason: str) -> None:
    """Skip on a laptop, fail when CI=true (the policy of tests/conftest.py)."""
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_partition() -> str:
    """The local cluster's GPU partition once a node of it is up; skip (or fail in CI) else."""
    values = dict(
        line.split("=", 1) for line in CLUSTER_ENV.read_text().splitlines() if "=" in line
    )
    partition = os.environ.get("SLURMHPO_TEST_PARTITION", values["SLURMHPO_TEST_PARTITION"])
    if shutil.which("sinfo") is None:
        _skip_or_fail(f"no Slurm client (sinfo) on PATH; {UP_HINT}")
    answer = subprocess.run(
        ["sinfo", "-h", "-N", "-p", partition.strip(), "-o", "%T"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    states = set(answer.stdout.split())
    if answer.returncode != 0 or not states & {"idle", "mixed", "allocated", "completing"}:
        _skip_or_fail(f"no node of partition {partition!r} is up ({answer.stderr}); {UP_HINT}")
    return partition.strip()
