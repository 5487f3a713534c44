"""The controller job's database URL (which may hold a password) stays private.

The URL travels inside submitit's pickle under ``runs_dir/_slurm/controller``: those folders
are 0700, ``ControllerJob``'s repr masks the password, and the job's own logs never print it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from slurmhpo.controller.sbatch_controller import ControllerJob, log_folder, submit
from slurmhpo.paths import make_private_dir

PASSWORD = "s3cret-Pw-4217"
JOB_END_GIVE_UP_S = 180.0  # hang guard: the job fails within seconds


def job_with_password(runs_dir: Path, url: str, partition: str | None = None) -> ControllerJob:
    return ControllerJob(
        study="secret-study",
        db_url=url,
        runs_dir=str(runs_dir),
        time_min=2,
        handover_min=0.5,
        partition=partition,
    )


def test_repr_masks_the_password(tmp_path: Path) -> None:
    job = job_with_password(tmp_path, f"postgresql+psycopg://alice:{PASSWORD}@db:5432/hpo")
    shown = repr(job)
    assert PASSWORD not in shown and PASSWORD not in str(job)
    assert "postgresql+psycopg://alice:***@db:5432/hpo" in shown
    assert "study='secret-study'" in shown and "generation=1" in shown


def test_private_dir_is_created_and_an_open_one_is_tightened(tmp_path: Path) -> None:
    fresh = make_private_dir(tmp_path / "a" / "b")
    assert fresh.stat().st_mode & 0o777 == 0o700
    opened = tmp_path / "open"
    opened.mkdir(mode=0o755)
    opened.chmod(0o777)
    make_private_dir(opened)
    assert opened.stat().st_mode & 0o777 == 0o700


def _wait_until_gone(job_id: str) -> None:
    deadline = time.monotonic() + JOB_END_GIVE_UP_S
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["squeue", "-h", "-j", job_id], capture_output=True, text=True, timeout=60
        ).stdout
        if not out.strip():
            return
        time.sleep(1.0)
    subprocess.run(["scancel", job_id], capture_output=True, timeout=60, check=False)
    raise AssertionError(f"controller job {job_id} still queued after {JOB_END_GIVE_UP_S} s")


@pytest.mark.slurm
def test_the_controller_job_files_are_private_and_its_logs_hide_the_password(
    tmp_path: Path, slurm_cluster, pg_url: str
) -> None:
    """A real controller job on real Slurm, with a password in its PostgreSQL URL (the test
    server trusts local connections, so the password is carried but not needed). The study
    does not exist, so the job fails at once, and its error names the database."""
    url = make_url(pg_url).set(password=PASSWORD).render_as_string(hide_password=False)
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir(mode=0o755)
    job = job_with_password(runs_dir, url, slurm_cluster.partition)
    job_id = submit(job)
    _wait_until_gone(job_id)

    controller_dir = log_folder(job).parent
    for folder in (runs_dir / "_slurm", controller_dir):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    files = [path for path in controller_dir.rglob("*") if path.is_file()]
    pickles = [path for path in files if path.suffix == ".pkl"]
    logs = [path for path in files if path.suffix in (".out", ".err")]
    assert pickles and logs, sorted(str(path) for path in files)
    # the URL is in the pickle (so the check below looks where it matters) ...
    assert any(PASSWORD.encode() in path.read_bytes() for path in pickles)
    # ... and the job's logs, which show the failure, never print it
    text = "".join(path.read_text(errors="replace") for path in logs)
    assert "secret-study" in text and PASSWORD not in text
