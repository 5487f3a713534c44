"""On real Slurm: a ``[slurm].setup`` line changed in the database never reaches sbatch.

The registered setup line runs in the job script (it leaves a file); the one an intruder
writes into the stored study is refused before any job is submitted, and the user's own
file, run again, replaces the changed study (none of its jobs started) and runs on Slurm.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from controller_helpers import engine_for, load_rows, study_toml, tamper_spec

from slurmhpo.cli.main import main

pytestmark = pytest.mark.slurm


def job_names_since(since: str, prefix: str) -> list[str]:
    """Names of this user's jobs since ``since`` that start with ``prefix`` (squeue + sacct)."""
    queued = subprocess.run(
        ["squeue", "-h", "-o", "%j"], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    accounted = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", since, "-o", "JobName"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    return [name for name in queued + accounted if name.startswith(prefix)]


def test_a_setup_line_changed_in_the_database_never_reaches_slurm(
    tmp_path: Path, slurm_cluster
) -> None:
    name = f"trust-{uuid.uuid4().hex[:8]}"
    registered, intruded = tmp_path / "registered-setup-ran", tmp_path / "intruder-setup-ran"
    slurm = {
        "partition": slurm_cluster.partition,
        "gpus_per_task": 0,
        "cpus_per_task": 1,
        "mem_gb": 0.25,
        "time_min": 5,
        "setup": [f"touch {registered}"],
    }
    study = study_toml(
        tmp_path,
        name=name,
        backend="slurm",
        scheduler={"type": "fifo"},
        budget={"max_trials": 2, "max_concurrent": 2},
        resource_max=1,
        slurm=slurm,
    )
    url = f"sqlite:///{tmp_path / 'hpo.db'}"
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 60))
    assert main(["submit", str(study), "--db", url]) == 0
    tamper_spec(url, name, {"slurm": {"setup": [f"touch {intruded}"]}})

    assert main(["run", name, "--db", url, "--poll-interval", "0.2", "-q"]) == 2
    assert job_names_since(since, f"shpo-{name}-") == []

    assert main(["run", str(study), "--db", url, "--poll-interval", "0.2", "-q"]) == 0
    rows = load_rows(engine_for(url), name)
    assert rows["study"].state == "finished" and len(rows["observations"]) == 2
    assert registered.exists() and not intruded.exists()
    assert len(job_names_since(since, f"shpo-{name}-")) == 2
