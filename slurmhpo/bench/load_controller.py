"""The slurmhpo side of the load benchmark: the real controller under a steady stream of lines.

It registers an ASHA (stopping variant, eta 3) study with ``max_concurrent = trials`` in a
new database, and drives it with :class:`~slurmhpo.controller.loop.Controller` exactly as
``slurmhpo run`` does (``open``, then ``cycle`` and a sleep of ``poll_interval``, then
``close``), on a :class:`~slurmhpo.bench.load_backend.LoadBackend` whose jobs are metric
files appended by writer processes. Only the public face of the controller is used, so the
benchmark measures any controller that keeps that face.

The run lasts ``seconds`` AFTER the first cycle: that cycle registers and submits all
``trials`` trials at once (55 s for 10,000 on a loaded two-core machine), which would
otherwise eat a short window; it is reported on its own (``first_cycle``) and counted in
every total. Per cycle it records wall and process CPU time (this process runs the controller, the
benchmark's backend and the probe; the writers and the database server are other processes)
and the store probe's counts. After the run it reads the observations and decisions back and
computes each line's write-to-decision latency (:mod:`slurmhpo.bench.load_stats`).
"""

from __future__ import annotations

import cProfile
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slurmhpo.bench.load_backend import LoadBackend
from slurmhpo.bench.load_stats import CycleEnd, Latencies, write_to_decision
from slurmhpo.bench.load_writers import WriterPool, WriterStats
from slurmhpo.controller.clock import RealClock
from slurmhpo.controller.loop import Controller, ControllerOptions
from slurmhpo.controller.studies import register_study
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.migrate import upgrade
from slurmhpo.store.probe import ProbeCounts, StoreProbe
from slurmhpo.store.queries import get_study, list_decisions, study_observations
from slurmhpo.study import StudySpec

STUDY_NAME = "loadbench"
PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True)
class LoadSettings:
    """What one run of the slurmhpo side does (the CLI flags, validated)."""

    trials: int
    rate: float
    seconds: float
    writers: int
    poll_interval: float
    max_resource: int
    seed: int
    profile: Path | None = None  # write cProfile stats of the cycles (only) here


@dataclass(frozen=True)
class Cycle:
    """One controller cycle: wall and CPU seconds, and the store work it did."""

    wall: float
    cpu: float
    store: ProbeCounts


@dataclass(frozen=True)
class ControllerSide:
    cycles: list[Cycle]
    kinds: Counter[str]  # SQL statements of all cycles by kind (see store.probe)
    latencies: Latencies
    reports: int  # observations stored
    decisions: int
    wall_seconds: float
    jobs_submitted: int
    jobs_cancelled: int
    jobs_completed: int
    writers: list[WriterStats]
    server_version: str


def study_spec(settings: LoadSettings, runs: Path) -> StudySpec:
    """One float hyperparameter ``x`` (the trial's quality), ASHA stopping, no trial limit."""
    return StudySpec.from_dict(
        {
            "name": STUDY_NAME,
            "seed": settings.seed,
            "backend": "local",  # not used: the benchmark hands the controller its backend
            "runs_dir": str(runs),
            "objective": {"metric": "loss", "mode": "min"},
            "resource": {"name": "epoch", "min": 1, "max": settings.max_resource},
            "scheduler": {"type": "asha", "variant": "stopping", "eta": 3},
            "searcher": {"type": "random"},
            # a limit is required; this one is never reached in a run of minutes
            "budget": {"max_concurrent": settings.trials, "max_trials": 10**9},
            "trial": {"command": ["load-writer"], "workdir": str(runs), "max_retries": 0},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        }
    )


def drive_controller(url: str, runs: Path, settings: LoadSettings) -> ControllerSide:
    """Run the controller for ``settings.seconds`` against writers; see the module docstring."""
    engine = make_engine(url)
    upgrade(engine)
    spec = register_study(engine, study_spec(settings, runs))
    pool = WriterPool(
        settings.writers, settings.rate, resource_name="epoch", metric="loss", seed=settings.seed
    )
    backend = LoadBackend(pool)
    probe = StoreProbe(engine, stamp_decisions=True)
    options = ControllerOptions(
        runs_dir=runs, poll_interval=settings.poll_interval, lease_ttl=3600.0
    )
    clock = RealClock()
    controller = Controller(engine, spec.name, backend, options, clock)
    writers: list[WriterStats] = []
    try:
        controller.open()
        began = time.perf_counter()
        profiler = cProfile.Profile() if settings.profile else None
        cycles, ends, kinds = _cycle_until(
            controller, clock, engine, probe, settings, began, profiler
        )
        wall = time.perf_counter() - began
        controller.close()
        writers = pool.close()
        probe.close()
        side = _read_back(engine, probe, cycles, ends, wall)
        if profiler is not None and settings.profile is not None:
            profiler.dump_stats(settings.profile)
    finally:
        if not writers:
            pool.close(timeout=5.0)
        engine.dispose()
    version = ".".join(str(part) for part in engine.dialect.server_version_info or ())
    return ControllerSide(
        **side,
        kinds=kinds,
        jobs_submitted=backend.submitted,
        jobs_cancelled=backend.cancelled,
        jobs_completed=backend.completed,
        writers=writers,
        server_version=f"{engine.dialect.name} {version}",
    )


def _cycle_until(
    controller: Controller,
    clock: RealClock,
    engine: Any,
    probe: StoreProbe,
    settings: LoadSettings,
    began: float,
    profiler: cProfile.Profile | None,
) -> tuple[list[Cycle], list[CycleEnd], Counter[str]]:
    cycles: list[Cycle] = []
    ends: list[CycleEnd] = []
    kinds: Counter[str] = Counter()
    last_note = began
    steady: float | None = None  # when the first cycle (the initial fill) ended
    while steady is None or time.perf_counter() - steady < settings.seconds:
        before, kinds_before = probe.snapshot(), Counter(probe.kinds)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        going = controller.cycle()
        if profiler is not None:
            profiler.disable()
        _note_commit(controller, probe)
        cycles.append(
            Cycle(
                time.perf_counter() - wall0, time.process_time() - cpu0, probe.snapshot() - before
            )
        )
        kinds.update(probe.kinds - kinds_before)
        steady = steady or time.perf_counter()
        ends.append(CycleEnd(_last_seq(engine), time.time()))
        if time.perf_counter() - last_note >= PROGRESS_EVERY_S:
            last_note = time.perf_counter()
            _progress(cycles, ends, last_note - began, settings.seconds)
        if not going:
            break
        clock.sleep(settings.poll_interval)
    return cycles, ends, kinds


def _note_commit(controller: Controller, probe: StoreProbe) -> None:
    """The controller names the decisions its cycle stored and when that commit returned
    (``Controller.last_commit``): exact commit instants, as the probe's ORM hook gives for
    decisions stored through the ORM (the cycle's write uses Core statements)."""
    if controller.last_commit is None:
        return
    first, last, at = controller.last_commit
    for seq in range(first, last + 1):
        probe.decision_commits.setdefault((controller.study.id, seq), at)


def _last_seq(engine: Any) -> int:
    with read_session(engine) as session:
        return get_study(session, STUDY_NAME).last_decision_seq


def _progress(cycles: list[Cycle], ends: list[CycleEnd], elapsed: float, total: float) -> None:
    last = cycles[-1]
    print(
        f"  slurmhpo: {elapsed:5.0f}/{total:.0f} s, {len(cycles)} cycles, "
        f"{ends[-1].last_seq} decisions; last cycle {last.wall * 1e3:.0f} ms wall, "
        f"{last.cpu * 1e3:.0f} ms CPU, load {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
        flush=True,
    )


def _read_back(
    engine: Any, probe: StoreProbe, cycles: list[Cycle], ends: list[CycleEnd], wall: float
) -> dict[str, Any]:
    with read_session(engine) as session:
        study = get_study(session, STUDY_NAME)
        rows = study_observations(session, study)
        decisions = [(d.seq, d.payload) for d in list_decisions(session, study)]
    reported = {(trial.number, obs.resource): obs.reported_at for trial, obs in rows}
    commits = {
        seq: at for (study_id, seq), at in probe.decision_commits.items() if study_id == study.id
    }
    return {
        "cycles": cycles,
        "latencies": write_to_decision(reported, decisions, commits, ends),
        "reports": len(rows),
        "decisions": len(decisions),
        "wall_seconds": wall,
    }
