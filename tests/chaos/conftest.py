"""Fixtures of the chaos tests: faults a cluster really has, under the real controller.

tests/controller's helpers (the one writer of study files, and the row loader) and
tests/slurm's (a study on the Slurm backend, squeue and sacct) are put on sys.path here, once,
since tests/ is not a package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for folder in (TESTS / "controller", TESTS / "slurm"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# Root reads and searches every directory whatever its mode, through these two capabilities;
# a process started without them in its bounding set is held to file modes like any user.
DROP_MODE_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


@pytest.fixture(scope="session")
def mode_enforcing_prefix(
    tmp_path_factory: pytest.TempPathFactory, skip_or_fail_ci: Callable[[str], None]
) -> list[str]:
    """The command prefix under which a mode-000 directory is unreadable: none for a normal
    user; for root, `setpriv` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, checked on a
    real mode-000 directory before any test relies on it."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        skip_or_fail_ci("setpriv (util-linux) is needed to hold root to file modes")
    probe = tmp_path_factory.mktemp("mode-probe")
    (probe / "closed").mkdir()
    (probe / "closed" / "file").write_text("x")
    (probe / "closed").chmod(0)
    try:
        answer = subprocess.run(
            [*DROP_MODE_OVERRIDE, "cat", str(probe / "closed" / "file")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        (probe / "closed").chmod(0o755)
    if answer.returncode == 0 or "Permission denied" not in answer.stderr:
        skip_or_fail_ci(
            f"setpriv could not hold root to file modes here: {answer.stderr.strip()!r}"
        )
    return DROP_MODE_OVERRIDE


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
