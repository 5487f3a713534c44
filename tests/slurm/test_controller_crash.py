"""Crash safety of the controller on the real Slurm cluster: SIGKILL, SIGTERM, a second controller.

The controller runs as a child process (`python -m slurmhpo.cli.main run`). Killed with SIGKILL
at moments drawn from a seeded RNG and restarted each time, it must still finish the study
with nothing lost, duplicated or orphaned. What those words mean here:

* **lost**: a metric line a job wrote for its own segment (start < epoch <= target), of a
  trial the scheduler never stopped, that has no observation with the same value and job.
* **duplicated**: two observations for one (trial, resource) (also a UNIQUE constraint), two
  ``result`` decisions for one (trial, resource), two ``start`` decisions for one trial, two
  ``resume`` decisions for one (trial, start), or a gap or repeat in the decision numbers.
* **orphan**: a Slurm job named after this study's job keys (``shpo-<study>-<digest>-j<id>``,
  arrays ``<first key>+N``) whose id is not a job row of the study; or, the other way round,
  two job rows adopting one Slurm job.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from slurm_study_helpers import (
    StudyRows,
    cancel_by_name_prefix,
    controller_argv,
    key_prefix,
    load_study_rows,
    metric_lines,
    replayed_rungs,
    sacct_rows_by_name_prefix,
    slurm_study_toml,
    squeue_names,
    start_controller,
    stop_child,
    stored_rungs,
    wait_for_sacct_ended,
    wait_until_gone_from_squeue,
    watch_study,
)

from slurmhpo.errors import StoreError
from slurmhpo.store.db import make_engine

pytestmark = pytest.mark.slurm

# Override to hunt for rare windows, e.g. SLURMHPO_TEST_CRASH_SEED=7 SLURMHPO_TEST_KILLS=20.
KILLS = int(os.environ.get("SLURMHPO_TEST_KILLS", "6"))
SEED = int(os.environ.get("SLURMHPO_TEST_CRASH_SEED", "20261123"))
# A controller lives this long (s) before its SIGKILL: from inside its start-up (imports,
# schema, lease) to several cycles of 0.5 s.
LIFETIME = (float(os.environ.get("SLURMHPO_TEST_MIN_LIFE", "1.0")), 4.5)
FINISH_GIVE_UP_S = 300.0  # hang guard for the last, uninterrupted controller


def finish(target: str | Path, db_url: str, log_path: Path) -> None:
    """Run a controller until the study ends; fail with its log if it errs or hangs."""
    controller = start_controller(target, db_url, log_path, poll_interval=0.5)
    try:
        code = controller.wait(timeout=FINISH_GIVE_UP_S)
    except subprocess.TimeoutExpired:
        stop_child(controller)
        pytest.fail(
            f"the study did not finish within {FINISH_GIVE_UP_S} s:\n{log_path.read_text()}"
        )
    assert code == 0, log_path.read_text()


def assert_nothing_lost(rows: StudyRows) -> None:
    """Every line a job wrote for its own segment is an observation, and nothing else is."""
    observed = {
        (obs.trial_id, obs.resource): (obs.objective, obs.job_id) for obs in rows.observations
    }
    expected = {}
    for job in rows.jobs:
        for line in metric_lines(Path(job.metric_path)):
            if job.start_resource < line["epoch"] <= job.target_resource:
                expected[(job.trial_id, line["epoch"])] = (line["loss"], job.id)
    lost = sorted(set(expected) - set(observed))
    assert lost == [], f"metric lines with no observation (trial id, epoch): {lost}"
    assert observed == expected  # same values, same jobs, and no observation from nowhere


def assert_no_repeated_decision(rows: StudyRows) -> None:
    seqs = [d.seq for d in rows.decisions]
    assert seqs == list(range(1, len(seqs) + 1))
    results = Counter(
        (d.trial_id, d.payload["resource"])
        for d in rows.decisions
        if d.payload["event"] == "result"
    )
    starts = Counter(d.trial_id for d in rows.decisions if d.kind == "start")
    resumes = Counter(
        (d.trial_id, d.payload["suggestion"]["start"]) for d in rows.decisions if d.kind == "resume"
    )
    assert [key for key, n in results.items() if n > 1] == []
    assert starts == Counter(trial.id for trial in rows.trials)  # exactly one each
    assert [key for key, n in resumes.items() if n > 1] == []


def assert_no_orphan(rows: StudyRows, since: str) -> None:
    prefix = key_prefix(rows)
    ours = [job.external_id for job in rows.jobs]
    assert None not in ours
    assert len(set(ours)) == len(ours), "two job rows adopted the same Slurm job"
    # sacct lists a just-ended job by id a moment before its time-window query does: wait
    # (bounded) until it lists ours; extra jobs, the orphans, would not go away by waiting.
    deadline = time.monotonic() + 60
    while not set(ours) <= set(in_slurm := sacct_rows_by_name_prefix(prefix, since)):
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    assert set(in_slurm) == set(ours)  # no job submitted twice or forgotten, none missing
    assert wait_until_gone_from_squeue(prefix) == []


def sigkill_repeatedly(
    tmp_path: Path,
    slurm_cluster,
    *,
    kills: int,
    seed: int,
    max_trials: int = 14,
    toy_sleep: float = 0.5,
) -> tuple[StudyRows, int, str]:
    """Drive a study with a controller SIGKILLed up to ``kills`` times at seeded moments,
    each time restarted, then let a last one finish it; returns the study's rows, the kills
    made and the start time (for sacct)."""
    since = time.strftime("%Y-%m-%dT%H:%M:%S")  # sacct -S takes the cluster's local time
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    log_path = tmp_path / "controller.log"
    path = slurm_study_toml(
        tmp_path,
        name="crash",
        partition=slurm_cluster.partition,
        budget={"max_trials": max_trials, "max_concurrent": slurm_cluster.gpus},
        env={"TOY_SLEEP": str(toy_sleep)},  # jobs outlive the controller's deaths
    )
    rng = random.Random(seed)
    done = 0
    try:
        for _ in range(kills):
            # the study file each time: a kill may come before the first one registered it
            # (a loaded machine), and registering the same study again is a no-op
            controller = start_controller(path, db_url, log_path, poll_interval=0.5)
            try:
                code = controller.wait(timeout=rng.uniform(*LIFETIME))
            except subprocess.TimeoutExpired:
                controller.send_signal(signal.SIGKILL)
                controller.wait(timeout=30)
                done += 1
            else:
                assert code == 0, log_path.read_text()
                break  # finished before its kill: nothing left to interrupt
        finish(path, db_url, log_path)
    finally:
        with contextlib.suppress(AssertionError, StoreError):  # no study: nothing to clean
            leftover = load_study_rows(make_engine(db_url), "crash")
            if leftover.jobs:
                cancel_by_name_prefix(key_prefix(leftover))
    return load_study_rows(make_engine(db_url), "crash"), done, since


def assert_crashes_lost_nothing(rows: StudyRows, since: str, max_trials: int) -> None:
    """The study finished whole: nothing lost, duplicated or orphaned (module docstring)."""
    assert rows.study.state == "finished"
    assert len(rows.trials) == max_trials
    assert {t.state for t in rows.trials} <= {"paused", "completed"}
    # Every segment ran exactly its own epochs, once: no job was submitted twice for it.
    for job in rows.jobs:
        epochs = [line["epoch"] for line in metric_lines(Path(job.metric_path))]
        assert epochs == list(range(job.start_resource + 1, job.target_resource + 1))
    assert_nothing_lost(rows)
    assert_no_repeated_decision(rows)
    replay = replayed_rungs(rows)  # raises if the history contradicts itself
    assert stored_rungs(rows, list(replay)) == replay
    accounted = wait_for_sacct_ended([job.external_id for job in rows.jobs])
    assert {row["State"] for row in accounted.values()} == {"COMPLETED"}
    assert_no_orphan(rows, since)


def test_sigkilled_controller_loses_nothing(tmp_path: Path, slurm_cluster) -> None:
    rows, kills, since = sigkill_repeatedly(tmp_path, slurm_cluster, kills=KILLS, seed=SEED)
    assert kills >= 3, "the study ended before the controller was killed 3 times"
    assert_crashes_lost_nothing(rows, since, max_trials=14)


def test_second_controller_is_refused_and_sigterm_stops_cleanly(
    tmp_path: Path, slurm_cluster
) -> None:
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    log_path = tmp_path / "controller.log"
    path = slurm_study_toml(
        tmp_path,
        name="lease",
        partition=slurm_cluster.partition,
        scheduler={"type": "fifo"},
        budget={"max_trials": 4, "max_concurrent": slurm_cluster.gpus},
        resource_max=4,
        env={"TOY_SLEEP": "4"},  # 16 s per trial: still running when the test acts
    )
    first = start_controller(path, db_url, log_path)
    prefix = None
    try:
        rows = watch_study(
            tmp_path / "studies.db",
            "lease",
            lambda rows: len(rows.jobs) == 4 and all(j.state == "running" for j in rows.jobs),
            first,
        )
        assert rows is not None, f"the four jobs never ran:\n{log_path.read_text()}"
        prefix = key_prefix(rows)
        engine = make_engine(db_url)

        second = subprocess.run(
            controller_argv("lease", db_url), capture_output=True, text=True, timeout=60
        )
        assert second.returncode != 0
        # The refusal names the holder: its owner id is host:pid:uuid.
        assert "is driven by" in second.stderr
        assert f":{first.pid}:" in second.stderr

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
        assert "controller stopped; study 'lease' goes on" in log_path.read_text()
        # Clean stop: the jobs still run, the lease is free, the study is not finished.
        assert len(squeue_names(prefix)) == 4
        rows = load_study_rows(engine, "lease")
        assert rows.study.state == "running"
        assert all(job.state == "running" for job in rows.jobs)

        finish("lease", db_url, log_path)  # a restart adopts the jobs and finishes
    finally:
        stop_child(first)
        if prefix is not None:
            cancel_by_name_prefix(prefix)
    rows = load_study_rows(engine, "lease")
    assert rows.study.state == "finished"
    assert len(rows.jobs) == 4  # adopted, not resubmitted
    assert {t.state for t in rows.trials} == {"completed"}
    assert sorted(o.resource for o in rows.observations) == sorted([1, 2, 3, 4] * 4)


SLOW_SBATCH = """#!/bin/bash
# sbatch that returns late: the job is queued, the controller does not know its id yet.
touch "{marks}/sbatch-called"
out=$({real} "$@")
code=$?
sleep 4
echo "$out"
exit $code
"""


def test_kill_after_sbatch_before_the_id_is_stored_adopts_the_job(
    tmp_path: Path, slurm_cluster
) -> None:
    """The narrowest crash window, hit on purpose: sbatch has queued the jobs, but the
    controller dies before it learns (and commits) their ids. The restarted controller must
    find them by their job keys, not submit them again, and not leave them orphaned.

    submitit moves a job's pickle (its task) into place only after sbatch returns, which the
    dead controller never did. The jobs wait for it, and the controller that re-adopts them
    writes it from the task in the key marker: they run as if nothing had happened, with no
    retry spent.
    """
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    log_path = tmp_path / "controller.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "sbatch"
    wrapper.write_text(SLOW_SBATCH.format(marks=tmp_path, real=shutil.which("sbatch")))
    wrapper.chmod(0o755)
    path = slurm_study_toml(
        tmp_path,
        name="adopt",
        partition=slurm_cluster.partition,
        scheduler={"type": "fifo"},
        budget={"max_trials": 4, "max_concurrent": 2},  # first submission: an array of 2
        resource_max=3,
        env={"TOY_SLEEP": "0.3"},
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    controller = start_controller(path, db_url, log_path, poll_interval=0.5, env=env)
    prefix = None
    try:
        # Kill once sbatch was called and Slurm lists the jobs (the wrapper still sleeps).
        queued: list[str] = []

        def submitted(rows: StudyRows) -> bool:
            if rows.jobs and (tmp_path / "sbatch-called").exists():
                queued[:] = squeue_names(key_prefix(rows), all_states=True)
            return bool(queued)

        rows = watch_study(tmp_path / "studies.db", "adopt", submitted, controller)
        assert rows is not None, f"sbatch never queued a job:\n{log_path.read_text()}"
        prefix = key_prefix(rows)
        engine = make_engine(db_url)
        controller.send_signal(signal.SIGKILL)  # the wrapper still sleeps: ids not returned
        controller.wait(timeout=30)
        unknown = [job for job in load_study_rows(engine, "adopt").jobs if not job.external_id]
        assert len(unknown) == 2, "the kill missed the window (ids already stored)"

        finish("adopt", db_url, log_path)  # normal PATH from now on
    finally:
        stop_child(controller)
        if prefix is not None:
            cancel_by_name_prefix(prefix)
    rows = load_study_rows(engine, "adopt")
    assert rows.study.state == "finished"
    log = log_path.read_text()
    assert "re-adopted 2 job(s)" in log
    adopted = [job for job in rows.jobs if job.id in {j.id for j in unknown}]
    assert {job.external_id for job in adopted} == {line.split("|", 1)[0] for line in queued}
    assert {job.state for job in adopted} == {"completed"}
    assert {t.state for t in rows.trials} == {"completed"}
    assert [(j.attempt, j.state) for j in rows.jobs] == [(0, "completed")] * 4  # no retry
    for job in rows.jobs:  # each job ran its whole segment
        epochs = [line["epoch"] for line in metric_lines(Path(job.metric_path))]
        assert epochs == list(range(job.start_resource + 1, job.target_resource + 1))
    accounted = wait_for_sacct_ended([job.external_id for job in rows.jobs])
    assert {row["State"] for row in accounted.values()} == {"COMPLETED"}
    assert_no_orphan(rows, since)
    assert log.count("wrote the task its submitting controller never placed") == 2
