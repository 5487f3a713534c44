"""Population-based training end to end on the local backend: real processes, real files.

The toy trial's checkpoints name the trial that took them, and with TOY_ORIGIN=1 each report
says whose checkpoint the job loaded; so a trial that starts from a copy of a donor's
checkpoint shows it in its first metric line.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from controller_helpers import engine_for, load_rows, study_toml

from slurmhpo.cli.main import main
from slurmhpo.controller.checkpoints import copy_checkpoint, keep_checkpoint
from slurmhpo.paths import TrialPaths, list_checkpoints
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import event_from_dict, rebuild
from slurmhpo.store.db import read_session
from slurmhpo.store.queries import get_study, list_decisions
from slurmhpo.study import StudySpec
from slurmhpo.trial import save_checkpoint_to

# half the trials at a boundary copy the other half (once two have reached it)
PBT = {"type": "pbt", "population_size": 4, "perturbation_interval": 2, "quantile_fraction": 0.5}


def lines(metric_file: str) -> list[dict]:
    return [json.loads(line) for line in Path(metric_file).read_text().splitlines()]


def test_exploiting_trials_continue_from_the_donors_copied_checkpoint(
    tmp_path: Path, db_url: str
) -> None:
    path = study_toml(tmp_path, name="pbt", **PBT_STUDY)
    assert main(["run", str(path), "--db", db_url, "--poll-interval", "0.1", "-q"]) == 0
    check_pbt_study(tmp_path, db_url)


# one job at a time: a fixed order
PBT_STUDY = {
    "scheduler": PBT,
    "resource_max": 8,
    "budget": {"max_trials": 8, "max_concurrent": 1},
    "env": {"TOY_ORIGIN": "1", "TOY_SLEEP": "0.01"},
}


def check_pbt_study(tmp_path: Path, db_url: str) -> None:
    """The finished study "pbt" (of :data:`PBT_STUDY`, runs under ``tmp_path``): every
    exploiting trial's first job trained on from its donor's checkpoint, every other trial
    only from its own, resumes kept their start checkpoint, and replay rebuilds the lineage."""
    engine = engine_for(db_url)
    rows = load_rows(engine, "pbt")
    assert rows["study"].state == "finished"
    with read_session(engine) as session:
        study = get_study(session, "pbt")
        stored = list_decisions(session, study)
        decisions = [(d.kind, d.payload) for d in stored]
        reasons = [d.reason for d in stored if d.kind == "exploit"]
    exploits = [payload["suggestion"] for kind, payload in decisions if kind == "exploit"]
    assert exploits, "the bottom quarter never exploited"
    for exploit, reason in zip(exploits, reasons, strict=True):  # said for people, too
        assert f"trial {exploit['donor']}'s checkpoint at {exploit['start']}" in reason
    number_of = {t.id: t.number for t in rows["trials"]}
    first_job = {}
    for job in rows["jobs"]:  # ordered by id: a trial's first job comes first
        first_job.setdefault(number_of[job.trial_id], job)
    runs = tmp_path / "runs" / rows["study"].run_key
    for exploit in exploits:
        job = first_job[exploit["trial_id"]]
        assert (job.start_resource, job.target_resource) == (exploit["start"], exploit["target"])
        first = lines(job.metric_path)[0]
        # it trained on from the donor's state: the next epoch, loaded from the donor's file
        assert (first["epoch"], first["origin"]) == (exploit["start"] + 1, exploit["donor"])
        copied = TrialPaths(runs.parent, runs.name, exploit["trial_id"])
        assert not any(p.name.startswith(".") for p in copied.checkpoint_dir.iterdir())
    # every trial that never exploited loaded only its own checkpoints
    exploited = {e["trial_id"] for e in exploits}
    for job in rows["jobs"]:
        number = number_of[job.trial_id]
        if number not in exploited and job.start_resource > 0:
            assert {line["origin"] for line in lines(job.metric_path)} == {number}
        if job.start_resource > 0 and job is not first_job[number]:  # a resume: kept first
            kept = TrialPaths(runs.parent, runs.name, number).kept_dir
            assert [r for r, _ in list_checkpoints(kept)].count(job.start_resource) == 1

    # replay: the stored history rebuilds the scheduler, lineage included
    spec = StudySpec.from_dict(rows["study"].spec)
    replayed = rebuild(
        lambda: make_scheduler(spec.to_dict(), spec.space, spec.seed),
        [event_from_dict(payload) for _, payload in decisions],
    )
    for exploit in exploits:
        assert replayed.checkpoint_source(exploit["trial_id"]) == (
            exploit["donor"],
            exploit["start"],
        )


def test_kept_checkpoint_survives_the_donors_pruning(tmp_path: Path) -> None:
    donor = TrialPaths(tmp_path, "s-1", 0)
    taker = TrialPaths(tmp_path, "s-1", 1)
    for paths in (donor, taker):
        paths.make_dirs()
    save_checkpoint_to(donor.checkpoint_dir, {"epoch": 2, "trained_by": 0}, 2)
    assert keep_checkpoint(donor, 2) is not None
    for epoch in (3, 4, 5):  # the donor trains on; its own pruning deletes epoch 2
        save_checkpoint_to(donor.checkpoint_dir, {"epoch": epoch, "trained_by": 0}, epoch)
    assert [r for r, _ in list_checkpoints(donor.checkpoint_dir)] == [5, 4]
    copied = copy_checkpoint(donor, taker, 2)
    assert copied is not None and copied.name == "checkpoint-000000002.pkl"
    assert pickle.loads(copied.read_bytes()) == {"epoch": 2, "trained_by": 0}
    assert copy_checkpoint(donor, taker, 2) is None  # done once; a retry changes nothing


def test_a_copy_killed_midway_leaves_no_checkpoint_the_trial_would_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    donor = TrialPaths(tmp_path, "s-1", 0)
    taker = TrialPaths(tmp_path, "s-1", 1)
    taker.make_dirs()
    save_checkpoint_to(donor.checkpoint_dir, b"x" * 100_000, 4)

    def half_then_die(source: Path, target: Path) -> None:
        Path(target).write_bytes(Path(source).read_bytes()[:1000])
        raise KeyboardInterrupt  # stands in for the kill: nothing after this line runs

    monkeypatch.setattr("slurmhpo.paths.shutil.copyfile", half_then_die)
    with pytest.raises(KeyboardInterrupt):
        copy_checkpoint(donor, taker, 4)
    assert list_checkpoints(taker.checkpoint_dir) == []  # nothing loadable, whole or half
    monkeypatch.undo()
    # a SIGKILL skips the clean-up too: a leftover temp file is never taken for a checkpoint
    (taker.checkpoint_dir / ".checkpoint-000000004.bin.tmp-1-dead").write_bytes(b"x" * 10)
    assert list_checkpoints(taker.checkpoint_dir) == []
    copied = copy_checkpoint(donor, taker, 4)  # the next controller copies it whole
    assert copied is not None and copied.read_bytes() == b"x" * 100_000
