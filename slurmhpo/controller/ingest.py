"""Ingest: new metric lines of the active jobs become observations and scheduler decisions.

The files are read by :func:`slurmhpo.ingest.read_new_records` from the byte offset stored with
each job, so work grows with new data, not with history. Every record the scheduler sees is
answered at once (continue, pause, stop, complete); the observation, the decision and the new
offset go into the cycle's one write, so after a crash the same lines are read again from the
stored offset and yield the same decisions, stored once.
"""

from __future__ import annotations

import logging
import math
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from slurmhpo.constraints import feasible, missing_metrics
from slurmhpo.ingest import Problem, problem_key, read_new_records
from slurmhpo.scheduling.base import Scheduler, TrialStatus
from slurmhpo.scheduling.history import Result
from slurmhpo.scheduling.types import Action
from slurmhpo.states import TrialState
from slurmhpo.store.cycle import ActiveJob, CycleWrite, NewDecision, NewObservation
from slurmhpo.store.queries import Report
from slurmhpo.study import StudySpec

log = logging.getLogger("slurmhpo.controller")

MAX_BYTES_PER_READ = 8 * 1024 * 1024  # one noisy job must not stall a cycle; the rest waits
TRIAL_STATE_OF_ACTION = {
    Action.PAUSE: TrialState.PAUSED,
    Action.STOP: TrialState.STOPPED,
    Action.COMPLETE: TrialState.COMPLETED,
}


@dataclass(frozen=True)
class Ingested:
    """What ingest changed that later parts of the cycle must know."""

    reached: dict[int, int]  # trial number -> highest resource now observed
    paused: frozenset[int]  # trial numbers the scheduler paused in this cycle
    unread: frozenset[int]  # ids of jobs whose file holds more than one read took
    offsets: dict[int, int]  # job id -> byte offset after this cycle's read (read jobs only)


def ingest(
    jobs: Sequence[ActiveJob],
    reached: dict[int, int | None],
    scheduler: Scheduler,
    spec: StudySpec,
    write: CycleWrite,
    logged_problems: set[tuple[str, int, str]],
) -> Ingested:
    """Read every job's new records, let the scheduler decide on each, add all to ``write``.

    ``reached`` is each trial's highest stored resource; ``logged_problems`` remembers which
    damaged spans were already logged (a warning once per span, not once per cycle).
    """
    now_reached: dict[int, int] = {}
    paused: set[int] = set()
    unread: set[int] = set()
    offsets: dict[int, int] = {}
    for job in jobs:
        if not (job.external_id and job.metric_path and may_have_news(job)):
            continue
        result = read_new_records(
            Path(job.metric_path),
            job.metric_offset,
            resource_name=spec.resource.name,
            metric=spec.objective.metric,
            max_bytes=MAX_BYTES_PER_READ,
        )
        _log_problems(job, result.problems, logged_problems)
        offsets[job.id] = result.new_offset
        if result.more:
            unread.add(job.id)  # its end, if it ended, is judged once everything is read
        if result.new_offset != job.metric_offset:
            write.update_job(job.id, metric_offset=result.new_offset)
        number = job.trial_number
        level = now_reached.get(number, reached.get(number) or 0)
        for record in result.records:
            if record.resource <= level or record.resource > job.target_resource:
                continue  # a re-report after a resume, or beyond what this segment was for
            if scheduler.trial_status(number) is not TrialStatus.RUNNING:
                break  # the trial was paused or stopped: later lines are not observations
            ok = _feasible(spec, number, record.metrics, logged_problems)
            values = objective_values(spec, record.metrics)
            action = scheduler.on_result(
                number, record.resource, record.value, feasible=ok, values=values
            )
            event = Result(number, record.resource, record.value, action, ok, values)
            reason = scheduler.decision_reason(number)
            write.decisions.append(NewDecision(action.value, event.to_dict(), number, reason))
            value = math.nan if record.value is None else record.value
            report = Report(record.resource, value, record.metrics, record.reported_at)
            write.observations.append(NewObservation(number, job.id, report))
            level = record.resource
            now_reached[number] = level
            write.reached[number] = level
            if action is not Action.CONTINUE:
                write.trial_states[number] = (TRIAL_STATE_OF_ACTION[action], None)
                if action is Action.PAUSE:
                    paused.add(number)
    return Ingested(now_reached, frozenset(paused), frozenset(unread), offsets)


def objective_values(spec: StudySpec, metrics: dict[str, float]) -> tuple[float | None, ...] | None:
    """Every objective of one metric line when the study has several (a missing one is
    None, ranked worst, as a missing single objective is); None for one objective."""
    if not spec.more_objectives:
        return None
    return tuple(metrics.get(o.metric) for o in spec.objectives)


def _feasible(
    spec: StudySpec, number: int, metrics: dict[str, float], logged: set[tuple[str, int, str]]
) -> bool:
    """Whether one metric line meets the study's outcome constraints; a constrained metric
    missing from it makes it infeasible (see :mod:`slurmhpo.constraints`), said once per
    trial and metric so that a misspelt name in the study file shows at once."""
    if not spec.constraints:
        return True
    for name in missing_metrics(spec.constraints, metrics):
        if ("constraint", number, name) not in logged:
            logged.add(("constraint", number, name))
            log.warning(
                "trial %d reported no usable %r, which a constraint needs: its results "
                "without it count as infeasible",
                number,
                name,
            )
    return feasible(spec.constraints, metrics)


def _log_problems(
    job: ActiveJob, problems: Sequence[Problem], logged: set[tuple[str, int, str]]
) -> None:
    for problem in problems:
        key = problem_key(job.metric_path or "", problem)
        if problem.kind != "missing" and key not in logged:  # gone for good: see ``tail``
            logged.add(key)
            log.warning(
                "trial %d, job %s: skipped metric data at byte %d of %s (%s: %s)",
                job.trial_number,
                job.external_id,
                problem.offset,
                job.metric_path,
                problem.kind,
                problem.detail,
            )


def end_of_file_problem(metric_path: str | None, offset: int) -> str | None:
    """What is wrong with an ended job's metric file, read up to ``offset``: a last line its
    writer never finished (killed mid-write), or a file deleted after data was read from it
    (a deletion followed by new reports is a ``truncated`` file instead). None when fine."""
    try:
        size = os.stat(metric_path or "").st_size
    except FileNotFoundError:
        if offset > 0:
            return f"its metric file {metric_path} is gone (deleted after {offset} bytes read)"
        return None
    except OSError:
        return None  # unreadable: read_new_records reports it
    if size > offset:
        return (
            f"ended with an unfinished last line ({size - offset} bytes at the end of "
            f"{metric_path}): not an observation"
        )
    return None


def may_have_news(job: ActiveJob) -> bool:
    """False only when ``job``'s metric file surely holds nothing to read: it does not exist
    yet, or it is a regular file exactly ``metric_offset`` bytes long. Reading such a file
    yields no record, no logged problem and the same offset, so skipping it changes nothing
    but the cost of a cycle. Opened, not just stat'ed, for NFS close-to-open consistency, as
    :func:`read_new_records` does.
    """
    try:
        fd = os.open(job.metric_path or "", os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return False  # not created yet, or deleted and maybe written anew: said at the end
    except OSError:
        return True  # let read_new_records report it
    try:
        info = os.fstat(fd)
    except OSError:
        return True
    finally:
        os.close(fd)
    return not stat.S_ISREG(info.st_mode) or info.st_size != job.metric_offset
