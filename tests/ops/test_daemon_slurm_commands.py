"""The daemon's Slurm commands per round do not grow with the number of studies (real Slurm).

Every Slurm command the daemon's process runs (ours and submitit's sbatch) goes through a
wrapper on PATH that logs its argument vector and then runs the real command. Six studies are
driven by one in-process :class:`Daemon` round by round; the log of each round shows one
status ``squeue`` and one status ``sacct`` for all studies together, and at most
``max_acting_studies`` studies submitting. Every study still runs to its end.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from controller_helpers import study_toml
from ops_helpers import cli, snapshot

from slurmhpo.controller.daemon import Daemon, DaemonOptions
from slurmhpo.store.db import make_engine

pytestmark = pytest.mark.slurm

COMMANDS = ("squeue", "sacct", "sbatch", "scancel")
STUDIES = 6
ACTING = 2


def logging_wrappers(folder: Path, log: Path) -> str:
    """A PATH whose first folder holds a logging wrapper for each Slurm command."""
    folder.mkdir()
    for command in COMMANDS:
        real = shutil.which(command)
        assert real is not None, f"{command} is not on PATH"
        wrapper = folder / command
        wrapper.write_text(
            f'#!/bin/sh\nprintf "%s\\n" "{command} $*" >> "{log}"\nexec "{real}" "$@"\n'
        )
        wrapper.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def kind(line: str) -> str:
    """'squeue-status' for the per-round status query, else the command's name."""
    command = line.split(" ", 1)[0]
    if command in ("squeue", "sacct") and " -j " in f" {line} ":
        return f"{command}-status"
    return command


def test_one_status_query_per_round_and_bounded_submissions(
    tmp_path: Path, slurm_partition: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:6]
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    names = [f"cmd{i}-{tag}" for i in range(STUDIES)]
    for name in names:
        path = study_toml(
            tmp_path,
            name=name,
            backend="slurm",
            scheduler={"type": "fifo"},
            budget={"max_trials": 3, "max_concurrent": 1},
            resource_max=3,
            slurm={"partition": slurm_partition, "gpus_per_task": 1, "time_min": 10},
        )
        assert cli("submit", str(path), "--db", db_url).returncode == 0
    log = tmp_path / "slurm-commands.log"
    log.touch()
    monkeypatch.setenv("PATH", logging_wrappers(tmp_path / "bin", log))
    monkeypatch.setenv("TOY_SLEEP", "0.2")  # sbatch exports the environment to the jobs

    engine = make_engine(db_url)
    options = DaemonOptions(poll_interval=0.2, lease_ttl=120, max_acting_studies=ACTING)
    daemon = Daemon(engine, options)
    rounds: list[Counter[str]] = []
    live_studies: list[int] = []  # per round: studies whose jobs the status query covered
    deadline = time.monotonic() + 420
    try:
        while True:
            offset = log.stat().st_size
            live_studies.append(sum(bool(c.external_ids()) for c in daemon.held.values()))
            active = daemon.round()
            with log.open() as lines:
                lines.seek(offset)
                logged = [line.strip() for line in lines if line.strip()]
            rounds.append(Counter(kind(line) for line in logged))
            # the daemon's own count agrees with what really ran
            assert Counter(line.split(" ", 1)[0] for line in logged) == daemon.last_round_commands
            if active == 0:
                break
            assert time.monotonic() < deadline, "the six studies did not finish within 420 s"
            time.sleep(options.poll_interval)
    finally:
        daemon.release_all()
        engine.dispose()

    for number, counts in enumerate(rounds):
        assert counts["squeue-status"] <= 1 and counts["sacct-status"] <= 1, (number, counts)
        assert counts["sbatch"] + counts["scancel"] <= ACTING, (number, counts)
        assert sum(counts.values()) <= 2 + 4 * ACTING, (number, counts)
    assert rounds[0]["sbatch"] == ACTING  # all six wanted to submit at once; two did
    assert max(live_studies) >= 3  # one status query really served several studies at once
    for name in names:
        rows = snapshot(db_url, name)
        assert rows["study"].state == "finished"
        assert sorted(t.state for t in rows["trials"]) == ["completed"] * 3
        assert {job.state for job in rows["jobs"]} == {"completed"}
