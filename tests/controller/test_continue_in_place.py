"""Continuing in place on the simulated backend: segments handed to jobs that wait at their
rung, with queue waits; nothing lost or repeated, across a restart too (seconds, no Slurm)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from slurmhpo.control import ENDED_BY_JOB, answer_file, claim
from slurmhpo.controller.inplace import fits_time_limit
from slurmhpo.store import leases
from slurmhpo.store.cycle import ActiveJob, PendingSegment
from slurmhpo.store.db import write_session
from tests.chaos.invariants import check_invariants
from tests.controller.controller_helpers import load_rows
from tests.controller.sim_faults import sim_study


def _handed_over(rows: dict) -> list[tuple[int, int]]:
    """(earlier job id, later job id) pairs that ran in one backend job."""
    by_external: dict[str, list] = {}
    for job in rows["jobs"]:
        by_external.setdefault(job.external_id, []).append(job)
    return [(a.id, b.id) for jobs in by_external.values() for a, b in pairwise(jobs)]


def test_promoted_trials_go_on_in_their_jobs_without_new_queue_waits(tmp_path: Path) -> None:
    study = sim_study(
        tmp_path,
        method="asha-promotion",
        workers=3,
        max_trials=12,
        continue_in_place=True,
        queue_wait="300",
    )
    controller = study.controller()
    controller.open()
    study.run_to_end(controller)
    controller.close()
    rows = load_rows(study.engine, study.spec.name)
    counts = check_invariants(study.engine, study.spec.name)
    assert counts  # the invariants ran over a study that did something
    pairs = _handed_over(rows)
    assert pairs, "no segment was handed to a waiting job"
    jobs = {job.id: job for job in rows["jobs"]}
    trial_of = {t.id: t.number for t in rows["trials"]}
    own = [(a, b) for a, b in pairs if jobs[a].trial_id == jobs[b].trial_id]
    assert own, "no promoted trial went on in its own job"
    for a, b in own:  # the resume starts where the waiting segment ended
        assert jobs[b].start_resource == jobs[a].target_resource
    backend_jobs = len({job.external_id for job in rows["jobs"]})
    assert study.backend.inner.stats.jobs == backend_jobs < len(rows["jobs"])
    assert all(t.state != "failed" for t in rows["trials"]), [
        trial_of[t.id] for t in rows["trials"]
    ]


def test_without_the_option_every_segment_is_a_new_job(tmp_path: Path) -> None:
    study = sim_study(tmp_path, method="asha-promotion", workers=3, max_trials=12, queue_wait="300")
    controller = study.controller()
    controller.open()
    study.run_to_end(controller)
    controller.close()
    rows = load_rows(study.engine, study.spec.name)
    check_invariants(study.engine, study.spec.name)
    assert _handed_over(rows) == []
    assert study.backend.inner.stats.jobs == len(rows["jobs"])


def test_a_claim_made_before_a_crash_is_taken_over_not_submitted_again(tmp_path: Path) -> None:
    study = sim_study(
        tmp_path, method="asha-promotion", workers=2, max_trials=6, continue_in_place=True
    )
    first = study.controller()
    first.open()
    for _ in range(500):  # until a cycle hands a segment to a waiting job
        first.cycle()
        if any(s.continues for s in first._unrecorded.values()):
            break
        study.advance()
    else:
        raise AssertionError("no hand-over happened")
    submitted = study.backend.inner.stats.jobs
    # kill -9 here: the hand-over is in the job's answer file but not in the database
    study_id = load_rows(study.engine, study.spec.name)["study"].id
    with write_session(study.engine) as session:
        leases.release_lease(session, study_id, first.owner)
    second = study.controller()
    second.open()
    second.cycle()
    assert study.backend.inner.stats.jobs == submitted  # taken over, nothing new submitted
    study.run_to_end(second)
    second.close()
    check_invariants(study.engine, study.spec.name)
    rows = load_rows(study.engine, study.spec.name)
    assert _handed_over(rows)
    assert Counter(job.state for job in rows["jobs"]) == Counter({"completed": len(rows["jobs"])})


def test_a_job_that_gave_up_waiting_gets_no_segment(tmp_path: Path) -> None:
    """Its answer is "ended by the job": the controller's claim loses and the segment is
    submitted as a new job instead."""
    study = sim_study(
        tmp_path, method="asha-promotion", workers=1, max_trials=3, continue_in_place=True
    )
    controller = study.controller()
    controller.open()
    controller.cycle()  # submits the first trial's first segment
    study.advance()  # it reports rung 1 and waits there
    job = load_rows(study.engine, study.spec.name)["jobs"][0]
    folder = Path(job.metric_path).parent
    claim(answer_file(folder, job.target_resource), ENDED_BY_JOB)  # it gives up first
    controller.cycle()
    assert study.backend.inner.stats.jobs == 2  # the next segment went to a new job
    study.run_to_end(controller)
    controller.close()
    check_invariants(study.engine, study.spec.name)


def _job(started: datetime, start: int = 0, target: int = 3) -> ActiveJob:
    return ActiveJob(1, 1, 0, "42", "running", start, target, 0, "/m", 0, started, started)


def test_a_job_near_its_time_limit_is_not_handed_a_segment() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    job = _job(now - timedelta(minutes=10))  # 3 units in 10 min
    short = PendingSegment(2, 0, {}, 3, 6, 1)  # 3 more units: about 12.5 min with the margin
    long = PendingSegment(3, 0, {}, 3, 27, 1)  # 24 more: far beyond an hour
    started = now - timedelta(minutes=10)
    assert fits_time_limit(job, short, now=now, job_started=started, limit_seconds=3600)
    assert not fits_time_limit(job, long, now=now, job_started=started, limit_seconds=3600)
    assert fits_time_limit(job, long, now=now, job_started=started, limit_seconds=None)
