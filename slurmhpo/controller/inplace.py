"""Continuing in place: hand the next segments to jobs that wait at their rung, not the queue.

With ``[trial] continue_in_place``, a job whose segment reached its target waits there for an
answer (the file protocol is :mod:`slurmhpo.control`). The scheduler is not told: a waiting
job is simply a free worker, exactly as if it had ended, so :func:`fill` asks for work as
usual and the decisions (a pause, then a resume) are the ones the history replays. Only the
act differs: each new segment is *claimed* by a waiting job (first choice: the job of its own
trial, which then goes on from its checkpoint; else any waiting job) instead of being
submitted, and the segment's job row takes over the job's external id. A waiting job nobody
claims is *released* and ends as it would have, unless nothing was suggested while other jobs
still run (a synchronous rung waiting for stragglers): then it may wait on, up to its hold.

A claim names the row's job key, so a controller restarted between the claim and the write
that records it finds the claim in the job's answer and takes over again instead of
submitting the segment twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from slurmhpo.backends.base import SegmentRequest
from slurmhpo.backends.slurm_task import SegmentTask
from slurmhpo.control import ENDED_BY_CONTROLLER, answer_file, claim, hold_marker, read_answer
from slurmhpo.store.cycle import ActiveJob, PendingSegment

TIME_MARGIN = 1.25  # the next segment may be slower than the last: ask for this much more time
TIME_RESERVE_SECONDS = 120.0  # submitit signals a job 90 s before its limit; keep clear of it


@dataclass(frozen=True)
class Continued:
    """A pending row whose segment runs in ``holder``'s job: no submission needed."""

    holder: ActiveJob
    external_id: str


@dataclass(frozen=True)
class Placement:
    continued: dict[int, Continued]  # pending job id -> the waiting job that runs it
    fresh: list[PendingSegment]  # segments to submit as new jobs
    released: int  # waiting jobs told to end


def at_rung(jobs: Sequence[ActiveJob], reached: dict[int, int]) -> list[ActiveJob]:
    """Jobs whose segment reported its target and whose wrapper waits there (its hold marker
    exists). A released job still on its way out stays in the list: its worker was handed
    out when it was released, so it must not count as busy again."""
    return [
        job
        for job in jobs
        if job.external_id
        and job.metric_path
        and reached.get(job.trial_number, 0) >= job.target_resource
        and hold_marker(_folder(job), job.target_resource).exists()
    ]


def place(
    segments: Sequence[PendingSegment],
    waiting: Sequence[ActiveJob],
    *,
    key_of: Callable[[int], str],
    request_of: Callable[[PendingSegment], SegmentRequest],
    fits: Callable[[ActiveJob, PendingSegment], bool],
    may_wait_idle: bool,
) -> Placement:
    """Give each segment a waiting job when one is free and ``fits`` (its time limit leaves
    room); release the free jobs left over (see the module docstring for when they may wait).

    ``waiting`` are the :func:`at_rung` jobs of the cycle, including any that ended in it:
    a job that an earlier controller's claim sent on may have finished that segment already.
    """
    keys = {key_of(segment.id): segment for segment in segments}
    continued: dict[int, Continued] = {}
    free: list[ActiveJob] = []
    for job in waiting:
        answer = read_answer(_answer(job))
        if answer is None:
            free.append(job)
        elif answer.get("job_key") in keys:  # claimed before a restart: it stands
            continued[keys[answer["job_key"]].id] = Continued(job, str(job.external_id))
    fresh: list[PendingSegment] = []
    for segment in segments:
        if segment.id in continued:
            continue
        holder = _choose(segment, free, fits)
        if holder is None:
            fresh.append(segment)
            continue
        try:
            task = handover(request_of(segment))
        except OSError:  # the segment's files cannot be written: the submitter reports it
            fresh.append(segment)
            continue
        free.remove(holder)
        key = key_of(segment.id)
        if claim(_answer(holder), {"job_key": key, "task": task}).get("job_key") == key:
            continued[segment.id] = Continued(holder, str(holder.external_id))
        else:
            fresh.append(segment)  # the job gave up waiting a moment ago
    released = 0
    if fresh or not may_wait_idle:
        for job in free:
            claim(_answer(job), ENDED_BY_CONTROLLER)
            released += 1
    return Placement(continued, fresh, released)


def _choose(
    segment: PendingSegment,
    free: Sequence[ActiveJob],
    fits: Callable[[ActiveJob, PendingSegment], bool],
) -> ActiveJob | None:
    """The job of the segment's own trial waiting where the segment starts (it goes on from
    its checkpoint), else the first free job; only jobs whose time limit leaves room."""
    own = [j for j in free if j.trial_number == segment.trial_number]
    for job in [*own, *(j for j in free if j.trial_number != segment.trial_number)]:
        if fits(job, segment):
            return job
    return None


def handover(request: SegmentRequest) -> dict[str, Any]:
    """A segment as the waiting job's wrapper runs it (absolute paths: the job's working
    directory is not the controller's)."""
    return SegmentTask.from_request(request).to_dict()


def fits_time_limit(
    job: ActiveJob,
    segment: PendingSegment,
    *,
    now: datetime,
    job_started: datetime | None,
    limit_seconds: float | None,
) -> bool:
    """Whether ``job`` can run ``segment`` before its time limit, at the pace (time per unit
    of resource) of its last segment, with :data:`TIME_MARGIN` and
    :data:`TIME_RESERVE_SECONDS`. A job cut by its limit costs the trial a retry; a new job
    costs only a queue wait. Unknown start times or no limit (local and simulated jobs):
    yes."""
    if limit_seconds is None or job.started_at is None or job_started is None:
        return True
    units = max(1, job.target_resource - job.start_resource)
    per_unit = max(0.0, (now - job.started_at).total_seconds()) / units
    needed = per_unit * (segment.target - segment.start) * TIME_MARGIN + TIME_RESERVE_SECONDS
    return (now - job_started).total_seconds() + needed <= limit_seconds


def _folder(job: ActiveJob) -> Path:
    return Path(job.metric_path or "").parent


def _answer(job: ActiveJob) -> Path:
    return answer_file(_folder(job), job.target_resource)
