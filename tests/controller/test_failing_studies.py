"""Studies whose trials cannot work end ``failed``, quickly and with the jobs' own words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from controller_helpers import engine_for, load_rows, study_toml

from slurmhpo.cli.main import main
from slurmhpo.controller.failfast import ENDS_NEEDED


def test_a_wrong_script_path_fails_the_study_after_its_first_trials(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = study_toml(
        tmp_path,
        scheduler={"type": "fifo"},
        budget={"max_trials": 40, "max_concurrent": 2},
        script=tmp_path / "no_such_train.py",
        max_retries=2,
    )
    code = main(["run", str(path), "--db", db_url, "--poll-interval", "0.1", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    # both slots' jobs may end in one cycle: 3 or 4 jobs
    assert re.search(
        r"study 'toy' failed: the first [34] jobs \(trials 0, 1\) all failed \(exit code 2\)", err
    )
    assert "can't open file" in err  # the tail of a job's stderr
    rows = load_rows(engine_for(db_url), "toy")
    assert rows["study"].state == "failed"
    # 3 failed jobs, plus what ran beside them: not 40 trials x 3 attempts
    assert len(rows["jobs"]) <= ENDS_NEEDED + 3
    assert not [job for job in rows["jobs"] if job.state in ("pending", "submitted", "running")]
    assert {trial.state for trial in rows["trials"]} == {"failed"}


def test_a_study_in_which_every_trial_failed_ends_failed(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two trials that fail after reporting (fail fast does not apply): after their retries
    the study ends failed, and `run` says so with exit code 1."""
    path = study_toml(
        tmp_path,
        scheduler={"type": "fifo"},
        budget={"max_trials": 2, "max_concurrent": 2},
        resource_max=4,
        extra_space={"fail_once_at": {"type": "categorical", "choices": [2]}},
        max_retries=0,
    )
    code = main(["run", str(path), "--db", db_url, "--poll-interval", "0.1", "-q"])
    assert code == 1
    assert "every trial failed (see: slurmhpo trials toy --state failed)" in capsys.readouterr().err
    rows = load_rows(engine_for(db_url), "toy")
    assert rows["study"].state == "failed"
    assert [trial.state for trial in rows["trials"]] == ["failed", "failed"]
    assert len(rows["observations"]) == 2  # epoch 1 of each was kept
