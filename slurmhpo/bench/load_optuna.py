"""The comparison side of the load benchmark: Optuna's RDB storage doing the same reports.

What it does: ``trials`` trials open at once in one Optuna study with Optuna's own ASHA
(``SuccessiveHalvingPruner``, min resource 1, reduction factor 3, the slurmhpo side's eta);
round-robin, each trial reports its next step with ``trial.report`` and asks
``trial.should_prune``, as a training loop does after each epoch. A pruned trial is told
PRUNED, a trial that reached ``max_resource`` is told COMPLETE, and a new trial takes its
place, so the number of open trials stays ``trials``, as on the slurmhpo side. It stops after
``reports`` reports or ``seconds``, whichever comes first. Opening the first ``trials`` trials
has its own limit of ``seconds``: each ``study.ask`` reads every open trial back, so opening
them costs time quadratic in their number (measured: 87 s for 1,000 on SQLite, hours for
10,000); when the limit stops it, the reports run on the trials opened so far
(``open_trials`` says how many).

The storage is used as users use it: ``RDBStorage(url)`` handed to ``create_study``, which
wraps it in Optuna's cache. One process plays every worker, so there is no lock contention
between workers; the numbers are a lower bound on Optuna's cost at this scale.
Measured per report (``report`` + ``should_prune``): wall time, process CPU time, and the
time inside the database driver (a :class:`~slurmhpo.store.probe.StoreProbe` on the
storage's engine, the same measure as on the slurmhpo side).
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from typing import Any

from slurmhpo.bench.load_writers import loss_at
from slurmhpo.store.probe import ProbeCounts, StoreProbe

PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class OptunaResult:
    """Totals over the timed calls; per-report figures are these divided by ``reports``."""

    version: str
    reports: int
    target_reports: int
    stopped_by_time: bool
    trials_created: int
    pruned: int
    wall_seconds: float
    cpu_seconds: float
    db_seconds: float
    statements: int
    transactions: int
    setup_seconds: float  # creating the study and its first trials (not timed above)
    open_trials: int  # trials open at once: ``trials`` unless the setup hit its time limit


@dataclass
class _Open:
    trial: Any
    quality: float
    step: int = 0


def drive_optuna(
    url: str, *, trials: int, reports: int, max_resource: int, seconds: float, seed: int = 0
) -> OptunaResult:
    """Run the comparison on the database at ``url`` (which must be new and empty)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(seed)
    began = time.perf_counter()
    storage = optuna.storages.RDBStorage(url)
    probe = StoreProbe(storage.engine)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = optuna.create_study(storage=storage, pruner=pruner, study_name="loadbench")
    created = 0

    def fresh() -> _Open:
        nonlocal created
        created += 1
        return _Open(study.ask(), rng.random())

    setup_deadline = time.perf_counter() + seconds
    open_trials = []
    while len(open_trials) < trials and time.perf_counter() < setup_deadline:
        open_trials.append(fresh())
    setup = time.perf_counter() - began
    done = pruned = 0
    wall = cpu = 0.0
    timed_counts = ProbeCounts()
    deadline = time.perf_counter() + seconds
    last_note = time.perf_counter()
    try:
        while done < reports and time.perf_counter() < deadline:
            for index, entry in enumerate(open_trials):
                if done >= reports or time.perf_counter() >= deadline:
                    break
                entry.step += 1
                before = probe.snapshot()
                wall0, cpu0 = time.perf_counter(), time.process_time()
                entry.trial.report(loss_at(entry.quality, entry.step), entry.step)
                prune = entry.trial.should_prune()
                wall += time.perf_counter() - wall0
                cpu += time.process_time() - cpu0
                timed_counts += probe.snapshot() - before
                done += 1
                if prune or entry.step >= max_resource:
                    state = optuna.trial.TrialState.PRUNED if prune else None
                    value = None if prune else loss_at(entry.quality, entry.step)
                    study.tell(entry.trial, value, state=state)
                    pruned += prune
                    open_trials[index] = fresh()
                if time.perf_counter() - last_note >= PROGRESS_EVERY_S:
                    last_note = time.perf_counter()
                    print(f"  optuna: {done}/{reports} reports", file=sys.stderr, flush=True)
    finally:
        probe.close()
        storage.engine.dispose()
    return OptunaResult(
        version=optuna.__version__,
        reports=done,
        target_reports=reports,
        stopped_by_time=done < reports,
        trials_created=created,
        pruned=pruned,
        wall_seconds=wall,
        cpu_seconds=cpu,
        db_seconds=timed_counts.db_seconds,
        statements=timed_counts.statements,
        transactions=timed_counts.transactions,
        setup_seconds=setup,
        open_trials=len(open_trials),
    )
