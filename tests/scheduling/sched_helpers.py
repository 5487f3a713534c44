"""Test doubles and a tiny event-driven cluster for scheduler tests (not a test module).

``FakeSearcher`` follows the searcher protocol and checks the scheduler's side of it (a trial
ends once, only pending trials end). ``run_study`` drives any scheduler with W asynchronous
workers on a synthetic learning curve, checks the contract on every call and records the event
history, so each test can assert on the outcome.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slurmhpo.scheduling.base import Scheduler, TrialStatus
from slurmhpo.scheduling.history import Event, Failed, Result, Suggested
from slurmhpo.scheduling.types import Action, ExploitTrial, ResumeTrial, StartTrial


class ContractViolation(AssertionError):
    """The scheduler broke an invariant of the contract."""


class FakeSearcher:
    """Uniform x in [0, 1) from its own rng; ``limit`` configs, then None (like a grid)."""

    def __init__(self, rng: np.random.Generator, limit: int | None = None) -> None:
        self.rng = rng
        self.limit = limit
        self.pending: set[int] = set()
        self.ended: set[int] = set()
        self.observed: list[tuple[int, int, float | None]] = []
        self.infeasible: list[tuple[int, int]] = []
        self.observed_values: list[tuple[int, int, tuple[float | None, ...]]] = []
        self.count = 0

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self.limit is not None and self.count >= self.limit:
            return None
        self.count += 1
        self.pending.add(trial_id)
        return {"x": float(self.rng.random())}

    def observe(
        self,
        trial_id: int,
        config: dict,
        resource: int,
        value: float | None,
        *,
        feasible: bool = True,
        values: tuple[float | None, ...] | None = None,
    ) -> None:
        self.observed.append((trial_id, resource, value))
        if values is not None:
            self.observed_values.append((trial_id, resource, values))
        if not feasible:
            self.infeasible.append((trial_id, resource))

    def on_trial_end(self, trial_id: int) -> None:
        self.pending.discard(trial_id)
        self.ended.add(trial_id)


def curve(config: dict[str, Any], resource: int) -> float:
    """A loss that falls with the resource; better x stays better (mode "min")."""
    return config["x"] + 1.0 / (resource + 1.0)


def second_curve(config: dict[str, Any], resource: int) -> float:
    """A second objective (mode "min") in conflict with :func:`curve`: every x is on the
    Pareto front of the two at each resource."""
    return (1.0 - config["x"]) ** 2 + 0.5 / (resource + 1.0)


def objective_count(sched: Scheduler) -> int:
    """How many objectives ``sched`` ranks by (1 for a single-objective scheduler)."""
    return len(getattr(sched, "modes", ("min",)))


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    status: dict[int, str] = field(default_factory=dict)  # trial -> last action/state
    reached: dict[int, int] = field(default_factory=dict)
    starts: int = 0
    resumes: int = 0
    end_time: float = 0.0  # simulated time when the last job ended


@dataclass
class _Job:
    trial_id: int
    config: dict[str, Any]
    resource: int
    target: int


def _check_suggestion(sched: Scheduler, s, new_id: int, out: Outcome, levels: list[int]) -> None:
    if isinstance(s, (StartTrial, ExploitTrial)):
        if s.trial_id != new_id:
            raise ContractViolation(f"started id {s.trial_id}, expected the new id {new_id}")
        if s.trial_id in out.status:
            raise ContractViolation(f"trial {s.trial_id} started twice")
        start = s.start if isinstance(s, ExploitTrial) else 0
        if isinstance(s, ExploitTrial) and out.reached.get(s.donor, 0) < start:
            raise ContractViolation(f"exploit from {s.donor}, which never reached {start}")
    elif isinstance(s, ResumeTrial):
        if out.status.get(s.trial_id) != "pause":
            raise ContractViolation(f"resumed {s.trial_id} in state {out.status.get(s.trial_id)}")
        if s.start != out.reached[s.trial_id]:
            raise ContractViolation(f"resume start {s.start} != last rung {out.reached}")
        start = s.start
    else:
        raise ContractViolation(f"not a suggestion: {s!r}")
    if s.target not in levels or not start < s.target:
        raise ContractViolation(f"target {s.target} not a rung level above {start}: {levels}")


def run_study(
    sched: Scheduler,
    levels: list[int],
    *,
    workers: int = 4,
    max_starts: int = 60,
    fail_rate: float = 0.0,
    seed: int = 0,
    duration: Callable[[dict], float] = lambda c: 1.0 + c["x"],
    infeasible: Callable[[dict], bool] = lambda c: False,
    as_none: bool = False,
) -> Outcome:
    """Run until no worker has work; every call is checked against the contract.

    Results of configs ``infeasible`` says yes to are reported with ``feasible=False``, or,
    with ``as_none``, as the value None (feasible): the reference an infeasible result must
    be decided like.
    """
    env = np.random.default_rng(seed)  # the cluster's randomness (failures), not the method's
    out = Outcome()
    heap: list[tuple[float, int, int]] = []  # (time, seq, worker)
    jobs: dict[int, _Job] = {}
    jobs_config: dict[int, dict[str, Any]] = {}
    seq = 0
    now = 0.0
    next_id = 0
    idle = list(range(workers))
    while True:
        while idle:
            allow_new = out.starts < max_starts  # like a study's max_trials: resumes only
            paused = {t for t, st in out.status.items() if st == "pause"}
            resumable = {t for t in paused if sched.trial_status(t) is TrialStatus.PAUSED}
            s = sched.suggest(next_id, allow_new=allow_new)
            if s is None:
                break
            if isinstance(s, ResumeTrial) and s.trial_id not in resumable:
                raise ContractViolation(f"resumed {s.trial_id}, which had ended for good")
            if not allow_new and not isinstance(s, ResumeTrial):
                raise ContractViolation(f"started a trial with allow_new=False: {s!r}")
            _check_suggestion(sched, s, next_id, out, levels)
            out.events.append(Suggested(s))
            worker = idle.pop(0)
            if isinstance(s, (StartTrial, ExploitTrial)):
                next_id += 1
                out.starts += 1
                start = s.start if isinstance(s, ExploitTrial) else 0
                jobs[worker] = _Job(s.trial_id, s.config, start, s.target)
            else:
                out.resumes += 1
                jobs[worker] = _Job(s.trial_id, jobs_config[s.trial_id], s.start, s.target)
            jobs_config[s.trial_id] = jobs[worker].config
            out.status[s.trial_id] = "running"
            seq += 1
            heapq.heappush(heap, (now + duration(jobs[worker].config), seq, worker))
        if not heap:
            out.end_time = now
            break
        now, _, worker = heapq.heappop(heap)
        job = jobs[worker]
        if env.random() < fail_rate:
            sched.on_error(job.trial_id)
            out.events.append(Failed(job.trial_id))
            out.status[job.trial_id] = "failed"
            idle.append(worker)
            continue
        job.resource += 1
        value: float | None = curve(job.config, job.resource)
        values: tuple[float | None, ...] | None = None
        if objective_count(sched) > 1:  # a multi-objective scheduler gets both
            values = (value, second_curve(job.config, job.resource))
        ok = not infeasible(job.config)
        if as_none and not ok:
            value, ok = None, True
            values = None if values is None else (None, None)
        action = sched.on_result(job.trial_id, job.resource, value, feasible=ok, values=values)
        out.events.append(Result(job.trial_id, job.resource, value, action, ok, values))
        _check_action(job, action, levels)
        if action is Action.CONTINUE:
            seq += 1
            heapq.heappush(heap, (now + duration(job.config), seq, worker))
            continue
        out.status[job.trial_id] = action.value
        out.reached[job.trial_id] = job.resource
        idle.append(worker)
    return out


def _check_action(job: _Job, action: Action, levels: list[int]) -> None:
    if job.resource == job.target and action is Action.CONTINUE:
        raise ContractViolation(f"trial {job.trial_id} told to continue past its target")
    if action is Action.PAUSE and job.resource not in levels[:-1]:
        raise ContractViolation(f"paused at {job.resource}, not a rung below r_max")
    if action is Action.COMPLETE and job.resource != levels[-1]:
        raise ContractViolation(f"complete at {job.resource}, not r_max")


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
