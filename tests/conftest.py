"""Shared test policy and the local Slurm cluster fixtures.

Tests that need a real service skip on a laptop without it and fail in CI: CI sets
``CI=true`` and starts every service itself, so a missing service there is a defect, never a
reason to skip.

Slurm: partition names and sizes come from deploy/local-slurm/cluster.env, the same file `up`
renders into slurm.conf, so the tests and the cluster cannot disagree; an environment variable
of the same name overrides the file (say, to point the tests at another cluster's partition).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url


def running_in_ci() -> bool:
    """True when the CI runner set CI=true (or 1/yes)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip the calling test on a laptop; fail it in CI, where the service must be there."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def skip_or_fail_ci() -> Callable[[str], None]:
    """`skip_or_fail_ci(reason)`: skip_or_fail as a fixture, for tests whose need (a package,
    a data set) has no fixture of its own; no import path to this conftest needed."""
    return skip_or_fail


# Root reads and searches every directory whatever its mode, through these two capabilities;
# a process started without them in its bounding set is held to file modes like any user.
DROP_MODE_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


@pytest.fixture(scope="session")
def mode_enforcing_prefix(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command prefix under which a mode-000 directory is unreadable: none for a normal
    user; for root, `setpriv` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, checked on a
    real mode-000 directory before any test relies on it. CI runs as root, so the tests of
    unreadable files run their reader as a child process under this prefix rather than
    skip."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        skip_or_fail("setpriv (util-linux) is needed to hold root to file modes")
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
        skip_or_fail(f"setpriv could not hold root to file modes here: {answer.stderr.strip()!r}")
    return DROP_MODE_OVERRIDE


PG_ADMIN_URL = os.environ.get(
    "SLURMHPO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database private to this test (dropped after), so tests
    never see each other's rows, nor those of other suites sharing the server."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except Exception as exc:
        admin.dispose()
        skip_or_fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
    name = f"slurmhpo_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


CLUSTER_ENV = Path(__file__).resolve().parents[1] / "deploy" / "local-slurm" / "cluster.env"
UP_HINT = "start it as root with `bash deploy/local-slurm/up` from the repository root"
# sinfo %T states in which a node accepts or runs jobs.
NODE_UP_STATES = frozenset({"idle", "mixed", "allocated", "completing"})


@dataclasses.dataclass(frozen=True)
class SlurmCluster:
    """What a test may rely on: partition names, the up node, and its GPU count."""

    partition: str
    preempt_partition: str
    node: str
    gpus: int


def read_cluster_env(path: Path = CLUSTER_ENV) -> dict[str, str]:
    """Parse KEY=VALUE lines (no quoting, `#` comments), as `up` does; environment wins."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return {key: os.environ.get(key, value) for key, value in values.items()}


def run_slurm_command(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a Slurm client command; a timeout guards against a hung controller."""
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


# sacct states after which a job's allocation row can still change; "" = no row recorded yet.
SACCT_NOT_ENDED = frozenset(
    {"", "PENDING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"}
)
SACCT_GIVE_UP_S = 120.0


def _sacct_final_row(job_id: str, fields: tuple[str, ...]) -> dict[str, str]:
    """The job's allocation row (sacct -X) once sacct shows that it ended, filled in.

    Polls because sacct lags squeue and even a returned result() by seconds (slurm-notes.md),
    and because for a moment it shows the end state with other fields still empty (measured:
    COMPLETED with Partition "" for ~0.4 s). So `fields` must include "State" and name only
    fields that every ended job has. Fails the test, with the last row seen, if sacct still
    shows no such row after SACCT_GIVE_UP_S: a hang guard, not a timing assertion.
    """
    deadline = time.monotonic() + SACCT_GIVE_UP_S
    row: dict[str, str] = {}
    while True:
        answer = run_slurm_command(
            ["sacct", "-j", job_id, "-X", "-n", "-P", "-o", ",".join(fields)]
        )
        lines = answer.stdout.strip().splitlines() if answer.returncode == 0 else []
        if lines:
            row = dict(zip(fields, lines[0].split("|"), strict=True))
        # "CANCELLED by 0" is raw text: compare the first word only.
        state = row.get("State", "").split(" ")[0]
        if state not in SACCT_NOT_ENDED and all(row.values()):
            return row
        if time.monotonic() > deadline:
            pytest.fail(f"sacct: job {job_id} not ended+filled in after {SACCT_GIVE_UP_S} s: {row}")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def sacct_final_row() -> Callable[[str, tuple[str, ...]], dict[str, str]]:
    """`sacct_final_row(job_id, fields)`: see _sacct_final_row (a fixture, so tests need no
    import path to this conftest)."""
    return _sacct_final_row


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    """The local cluster, once per session; skip (or fail in CI) unless a node is up."""
    env = read_cluster_env()
    partition = env["SLURMHPO_TEST_PARTITION"]
    if shutil.which("sinfo") is None:
        skip_or_fail(f"no Slurm client (sinfo) on PATH; {UP_HINT}")
    try:
        answer = run_slurm_command(["sinfo", "-h", "-N", "-p", partition, "-o", "%N %T"])
    except subprocess.TimeoutExpired:
        skip_or_fail(f"sinfo did not answer within 60 s; {UP_HINT}")
    if answer.returncode != 0:
        skip_or_fail(f"sinfo failed: {answer.stderr.strip()}; {UP_HINT}")
    up_nodes = [
        name
        for name, state in (line.split() for line in answer.stdout.splitlines() if line.strip())
        if state in NODE_UP_STATES
    ]
    if not up_nodes:
        skip_or_fail(
            f"no node of partition {partition!r} is up (sinfo: {answer.stdout.strip()!r}); "
            f"{UP_HINT}"
        )
    accounting = run_slurm_command(["sacct", "-X", "-n", "-S", "now"])
    if accounting.returncode != 0:
        skip_or_fail(f"sacct fails (accounting is needed): {accounting.stderr.strip()}; {UP_HINT}")
    return SlurmCluster(
        partition=partition,
        preempt_partition=env["SLURMHPO_TEST_PREEMPT_PARTITION"],
        node=up_nodes[0],
        gpus=int(env["SLURMHPO_TEST_GPUS"]),
    )
