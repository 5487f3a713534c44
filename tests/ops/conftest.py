"""Fixtures of the operations tests (status, lifecycle commands, daemon).

The study files come from tests/controller/controller_helpers.py (the toy trial); tests/ is
not a package, so its folder is put on sys.path here, once, instead of copying the helper.
The Slurm partition comes from the session fixture ``slurm_cluster`` of tests/conftest.py,
which skips on a laptop without the cluster and fails in CI.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CONTROLLER_TESTS = Path(__file__).resolve().parents[1] / "controller"
if str(CONTROLLER_TESTS) not in sys.path:
    sys.path.insert(0, str(CONTROLLER_TESTS))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


@pytest.fixture(scope="session")
def slurm_partition(slurm_cluster) -> str:
    """The local cluster's GPU partition once a node of it is up; skip (or fail in CI) else."""
    return slurm_cluster.partition
