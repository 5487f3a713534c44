"""One simulated study: the real controller, store and scheduler on a simulated backend.

:func:`simulate` registers a study in a throw-away SQLite database, drives it with
:class:`~slurmhpo.controller.loop.Controller` on a :class:`~slurmhpo.backends.simulated.SimClock`
until the budget B (the study's ``max_wall_hours``, measured on the simulated clock) is spent,
and reads back what the controller stored. Nothing of the run survives it but the returned
:class:`RunResult`: the database and the runs folder live in a temporary directory.

Where results come from: the incumbent trace is built from the observations the controller
stored (their ``reported_at`` is the simulated instant the epoch ended), so it shows what the
method actually saw; work counts and utilisation come from the simulated workers.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slurmhpo.backends.queue_wait import parse_queue_wait
from slurmhpo.backends.simulated import FULL_SECONDS, SimClock, SimulatedBackend
from slurmhpo.bench.base import CurveTask
from slurmhpo.constraints import feasible, parse_constraints
from slurmhpo.controller.build import build_controller
from slurmhpo.controller.studies import register_study
from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.factory import scheduler_rung_levels
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.models import Base
from slurmhpo.store.queries import get_study, study_observations
from slurmhpo.study import StudySpec

STUDY_NAME = "bench"
WARM_SOURCE_NAME = "bench-source"
WARM_SOURCE_SEED = 1000  # the source study of seed s runs with seed s + this


@dataclass(frozen=True)
class Method:
    """A named scheduler + searcher configuration, exactly as a study file would hold it.

    ``final_only``: the incumbent counts only reports at ``r_max`` (PROTOCOL's random_full
    baseline reports once, at r_max). ``asynchronous`` methods are expected to keep every
    worker busy. ``min_resource``: the study's ``resource.min`` instead of the task's r_min
    (a larger grace period: ASHA's first rung, the median rule's default ``grace``); trials
    still report every epoch from 1.
    """

    name: str
    scheduler: Mapping[str, Any]
    searcher: Mapping[str, Any] = field(default_factory=lambda: {"type": "random"})
    asynchronous: bool = True
    final_only: bool = False
    note: str = ""
    wake: str = "every"  # "rungs" | "targets" | "every": where the scheduler may act
    min_resource: int | None = None  # None: the task's r_min
    # Warm start: first run this method without it (seed + WARM_SOURCE_SEED, the same budget)
    # in the same database, then the measured study with searcher.warm_start naming it.
    warm_start: bool = False
    # An outcome constraint full_seconds <= time_cap x the task's median time(x, r_max) over
    # the budget's reference configurations (:meth:`cap_constraints`). ``enforce_cap`` False:
    # the study does not carry it, but its results are judged by it afterwards.
    time_cap: float | None = None
    enforce_cap: bool = True
    # The study's objectives as (metric, mode) pairs; None: the task's metric and mode.
    objectives: tuple[tuple[str, str], ...] | None = None

    def resource_min(self, task_r_min: int) -> int:
        """The ``resource.min`` of the study this method runs on a task with ``task_r_min``."""
        return task_r_min if self.min_resource is None else self.min_resource

    def cap_constraints(self, median_full_time: float | None) -> tuple[str, ...]:
        """The constraint results are judged by (empty: none), in study-file form."""
        if self.time_cap is None:
            return ()
        if median_full_time is None or not median_full_time > 0:
            raise ConfigError(
                "median_full_time",
                f"method {self.name} needs the task's median full training time, got "
                f"{median_full_time!r}",
            )
        return (f"{FULL_SECONDS} <= {self.time_cap * median_full_time!r}",)

    def wake_resources(self, r_min: int, r_max: int) -> frozenset[int] | None:
        """The epochs the simulated clock must stop at (see SimulatedBackend); None: all.

        ``r_min`` is the task's; the method's ``min_resource``, if set, replaces it, as in
        the study it runs (:func:`study_spec`).

        Rung schedulers act only at their rung levels (all Hyperband brackets use levels of
        one ladder, see ``scheduler.rung_levels``), FIFO only at a job's target; a scheduler
        that may act at any epoch (median stopping) needs every epoch.
        """
        if self.wake == "rungs":
            levels = scheduler_rung_levels(self.scheduler, self.resource_min(r_min), r_max)
            return frozenset(levels)
        if self.wake == "targets":
            return frozenset()
        return None


@dataclass(frozen=True)
class Report:
    """One stored observation: simulated time it became visible, trial, epoch, value; for
    a task with several objectives also every metric of the line (``metrics``)."""

    time: float
    trial: int
    resource: int
    value: float
    feasible: bool = True  # by the method's cap_constraints (enforced or only judged)
    metrics: Mapping[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RunResult:
    """Everything one (task, method, seed) run produced; times are simulated seconds."""

    task: str
    method: str
    seed: int
    mode: str
    r_max: int
    budget: float
    workers: int
    reports: tuple[Report, ...]  # sorted by time
    trials: int
    epochs: int
    busy_seconds: float
    slots_used: int
    peak_running: int
    runtime_s: float  # real seconds the simulation took (method compute + surrogate + store)
    queue_wait: str = "0"  # the queue-wait model (slurmhpo.backends.queue_wait)
    queued_seconds: float = 0.0  # job-seconds spent queued, up to B
    continue_in_place: bool = False  # the study's [trial] continue_in_place
    constraints: tuple[str, ...] = ()  # what ``feasible`` was judged by
    infeasible_trials: int = 0  # trials with at least one infeasible report

    @property
    def queued_share(self) -> float:
        """Queued job-seconds / (W x B): the share of the workers' budget spent waiting."""
        return self.queued_seconds / (self.workers * self.budget) if self.budget > 0 else 0.0

    @property
    def utilisation(self) -> float:
        """Busy worker-seconds / (W x B)."""
        return self.busy_seconds / (self.workers * self.budget) if self.budget > 0 else 0.0


def scratch_dir() -> str | None:
    """A RAM-backed folder for the throw-away database and metric files, if there is one.

    Every simulated job writes its trial's config file with fsync (the controller's own
    ``write_atomic``) and every cycle commits to SQLite; on a disk that costs more than the
    simulation itself, on tmpfs nearly nothing. ``$SLURMHPO_BENCH_TMP`` overrides.
    """
    chosen = os.environ.get("SLURMHPO_BENCH_TMP")
    if chosen:
        return chosen
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def study_spec(
    task: CurveTask,
    method: Method,
    seed: int,
    workers: int,
    budget: float,
    root: Path,
    max_trials: int | None = None,
    continue_in_place: bool = False,
    *,
    name: str = STUDY_NAME,
    warm_from: str | None = None,
    constraints: tuple[str, ...] = (),
) -> StudySpec:
    """The study a benchmark run registers: the task's space, the method's scheduler;
    ``warm_from`` names the study its searcher is warm-started from."""
    searcher = dict(method.searcher)
    if warm_from is not None:
        searcher["warm_start"] = [warm_from]
    data: dict[str, Any] = {
        "name": name,
        "seed": seed,
        "backend": "local",  # not used: the harness hands the controller its backend
        "runs_dir": str(root / "runs"),
        "objective": (
            {"metric": task.metric, "mode": task.mode}
            if method.objectives is None
            else [{"metric": m, "mode": mode} for m, mode in method.objectives]
        ),
        "resource": {"name": "epoch", "min": method.resource_min(task.r_min), "max": task.r_max},
        "scheduler": dict(method.scheduler),
        "searcher": searcher,
        "budget": {
            "max_concurrent": workers,
            "max_wall_hours": budget / 3600.0,
            **({"max_trials": max_trials} if max_trials is not None else {}),
        },
        "trial": {
            "command": ["simulated"],
            "workdir": str(root),
            "max_retries": 0,
            **({"continue_in_place": True} if continue_in_place else {}),
        },
        "space": task.space(),
    }
    if constraints:
        data["constraints"] = list(constraints)
    return StudySpec.from_dict(data)


def simulate(
    task: CurveTask,
    method: Method,
    seed: int,
    *,
    workers: int,
    budget: float,
    exact: bool = False,
    max_trials: int | None = None,
    queue_wait: str = "0",
    continue_in_place: bool = False,
    median_full_time: float | None = None,
) -> RunResult:
    """Run ``method`` on ``task`` for ``budget`` simulated seconds with ``workers`` workers.

    ``exact`` wakes the controller at every epoch end, whatever the method's ``wake``: slower,
    and the reference that the faster setting must reproduce. ``max_trials`` also limits the
    study to that many trials (it ends when they are done or B is spent, whichever is first).
    ``median_full_time`` (the task's median time(x, r_max)) scales the constraint of a method
    with ``time_cap``.
    """
    if not budget > 0:
        raise ConfigError("budget", f"must be > 0 simulated seconds, got {budget!r}")
    began = time.perf_counter()
    judged_by = method.cap_constraints(median_full_time)
    enforced = judged_by if method.enforce_cap else ()
    with tempfile.TemporaryDirectory(prefix="slurmhpo-bench-", dir=scratch_dir()) as tmp:
        root = Path(tmp)
        engine = make_engine(f"sqlite:///{root / 'bench.db'}")
        try:
            Base.metadata.create_all(engine)  # a fresh, private database: no migration history
            run = _Run(
                task, method, workers, budget, exact, max_trials, queue_wait, continue_in_place,
                engine, root, enforced,
            )  # fmt: skip
            warm_from = None
            if method.warm_start:
                run.drive(seed + WARM_SOURCE_SEED, WARM_SOURCE_NAME, None)
                warm_from = WARM_SOURCE_NAME
            backend, clock = run.drive(seed, STUDY_NAME, warm_from)
            reports, trials = _stored_reports(engine, clock, judged_by, hasattr(task, "objectives"))
        finally:
            engine.dispose()
    stats = backend.stats
    return RunResult(
        task=task.name,
        method=method.name,
        seed=seed,
        mode=task.mode,
        r_max=task.r_max,
        budget=budget,
        workers=workers,
        reports=reports,
        trials=trials,
        epochs=stats.epochs_trained,
        busy_seconds=stats.busy_seconds,
        slots_used=len(stats.slots_used),
        peak_running=stats.peak_running,
        runtime_s=time.perf_counter() - began,
        queue_wait=queue_wait,
        queued_seconds=stats.queued_seconds,
        continue_in_place=continue_in_place,
        constraints=judged_by,
        infeasible_trials=len({r.trial for r in reports if not r.feasible}),
    )


@dataclass(frozen=True)
class _Run:
    """What every study of one :func:`simulate` call shares (the source of a warm start,
    then the measured study)."""

    task: CurveTask
    method: Method
    workers: int
    budget: float
    exact: bool
    max_trials: int | None
    queue_wait: str
    continue_in_place: bool
    engine: Any
    root: Path
    constraints: tuple[str, ...]  # what the study carries

    def drive(
        self, seed: int, name: str, warm_from: str | None
    ) -> tuple[SimulatedBackend, SimClock]:
        """Register study ``name`` and drive it on a fresh simulated clock until it ends."""
        task, method = self.task, self.method
        spec = study_spec(
            task, method, seed, self.workers, self.budget, self.root, self.max_trials,
            self.continue_in_place, name=name, warm_from=warm_from,
            constraints=self.constraints,
        )  # fmt: skip
        spec = register_study(self.engine, spec)
        clock = SimClock(deadline=self.budget)
        wake = None if self.exact else method.wake_resources(task.r_min, task.r_max)
        waits = parse_queue_wait(self.queue_wait, seed=seed)
        backend = SimulatedBackend(task, clock, self.workers, wake, waits)
        build_controller(
            self.engine,
            spec.name,
            backend=backend,
            poll_interval=0.0,
            lease_ttl=86_400.0,
            clock=clock,
        ).run()
        return backend, clock


def _stored_reports(
    engine: Any, clock: SimClock, constraints: tuple[str, ...], with_metrics: bool = False
) -> tuple[tuple[Report, ...], int]:
    """The observations the controller stored, on the simulated time axis, each judged by
    ``constraints`` (study-file form); and the trial count (``with_metrics``: each report
    keeps its line's metrics, for several objectives)."""
    judge = parse_constraints(list(constraints), resource_name="epoch")
    origin = clock.origin.timestamp()
    with read_session(engine) as session:
        study = get_study(session, STUDY_NAME)
        rows = study_observations(session, study)
    reports = []
    trials = set()
    for trial, obs in rows:
        trials.add(trial.number)
        if obs.reported_at is None:
            continue
        when = obs.reported_at.timestamp() - origin
        ok = feasible(judge, obs.metrics or {})
        metrics = dict(obs.metrics) if with_metrics else None
        reports.append(Report(when, trial.number, obs.resource, obs.objective, ok, metrics))
    reports.sort(key=lambda r: (r.time, r.trial, r.resource))
    return tuple(reports), len(trials)
