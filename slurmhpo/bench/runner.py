"""The benchmark grid: which methods exist, each task's budget, and running (task, method, seed).

Methods are plain study tables (scheduler + searcher), so a user can copy what was benchmarked
into a study file. ``r_min`` and ``r_max`` come from the task, ``eta`` is 3 (PROTOCOL.md), and
every rung method names its ``rung_levels`` explicitly, so the benchmark does not move when a
scheduler default does.
Budgets follow PROTOCOL.md (:func:`slurmhpo.bench.budget.reference_budget`) and are computed
once per task per process.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from slurmhpo.backends.queue_wait import parse_queue_wait
from slurmhpo.bench.base import CurveTask
from slurmhpo.bench.budget import Budget, reference_budget
from slurmhpo.bench.harness import Method, RunResult, simulate
from slurmhpo.bench.registry import get_task
from slurmhpo.errors import ConfigError

ETA = 3
# Every rung method keeps PROTOCOL.md's rungs 1, 3, 9, 27, 52 (r_min * eta^k). The *-from-max
# methods are Hyperband and BOHB on the ladder of the Hyperband paper and HpBandSter,
# r_max * eta^-k (2, 6, 17, 52): measured on the development and four held-out tasks, it rescues
# sync BOHB's first quarter on lcbench/146212 but is not better overall (docs/benchmarks.md).
FROM_MAX_RUNGS = {"eta": ETA, "rung_levels": "from_max"}
FROM_MIN_RUNGS = {"eta": ETA, "rung_levels": "from_min"}
# Larger minimum resources (grace periods) tried for ASHA and the median rule: epoch 1 ranks
# lcbench configurations badly, epoch 2 much better (docs/benchmarks.md, "ASHA and the median
# rule with a larger minimum resource"). Not default methods.
LARGER_MIN_RESOURCES = (2, 3)
# Population-based training as benchmarked (docs/benchmarks.md): a population of 32 needs
# 32 x 52 epochs, about two thirds of the budget's 50 full trainings, so every lineage can
# reach epoch 52 within B; 13 segments of 4 epochs each; the quantile and resample
# probability are the defaults of Syne Tune's and Ray Tune's PBT (0.25 each).
PBT = {
    "type": "pbt",
    "population_size": 32,
    "perturbation_interval": 4,
    "quantile_fraction": 0.25,
    "resample_probability": 0.25,
}


def _larger_min_resource(r_min: int) -> list[Method]:
    """ASHA (both variants) and the median rule with ``resource.min = r_min``.

    ASHA's first rung is resource.min (r_min = 3: rungs 3, 9, 27, 52 on lcbench); the median
    rule's ``grace`` defaults to resource.min, so its first judgement is at r_min (trials still
    report, and the rule still averages, every epoch from 1).
    """
    ladder = f"resource.min = {r_min} instead of the task's"
    return [
        Method(
            f"asha-stopping-rmin{r_min}",
            {"type": "asha", "variant": "stopping", **FROM_MIN_RUNGS},
            note=f"ASHA, stopping variant; {ladder}",
            wake="rungs",
            min_resource=r_min,
        ),
        Method(
            f"asha-promotion-rmin{r_min}",
            {"type": "asha", "variant": "promotion", **FROM_MIN_RUNGS},
            note=f"ASHA, promotion variant; {ladder}",
            wake="rungs",
            min_resource=r_min,
        ),
        Method(
            f"median-rmin{r_min}",
            {"type": "median"},
            note=f"median stopping rule, grace = resource.min = {r_min}",
            min_resource=r_min,
        ),
    ]


def _capped(name: str, scheduler: dict[str, object]) -> list[Method]:
    """``name`` under the outcome constraint full_seconds <= the task's median full training
    time (about half the space is too slow), carried by the study (``-fast``) or only judged
    afterwards (``-fast-unenforced``: what the unconstrained search finds that is feasible)."""
    cap = "full_seconds <= the task's median time(x, r_max)"
    kinds = (
        ("-fast", True, f"{name} with the constraint {cap}"),
        ("-fast-unenforced", False, f"{name} without a constraint; results judged by {cap}"),
    )
    return [
        Method(
            f"{name}{suffix}",
            scheduler,
            {"type": "kde"},
            note=note,
            wake="rungs",
            time_cap=1.0,
            enforce_cap=enforce,
        )
        for suffix, enforce, note in kinds
    ]


def _hyperband_family(suffix: str, rungs: dict[str, object], ladder: str) -> list[Method]:
    """Asynchronous Hyperband and BOHB (sync and async) on one rung ladder."""
    return [
        Method(
            f"hyperband{suffix}",
            {"type": "hyperband", "variant": "promotion", **rungs},
            note=f"asynchronous Hyperband, promotion (pause-and-resume) variant; {ladder}",
            wake="rungs",
        ),
        Method(
            f"hyperband-stopping{suffix}",
            {"type": "hyperband", "variant": "stopping", **rungs},
            note=f"asynchronous Hyperband, stopping variant; {ladder}",
            wake="rungs",
        ),
        Method(
            f"bohb-sync{suffix}",
            {"type": "bohb", "variant": "sync", **rungs},
            {"type": "kde"},
            asynchronous=False,
            note="synchronous BOHB; opens the next bracket rather than idle (as HpBandSter); "
            + ladder,
            wake="rungs",
        ),
        Method(
            f"bohb-async{suffix}",
            {"type": "bohb", "variant": "promotion", **rungs},
            {"type": "kde"},
            note=f"KDE searcher on asynchronous Hyperband, promotion variant; {ladder}",
            wake="rungs",
        ),
        Method(
            f"bohb-async-stopping{suffix}",
            {"type": "bohb", "variant": "stopping", **rungs},
            {"type": "kde"},
            note=f"KDE searcher on asynchronous Hyperband, stopping variant; {ladder}",
            wake="rungs",
        ),
    ]


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "random",
            {"type": "fifo"},
            final_only=True,
            wake="targets",
            note="random search, each trial to r_max; only the r_max report counts "
            "(PROTOCOL's random_full reports once, at r_max)",
        ),
        Method(
            "asha-stopping", {"type": "asha", "variant": "stopping", **FROM_MIN_RUNGS}, wake="rungs"
        ),
        Method(
            "asha-promotion",
            {"type": "asha", "variant": "promotion", **FROM_MIN_RUNGS},
            wake="rungs",
        ),
        *_hyperband_family("", FROM_MIN_RUNGS, "rungs from r_min (1, 3, 9, 27, 52)"),
        *_hyperband_family("-from-max", FROM_MAX_RUNGS, "rungs from r_max (2, 6, 17, 52)"),
        Method(
            "adaptive",
            {"type": "adaptive", **FROM_MIN_RUNGS},
            {"type": "mf_kde"},
            note="asynchronous Hyperband (promotion) with trust-weighted brackets and a "
            "trust-weighted multi-fidelity KDE (docs/schedulers.md)",
            wake="rungs",
        ),
        Method(
            "bohb-async-warm",
            {"type": "bohb", "variant": "promotion", **FROM_MIN_RUNGS},
            {"type": "kde"},
            note="bohb-async warm-started from a bohb-async study of the same task (seed + "
            "1000, the same budget, run first in the same database; not counted)",
            wake="rungs",
            warm_start=True,
        ),
        Method(
            "pbt",
            PBT,
            note="population-based training: 32 trials, exploit/explore every 4 epochs, "
            "bottom quarter copies the top quarter (docs/schedulers.md)",
            wake="targets",
        ),
        Method("median", {"type": "median"}, note="median stopping rule, grace r_min"),
        *_capped("bohb-async", {"type": "bohb", "variant": "promotion", **FROM_MIN_RUNGS}),
        Method(
            "curve",
            {"type": "curve"},
            note="learning-curve stopping rule (power/exponential/log ensemble), "
            "threshold 0.05, min_points 5, judged every epoch",
        ),
        *(m for r_min in LARGER_MIN_RESOURCES for m in _larger_min_resource(r_min)),
    )
}
DEFAULT_METHODS = (
    "random",
    "asha-stopping",
    "asha-promotion",
    "hyperband",
    "bohb-sync",
    "bohb-async",
    "median",
)
DEV_TASKS = tuple(f"lcbench/{i}" for i in ("3945", "7593", "34539", "126025", "146212", "168868"))


def split_names(values: Iterable[str] | None) -> list[str]:
    """Names from repeated options and/or comma lists, duplicates dropped, order kept."""
    names = [n.strip() for v in values or () for n in v.split(",") if n.strip()]
    return list(dict.fromkeys(names))


def parse_methods(values: Iterable[str] | None) -> list[Method]:
    """The methods named (default: :data:`DEFAULT_METHODS`); ConfigError for unknown names."""
    chosen = split_names(values) or list(DEFAULT_METHODS)
    unknown = [name for name in chosen if name not in METHODS]
    if unknown:
        raise ConfigError("--method", f"unknown method(s) {unknown}", f"use {sorted(METHODS)}")
    return [METHODS[name] for name in chosen]


@dataclass(frozen=True)
class BenchConfig:
    """What one ``slurmhpo bench`` invocation runs."""

    tasks: tuple[str, ...]
    methods: tuple[Method, ...]
    seeds: int = 10
    workers: int = 4
    budget_factor: float = 50.0
    data_dir: str | None = None
    budget_seconds: float | None = None  # override B (tests, quick looks); None: PROTOCOL's
    exact: bool = False  # wake the controller at every epoch end (see simulate)
    max_trials: int | None = None  # also end each study after this many trials
    queue_wait: str = "0"  # each job's queue wait (slurmhpo.backends.queue_wait)
    continue_in_place: bool = False  # the study's [trial] continue_in_place

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ConfigError("--seeds", f"must be >= 1, got {self.seeds}")
        if self.workers < 1:
            raise ConfigError("--workers", f"must be >= 1, got {self.workers}")
        if not self.budget_factor > 0:
            raise ConfigError("--budget-factor", f"must be > 0, got {self.budget_factor}")
        if self.max_trials is not None and self.max_trials < 1:
            raise ConfigError("--max-trials", f"must be >= 1, got {self.max_trials}")
        if self.budget_seconds is not None and not self.budget_seconds > 0:
            raise ConfigError("--budget-seconds", f"must be > 0, got {self.budget_seconds}")
        parse_queue_wait(self.queue_wait)  # a bad model is refused before any run


class TaskCache:
    """Tasks and their budgets, built once per process (the surrogate and B are costly)."""

    def __init__(self, data_dir: str | None = None) -> None:
        self.data_dir = data_dir
        self._tasks: dict[str, CurveTask] = {}
        self._budgets: dict[tuple[str, int, float], Budget] = {}

    def task(self, name: str) -> CurveTask:
        if name not in self._tasks:
            options: dict[str, Any] = {}
            if name.startswith("lcbench/") and self.data_dir is not None:
                options["data_dir"] = self.data_dir
            self._tasks[name] = get_task(name, **options)
        return self._tasks[name]

    def budget(self, name: str, workers: int, factor: float) -> Budget:
        key = (name, workers, factor)
        if key not in self._budgets:
            self._budgets[key] = reference_budget(
                self.task(name), workers=workers, full_trainings=factor, data_dir=self.data_dir
            )
        return self._budgets[key]


def budget_seconds(config: BenchConfig, cache: TaskCache, task: str) -> float:
    if config.budget_seconds is not None:
        return config.budget_seconds
    return cache.budget(task, config.workers, config.budget_factor).seconds


def run_grid(
    config: BenchConfig,
    cache: TaskCache | None = None,
    progress: TextIO | None = sys.stderr,
    on_result: Callable[[RunResult], None] | None = None,
) -> Iterator[RunResult]:
    """Simulate every (task, method, seed), one at a time; a line per finished run on
    ``progress``. Seeds are 0..seeds-1, so a seed means the same run in every invocation."""
    cache = cache or TaskCache(config.data_dir)
    total = len(config.tasks) * len(config.methods) * config.seeds
    done = 0
    with _quiet_controller():
        for name in config.tasks:
            task = cache.task(name)
            budget = budget_seconds(config, cache, name)
            median_full_time = _median_full_time(config, cache, name)
            for method in config.methods:
                for seed in range(config.seeds):
                    result = simulate(
                        task,
                        method,
                        seed,
                        workers=config.workers,
                        budget=budget,
                        exact=config.exact,
                        max_trials=config.max_trials,
                        queue_wait=config.queue_wait,
                        continue_in_place=config.continue_in_place,
                        median_full_time=median_full_time,
                    )
                    done += 1
                    if progress is not None:
                        progress.write(_progress_line(done, total, result))
                        progress.flush()
                    if on_result is not None:
                        on_result(result)
                    yield result


def _median_full_time(config: BenchConfig, cache: TaskCache, task: str) -> float | None:
    """The task's median time(x, r_max) over the budget's reference configurations, which
    scales the methods' time caps; None when no chosen method has one (not computed then)."""
    if all(m.time_cap is None for m in config.methods):
        return None
    return cache.budget(task, config.workers, config.budget_factor).median_full_time


def _progress_line(done: int, total: int, r: RunResult) -> str:
    return (
        f"[{done}/{total}] {r.task} {r.method} seed {r.seed}: {r.trials} trials, "
        f"{r.epochs} epochs, util {r.utilisation:.2f}, {r.runtime_s:.1f} s\n"
    )


class _quiet_controller:
    """The controller logs every budget-stopped trial at WARNING: noise in a benchmark."""

    def __enter__(self) -> None:
        self._logger = logging.getLogger("slurmhpo.controller")
        self._level = self._logger.level
        if not os.environ.get("SLURMHPO_BENCH_VERBOSE"):
            self._logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)
