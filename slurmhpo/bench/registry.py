"""Benchmark tasks by name: ``lcbench/<OpenML task id>`` and ``synthetic/<function>``.

Names are what study files, the simulator and ``slurmhpo bench`` pass around; options (data
directory, metric, noise, ...) go to the task's constructor as keyword arguments, so a name
alone always means the default, reproducible variant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slurmhpo.bench.base import CurveTask
from slurmhpo.bench.lcbench import LCBenchTask
from slurmhpo.bench.synthetic import LANDSCAPES, SyntheticTask
from slurmhpo.errors import ConfigError

# PROTOCOL.md's development instances; lcbench knows more (see lcbench.instances()).
LCBENCH_DEV = ("3945", "7593", "34539", "126025", "146212", "168868")


def get_task(name: str, **options: Any) -> CurveTask:
    """Build the task called ``name`` with keyword ``options`` for its constructor.

    ``lcbench/<id>`` accepts data_dir, metric, threads, cache_size (see LCBenchTask);
    ``synthetic/<function>`` accepts r_max, noise, seed, cache_size (see SyntheticTask).
    Raises ConfigError naming the valid names or the option that is not understood.
    """
    family, _, variant = str(name).partition("/")
    build: Callable[..., CurveTask]
    if family == "lcbench" and variant:
        build = LCBenchTask
    elif family == "synthetic" and variant in LANDSCAPES:
        build = SyntheticTask
    else:
        raise ConfigError("task", f"unknown benchmark task {name!r}", f"use one of {list_tasks()}")
    try:
        return build(variant, **options)
    except TypeError as exc:  # an option the constructor does not take
        raise ConfigError("task", f"bad options for {name}: {exc}") from exc


def list_tasks() -> list[str]:
    """The names of the built-in tasks (lcbench: the development instances; others exist)."""
    synthetic = [f"synthetic/{key}" for key in LANDSCAPES]
    return synthetic + [f"lcbench/{instance}" for instance in LCBENCH_DEV]
