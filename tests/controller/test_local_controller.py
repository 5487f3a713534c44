"""The controller end to end on the local-process backend: real processes, real files, SQLite."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from controller_helpers import engine_for, load_rows, study_toml

from slurmhpo.cli.main import main
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import event_from_dict, rebuild
from slurmhpo.store.db import read_session
from slurmhpo.store.queries import get_study, list_decisions
from slurmhpo.study import StudySpec


def epochs_in(metric_file: Path) -> list[int]:
    if not metric_file.exists():
        return []
    return [json.loads(line)["epoch"] for line in metric_file.read_text().splitlines()]


def run_study(path: Path, db_url: str) -> int:
    return main(["run", str(path), "--db", db_url, "--poll-interval", "0.1", "-q"])


def test_asha_promotion_study_runs_to_the_end(tmp_path: Path, db_url: str) -> None:
    path = study_toml(tmp_path)
    assert run_study(path, db_url) == 0

    engine = engine_for(db_url)
    rows = load_rows(engine, "toy")
    assert rows["study"].state == "finished"
    assert len(rows["trials"]) == 12
    assert all(job.state == "completed" for job in rows["jobs"])
    states = {t.state for t in rows["trials"]}
    assert states <= {"paused", "completed"}
    assert "completed" in states  # someone reached r_max = 9

    # Paused trials were resumed from their checkpoints: each segment starts where the
    # previous one stopped, and the epochs of a trial's segments chain up without repeats.
    by_trial: dict[int, list] = defaultdict(list)
    for job in rows["jobs"]:
        by_trial[job.trial_id].append(job)
    resumed = [jobs for jobs in by_trial.values() if len(jobs) > 1]
    assert resumed, "no trial was promoted"
    for jobs in by_trial.values():
        seen: list[int] = []
        for job in jobs:
            epochs = epochs_in(Path(job.metric_path))
            assert epochs == list(range(job.start_resource + 1, job.target_resource + 1))
            seen += epochs
        assert seen == list(range(1, seen[-1] + 1))

    # The rungs stored in the DB equal a replay of the scheduler on the stored history.
    with read_session(engine) as session:
        study = get_study(session, "toy")
        payloads = [d.payload for d in list_decisions(session, study)]
    spec = StudySpec.from_dict(rows["study"].spec)
    replayed = rebuild(
        lambda: make_scheduler(spec.to_dict(), spec.space, spec.seed),
        [event_from_dict(p) for p in payloads],
    )
    number_of = {t.id: t.number for t in rows["trials"]}
    stored: dict[int, dict[int, float]] = defaultdict(dict)
    for obs in rows["observations"]:
        stored[obs.resource][number_of[obs.trial_id]] = obs.objective
    for level, members in replayed.rung_table()[0].items():
        assert {row.trial_id: row.value for row in members} == stored[level]


def test_a_failing_job_is_retried_from_its_checkpoint(tmp_path: Path, db_url: str) -> None:
    path = study_toml(
        tmp_path,
        scheduler={"type": "fifo"},
        budget={"max_trials": 2, "max_concurrent": 2},
        resource_max=4,
        extra_space={"fail_once_at": {"type": "categorical", "choices": [3]}},
    )
    assert run_study(path, db_url) == 0
    rows = load_rows(engine_for(db_url), "toy")
    assert {t.state for t in rows["trials"]} == {"completed"}
    for trial in rows["trials"]:
        jobs = [job for job in rows["jobs"] if job.trial_id == trial.id]
        assert [job.state for job in jobs] == ["failed", "completed"]
        assert "exit code 3" in (jobs[0].exit_reason or "")
        assert (jobs[1].start_resource, jobs[1].attempt) == (2, 1)
        assert epochs_in(Path(jobs[1].metric_path)) == [3, 4]
    assert sorted(o.resource for o in rows["observations"]) == [1, 1, 2, 2, 3, 3, 4, 4]


def test_a_trial_that_keeps_failing_is_marked_failed(tmp_path: Path, db_url: str) -> None:
    path = study_toml(
        tmp_path,
        scheduler={"type": "fifo"},
        budget={"max_trials": 1, "max_concurrent": 1},
        resource_max=3,
        extra_space={"fail_always": {"type": "categorical", "choices": [True]}},
        max_retries=1,
    )
    assert run_study(path, db_url) == 1  # its only trial failed: so did the study
    rows = load_rows(engine_for(db_url), "toy")
    (trial,) = rows["trials"]
    assert trial.state == "failed"
    assert "exit code 3" in (trial.failure_reason or "")
    assert [job.attempt for job in rows["jobs"]] == [0, 1]
    assert rows["study"].state == "failed"


def test_sync_successive_halving_retires_its_losers(tmp_path: Path, db_url: str) -> None:
    path = study_toml(
        tmp_path,
        scheduler={"type": "sync_sh", "eta": 3},
        budget={"max_trials": 9, "max_concurrent": 3},
    )
    assert run_study(path, db_url) == 0
    rows = load_rows(engine_for(db_url), "toy")
    states = sorted(t.state for t in rows["trials"])
    # One bracket of 9 trials at epoch 1, 3 of them go on to 3, 1 to 9: the losers are
    # stopped, none left paused (they would never resume).
    assert states == ["completed"] + ["stopped"] * 8
    assert sorted(o.resource for o in rows["observations"] if o.resource in (1, 3, 9)) == (
        [1] * 9 + [3] * 3 + [9]
    )
