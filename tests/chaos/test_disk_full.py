"""Chaos: the file system of the study's runs_dir fills up mid-study, then space is freed.

The runs_dir is a 16 MiB tmpfs mounted for the test (root only). A real study of local
processes runs on it; the test fills the file system to the last byte, waits until the
controller has met the full disk, frees the space and lets the study finish. The controller
must say what is wrong (the folder and "No space left on device"), stay up, submit the
waiting segments once space is back, and lose nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slurmhpo.store.db import make_engine
from tests.chaos.invariants import check_invariants
from tests.conftest import skip_or_fail
from tests.controller.controller_helpers import study_toml
from tests.ops.ops_helpers import cli, finish, snapshot, start, wait_for

FULL_SECONDS = 8.0


@pytest.fixture
def small_runs_dir(tmp_path: Path) -> Iterator[Path]:
    runs = tmp_path / "runs"
    runs.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        skip_or_fail("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(runs)], check=True)
    try:
        yield runs
    finally:
        subprocess.run(["umount", "-l", str(runs)], check=False)


def _fill(folder: Path) -> Path:
    """Write zeros into ``folder`` until its file system is full; returns the file."""
    filler = folder / "filler.bin"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError:
            pass
    return filler


def test_runs_dir_fills_up_then_space_is_freed(tmp_path: Path, small_runs_dir: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"  # the database is elsewhere
    study = study_toml(
        tmp_path,
        scheduler={"type": "asha", "variant": "promotion", "eta": 3},
        budget={"max_trials": 12, "max_concurrent": 3},
        resource_max=9,
        max_retries=5,  # a trial killed by the full disk is retried, not failed
    )
    assert cli("submit", str(study), "--db", db_url).returncode == 0
    log = tmp_path / "run.log"
    proc = start(
        "run", "toy", "--db", db_url, "--poll-interval", "0.2", toy_sleep=0.2, log=log
    )  # fmt: skip
    try:
        wait_for("first observations", lambda: len(snapshot(db_url, "toy")["observations"]) >= 3)
        filler = _fill(small_runs_dir)
        wait_for(
            "the controller to meet the full disk",
            lambda: "No space left on device" in log.read_text(),
        )
        time.sleep(FULL_SECONDS)
        assert proc.poll() is None, "the controller exited on a full disk"
        filler.unlink()
        assert finish(proc, timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert f"cannot write the files of new trial segments under {small_runs_dir}" in text
    assert "their jobs wait (pending) and are submitted once space is freed there" in text
    assert f"the trial files can be written again under {small_runs_dir}" in text
    engine = make_engine(db_url)
    counts = check_invariants(engine, "toy")
    engine.dispose()
    assert counts["failed_trials"] == []
    print(f"invariants held: {counts}")  # docs/reliability.md quotes these (pytest -s)
