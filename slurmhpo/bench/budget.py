"""The simulated wall-clock budget of benchmarks/PROTOCOL.md.

B = full_trainings * median over reference configurations of time(x, r_max) / workers, i.e. about
``full_trainings`` complete trainings' worth of compute spread over ``workers`` parallel
workers (PROTOCOL.md: 50 trainings, 4 workers, 200 configurations). For lcbench the
configurations are YAHPO's ConfigSpace seeded with 0, which reproduces the budgets of
benchmarks/PEERS.md; other tasks sample their own space with a seeded numpy Generator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from slurmhpo.bench.base import CurveTask
from slurmhpo.errors import ConfigError


@dataclass(frozen=True)
class Budget:
    """A task's budget and what it was computed from (for reports and reproducibility)."""

    task: str
    median_full_time: float  # median of time(x, r_max) over the reference configurations
    seconds: float  # B, simulated wall-clock seconds
    n_configs: int
    workers: int
    full_trainings: float
    sampler: str  # how the configurations were drawn, e.g. "yahpo:0" (sampler:seed)


def median_full_time(task: CurveTask, configs: Sequence[Mapping[str, Any]]) -> float:
    """Median over ``configs`` of the cumulative time to train to ``task.r_max``."""
    if not configs:
        raise ConfigError("configs", "needs at least one configuration")
    task.prefetch(configs)
    return float(np.median([task.cumulative_time(c, task.r_max) for c in configs]))


def budget_from_configs(
    task: CurveTask,
    configs: Sequence[Mapping[str, Any]],
    *,
    workers: int = 4,
    full_trainings: float = 50.0,
    sampler: str = "given",
) -> Budget:
    """B = full_trainings * median_full_time(task, configs) / workers."""
    _check(workers, full_trainings)
    median = median_full_time(task, configs)
    return _budget(task.name, median, len(configs), workers, full_trainings, sampler)


def _check(workers: int, full_trainings: float) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError("workers", f"must be an integer >= 1, got {workers!r}")
    if not full_trainings > 0:
        raise ConfigError("full_trainings", f"must be > 0, got {full_trainings!r}")


def _budget(
    task: str, median: float, n_configs: int, workers: int, full_trainings: float, sampler: str
) -> Budget:
    _check(workers, full_trainings)
    return Budget(
        task=task,
        median_full_time=median,
        seconds=full_trainings * median / workers,
        n_configs=n_configs,
        workers=workers,
        full_trainings=full_trainings,
        sampler=sampler,
    )


def reference_budget(
    task: CurveTask,
    *,
    n: int = 200,
    seed: int = 0,
    workers: int = 4,
    full_trainings: float = 50.0,
    sampler: str = "auto",
    data_dir: str | os.PathLike[str] | None = None,
) -> Budget:
    """PROTOCOL.md's budget of ``task`` from ``n`` reference configurations drawn with ``seed``.

    ``sampler``: ``"yahpo"`` draws with YAHPO's own ConfigSpace (lcbench only, needs
    yahpo_gym), which is what reproduces PEERS.md; ``"space"`` samples :meth:`CurveTask.space`
    with ``numpy.random.default_rng(seed)`` through :class:`slurmhpo.space.SearchSpace` (any
    task; for lcbench a different sample, so a budget a few percent off PEERS.md);
    ``"auto"`` is ``"yahpo"`` for lcbench and ``"space"`` otherwise; for PROTOCOL's own
    recipe (200 configurations, seed 0) on lcbench it takes the stored medians of
    :mod:`slurmhpo.bench.lcbench_budgets`, computed with ``"yahpo"``, so yahpo_gym is not
    needed. No silent fallback: an lcbench budget that is neither stored nor computable with
    yahpo_gym must be asked for with ``sampler="space"``.
    """
    from slurmhpo.bench.lcbench import LCBenchTask
    from slurmhpo.bench.lcbench_budgets import REFERENCE_MEDIAN_FULL_TIME

    if sampler not in {"auto", "yahpo", "space"}:
        raise ConfigError("sampler", f"unknown sampler {sampler!r}", "use auto, yahpo or space")
    if sampler == "auto":
        sampler = "yahpo" if isinstance(task, LCBenchTask) else "space"
        stored = REFERENCE_MEDIAN_FULL_TIME.get(getattr(task, "instance", ""))
        if sampler == "yahpo" and stored is not None and (n, seed) == (200, 0):
            return _budget(task.name, stored, n, workers, full_trainings, "yahpo:0 (stored)")
    if sampler == "yahpo":
        if not isinstance(task, LCBenchTask):
            raise ConfigError("sampler", f"yahpo sampling needs an lcbench task, not {task.name}")
        from slurmhpo.bench.yahpo import reference_configs

        configs = reference_configs(
            task.instance, n=n, seed=seed, data_dir=data_dir or task.data_dir
        )
    else:
        from slurmhpo.space import SearchSpace

        space = SearchSpace.from_dict(task.space())
        rng = np.random.default_rng(seed)
        configs = [space.sample(rng) for _ in range(n)]
    return budget_from_configs(
        task,
        configs,
        workers=workers,
        full_trainings=full_trainings,
        sampler=f"{sampler}:{seed}",
    )
