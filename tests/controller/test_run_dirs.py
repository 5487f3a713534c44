"""A study's files are its own: two studies of one name never share a run folder.

The run folder used to be ``<runs_dir>/<name>``: a second study of the same name (a fresh
database, or re-created after a cancel) appended to the first one's metric files, and its
controller took the first study's lines as its own observations.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from controller_helpers import engine_for, load_rows, study_toml

from slurmhpo.cli.main import main
from slurmhpo.controller.rundir import MARKER, RunDir, UntrustedStudy

BUDGET = {"max_trials": 4, "max_concurrent": 2}


def run(target: str | Path, url: str) -> int:
    return main(["run", str(target), "--db", url, "--poll-interval", "0.1", "-q"])


def lines_of(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.mark.parametrize("second_db", ["sqlite", "postgresql"])
def test_a_new_study_of_an_old_name_reads_none_of_the_old_files(
    tmp_path: Path, second_db: str, request: pytest.FixtureRequest
) -> None:
    study = study_toml(tmp_path, scheduler={"type": "fifo"}, budget=BUDGET, resource_max=3)
    first_url = f"sqlite:///{tmp_path / 'first.db'}"
    second_url = (
        f"sqlite:///{tmp_path / 'second.db'}"
        if second_db == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    assert run(study, first_url) == 0
    assert run(study, second_url) == 0  # same file, same runs_dir, new database

    first = load_rows(engine_for(first_url), "toy")
    second = load_rows(engine_for(second_url), "toy")
    assert first["study"].uid != second["study"].uid
    assert {j.metric_path for j in first["jobs"]}.isdisjoint(j.metric_path for j in second["jobs"])
    created = second["study"].created_at
    for job in second["jobs"]:
        # each metric file holds exactly the lines its one job wrote: nothing left from before
        epochs = [line["epoch"] for line in lines_of(job.metric_path)]
        assert epochs == list(range(job.start_resource + 1, job.target_resource + 1))
    assert len(second["observations"]) == 4 * 3
    assert all(obs.reported_at >= created for obs in second["observations"])
    for rows in (first, second):
        folder = Path(rows["jobs"][0].metric_path).parents[4]
        assert folder.name == rows["study"].run_key
        marker = json.loads((folder / MARKER).read_text())
        assert (marker["study"], marker["uid"]) == ("toy", rows["study"].uid)


def test_a_folder_claimed_by_another_study_is_refused_with_the_fix(tmp_path: Path) -> None:
    RunDir(tmp_path, "toy", "a" * 32, "toy").claim("digest")
    other = RunDir(tmp_path, "toy", "b" * 32, "toy")
    for attempt in (lambda: other.claim("digest"), lambda: other.verify("digest")):
        with pytest.raises(UntrustedStudy) as info:
            attempt()
        message = str(info.value)
        assert str(tmp_path / "toy") in message and "another study" in message
        assert "another runs_dir" in message
    RunDir(tmp_path, "toy", "a" * 32, "toy").verify("digest")  # its owner goes on


def test_a_folder_without_a_marker_is_refused(tmp_path: Path) -> None:
    (tmp_path / "toy" / "trials").mkdir(parents=True)  # e.g. left by an older slurmhpo
    with pytest.raises(UntrustedStudy, match=r"slurmhpo run STUDY\.toml"):
        RunDir(tmp_path, "toy", "a" * 32, "toy").verify("digest")


def test_a_marker_others_may_write_is_refused(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path, "toy", "a" * 32, "toy")
    run_dir.claim("digest")
    run_dir.marker.chmod(0o666)
    with pytest.raises(UntrustedStudy, match="chmod go-w"):
        run_dir.verify("digest")
    run_dir.claim("digest")  # registering again tightens it
    run_dir.verify("digest")
