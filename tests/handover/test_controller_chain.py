"""A study longer than one controller job, driven by `slurmhpo submit-controller` on real Slurm.

Controller jobs get a 1-minute limit and hand over 0.75 min before it (so each drives for
about 15 s), and the second job of the chain is killed with SIGKILL (no hand-over, lease not
released): the chain must still drive the study to its end. At the end: the study finished;
at least three controller jobs ran (two hand-overs), one at a time; every metric line of
every trial job is exactly one observation with the same value; no decision was repeated;
every trial job Slurm ran is a job row of the study; nothing of the study is left in squeue.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from handover_helpers import cancel_prefix, cli, sacct_by_prefix, slurm, slurm_toy_study, squeue_ids
from sqlalchemy import select

from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.models import Decision, Job, Lease, Observation, Study, Trial

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

FINISH_GIVE_UP_S = 330.0  # hang guard: the study takes about two minutes
NOT_STARTED = {"", "None", "Unknown"}


def _lease_owner(db_url: str, name: str) -> str | None:
    """The study's lease owner, if any (``slurm:<job id>@host:pid:uuid`` for a chain job)."""
    engine = make_engine(db_url)
    try:
        with read_session(engine) as session:
            query = select(Lease.owner).join(Study, Study.id == Lease.study_id)
            return session.scalar(query.where(Study.name == name))
    finally:
        engine.dispose()


def _study_state(db_url: str, name: str) -> str:
    engine = make_engine(db_url)
    try:
        with read_session(engine) as session:
            return str(session.scalar(select(Study.state).where(Study.name == name)))
    finally:
        engine.dispose()


def _drive_with_a_crash(db_url: str, name: str, first: str) -> tuple[set[str], str]:
    """Watch the lease until the study ends; kill -9 the chain's second job while it drives.

    The controller process is killed, not the job cancelled (scancel sends SIGTERM first,
    which hands over cleanly): its lease stays behind, as after a crash. The cluster is this
    one machine, so the pid in the lease owner is a local process. Returns the job ids seen
    holding the lease and the id of the killed job.
    """
    holders: Counter[str] = Counter()  # job id -> how many samples saw it hold the lease
    victim = ""
    deadline = time.monotonic() + FINISH_GIVE_UP_S
    while _study_state(db_url, name) != "finished":
        assert time.monotonic() < deadline, f"study not finished after {FINISH_GIVE_UP_S} s"
        owner = _lease_owner(db_url, name) or ""
        assert not owner or owner.startswith("slurm:"), owner
        holder, _, process = owner.removeprefix("slurm:").partition("@")
        if holder:
            holders[holder] += 1
            # kill it once it has driven a few cycles and its successor is queued
            ready = holders[holder] >= 4 and _has_successor(name, holder)
            if not victim and holder != first and ready:
                status = json.loads(cli("status", name, "--json", "--db", db_url).stdout)
                assert status["study"]["controller"]["owner"].startswith(f"slurm:{holder}@")
                victim = holder
                os.kill(int(process.split(":")[1]), signal.SIGKILL)
        time.sleep(0.5)
    return set(holders), victim


def _has_successor(name: str, job_id: str) -> bool:
    """Whether a controller job of the study waits for job ``job_id`` (afterany)."""
    out = slurm("squeue", "-h", "-n", f"shpo-ctl-{name}", "-o", "%i|%E")
    return any(f"afterany:{job_id}(" in line for line in out.splitlines())


def _metric_lines(path: str | None) -> list[dict[str, float]]:
    if not path or not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def test_controller_chain_hands_over_and_survives_a_killed_job(tmp_path, slurm_cluster):
    name = f"ho{uuid.uuid4().hex[:6]}"
    ctl, trial_prefix = f"shpo-ctl-{name}", f"shpo-{name}-"
    study_file = slurm_toy_study(
        tmp_path,
        name=name,
        partition=slurm_cluster.partition,
        toy_sleep=5.0,
        budget={"max_trials": 9, "max_concurrent": 3},
    )
    db_url = f"sqlite:///{tmp_path / 'chain.db'}"
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 5))
    try:
        options = ["--time-min", "1", "--handover-min", "0.75", "--poll-interval", "1"]
        done = cli("submit-controller", str(study_file), "--db", db_url, *options)
        assert done.returncode == 0, done.stderr
        first = done.stdout.strip()
        assert first.isdigit(), done.stdout
        again = cli("submit-controller", name, "--db", db_url)
        assert again.returncode == 0, again.stderr
        assert "already has controller job" in again.stderr
        holders, victim = _drive_with_a_crash(db_url, name, first)
        deadline = time.monotonic() + 90
        while (left := squeue_ids(ctl) + squeue_ids(trial_prefix)) and time.monotonic() < deadline:
            time.sleep(1.0)
        assert left == [], f"left in squeue: {left}"
    finally:
        cancel_prefix(ctl)
        cancel_prefix(trial_prefix)

    # the chain: >= 3 controller jobs ran (2+ hand-overs), one at a time, one was killed
    deadline = time.monotonic() + 120
    while True:  # sacct lags squeue: wait until every controller job shows its end
        controllers = [row for row in sacct_by_prefix(ctl, since) if row["JobName"] == ctl]
        if all(row["End"] not in NOT_STARTED for row in controllers):
            break
        assert time.monotonic() < deadline, f"sacct never showed the ends: {controllers}"
        time.sleep(1.0)
    ran = sorted(
        (row for row in controllers if row["Start"] not in NOT_STARTED),
        key=lambda row: row["Start"],
    )
    assert len(ran) >= 3, ran
    assert ran[0]["JobID"] == first
    for before, after in itertools.pairwise(ran):
        assert before["End"] <= after["Start"], f"two controller jobs overlapped: {ran}"
    assert victim in {row["JobID"] for row in ran}
    assert next(r["State"] for r in ran if r["JobID"] == victim) != "COMPLETED"
    logs = "".join(p.read_text() for p in (tmp_path / "runs").rglob("*_log.err"))
    assert f"took over the lease of slurm:{victim}@" in logs  # not released: taken at once
    assert {first, victim} <= holders and len(holders) >= 3, holders
    never_ran = [row for row in controllers if row["Start"] in NOT_STARTED]
    assert all(row["State"].startswith("CANCELLED") for row in never_ran), never_ran

    engine = make_engine(db_url)
    try:
        with read_session(engine) as session:
            study = session.scalar(select(Study).where(Study.name == name))
            assert study is not None and study.state == "finished"
            trials = list(session.scalars(select(Trial).where(Trial.study_id == study.id)))
            jobs = list(session.scalars(select(Job).where(Job.study_id == study.id)))
            observations = list(
                session.scalars(select(Observation).where(Observation.study_id == study.id))
            )
            decisions = list(
                session.scalars(
                    select(Decision).where(Decision.study_id == study.id).order_by(Decision.seq)
                )
            )
    finally:
        engine.dispose()

    assert len(trials) == 9
    # no observation lost or duplicated: each job's own metric lines, exactly, once each
    assert max(Counter((o.trial_id, o.resource) for o in observations).values()) == 1
    for job in jobs:
        assert job.external_id and job.state == "completed", (job.external_id, job.state)
        written = {
            (line["epoch"], line["loss"])
            for line in _metric_lines(job.metric_path)
            if job.start_resource < line["epoch"] <= job.target_resource
        }
        stored = {(o.resource, o.objective) for o in observations if o.job_id == job.id}
        assert written and stored == written, (job.external_id, written, stored)
    # no decision repeated
    assert [d.seq for d in decisions] == list(range(1, len(decisions) + 1))
    starts = Counter(d.trial_id for d in decisions if d.kind == "start")
    assert sorted(starts.values()) == [1] * len(trials)
    results = Counter(
        (d.payload["trial_id"], d.payload["resource"])
        for d in decisions
        if d.payload.get("event") == "result"
    )
    assert max(results.values()) == 1 and sum(results.values()) == len(observations)
    resumes = Counter(
        (d.trial_id, json.dumps(d.payload, sort_keys=True)) for d in decisions if d.kind == "resume"
    )
    assert all(n == 1 for n in resumes.values())
    # no orphan: every trial job Slurm ran is a job row of the study, and vice versa
    in_db = {job.external_id for job in jobs}
    in_slurm = {row["JobID"] for row in sacct_by_prefix(trial_prefix, since)}
    assert in_slurm == in_db
