"""Fixtures of the chaos tests: faults a cluster really has, under the real controller.

tests/controller's helpers (the one writer of study files, and the row loader) and
tests/slurm's (a study on the Slurm backend, squeue and sacct) are put on sys.path here, once,
since tests/ is not a package.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for folder in (TESTS / "controller", TESTS / "slurm"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture
def restores_cluster(
    slurm_cluster: object, skip_or_fail_ci: Callable[[str], None]
) -> Iterator[None]:
    """For tests that break the local Slurm cluster: root is needed to signal its daemons, and
    afterwards, pass or fail, deploy/local-slurm/up brings every daemon and the node back, so
    a failing test never leaves a broken cluster to the tests after it."""
    if os.geteuid() != 0:
        skip_or_fail_ci("stopping Slurm's daemons needs root")
    from slurm_faults import cluster_up

    try:
        yield
    finally:
        cluster_up()
