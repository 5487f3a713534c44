"""``slurmhpo bench``: run methods on learning-curve tasks under the simulated backend.

Every run drives the real controller, store and schedulers on a simulated clock (see
:mod:`slurmhpo.backends.simulated`), with benchmarks/PROTOCOL.md's budget B per task. Progress
goes to stderr (a line per finished run); per-task tables go to stdout. ``--json FILE`` writes
every run (incumbents at B/4, B/2, B, full-fidelity incumbent, work, utilisation, trace) and the
aggregates; ``--plot FILE`` writes a PNG of the incumbent against simulated time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slurmhpo.bench.harness import Method
from slurmhpo.bench.report import TABLE_HEADERS, aggregate, run_summary, task_rows
from slurmhpo.bench.runner import (
    DEFAULT_METHODS,
    DEV_TASKS,
    METHODS,
    BenchConfig,
    TaskCache,
    budget_seconds,
    parse_methods,
    run_grid,
    split_names,
)
from slurmhpo.cli.table import format_table
from slurmhpo.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark methods on simulated learning-curve tasks (benchmarks/PROTOCOL.md)",
        description="Run HPO methods through the real controller on a simulated clock.",
    )
    parser.add_argument(
        "--method",
        action="append",
        metavar="M",
        help=f"method(s), repeatable or comma list; default: {','.join(DEFAULT_METHODS)}; "
        f"known: {','.join(METHODS)}",
    )
    parser.add_argument(
        "--task",
        action="append",
        metavar="T",
        help="lcbench/<id> or synthetic/<name>, repeatable; default: the 6 lcbench dev tasks",
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--workers", type=int, default=4, help="simulated workers W (default 4)")
    parser.add_argument(
        "--budget-factor",
        type=float,
        default=50.0,
        help="B = factor x median time(x, r_max) over 200 reference configs / W (default 50)",
    )
    parser.add_argument(
        "--budget-seconds", type=float, default=None, help="override B (simulated seconds)"
    )
    parser.add_argument(
        "--max-trials",
        type=int,
        default=None,
        help="also end each study after N trials (e.g. to time a 1,000-trial study)",
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="wake the controller at every epoch end, not only where the method can act "
        "(slower; same results)",
    )
    parser.add_argument(
        "--queue-wait",
        default="0",
        metavar="WAIT",
        help="each job waits in the queue before it starts: SECONDS, lognormal:MEAN,SIGMA "
        "or trace:FILE.csv with submit,start columns (default 0: no wait)",
    )
    parser.add_argument(
        "--continue-in-place",
        action="store_true",
        help="a promoted trial goes on in its own job when it can ([trial] "
        "continue_in_place): no new job, so no queue wait",
    )
    parser.add_argument(
        "--data-dir", default=None, help="YAHPO data (else $SLURMHPO_YAHPO_DATA, else default)"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write JSON")
    parser.add_argument("--plot", type=Path, default=None, metavar="FILE", help="write a PNG")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    tasks = tuple(split_names(args.task)) or DEV_TASKS
    config = BenchConfig(
        tasks=tasks,
        methods=tuple(parse_methods(args.method)),
        seeds=args.seeds,
        workers=args.workers,
        budget_factor=args.budget_factor,
        data_dir=args.data_dir,
        budget_seconds=args.budget_seconds,
        exact=args.exact,
        max_trials=args.max_trials,
        queue_wait=args.queue_wait,
        continue_in_place=args.continue_in_place,
    )
    for path, flag in ((args.json, "--json"), (args.plot, "--plot")):
        if path is not None and not path.parent.exists():
            raise ConfigError(flag, f"folder {path.parent} does not exist", "create it first")
    cache = TaskCache(config.data_dir)
    began = time.perf_counter()
    budgets = {name: _budget_info(config, cache, name) for name in tasks}
    runs = list(run_grid(config, cache))
    final_only = {m.name: m.final_only for m in config.methods}
    stats = aggregate(runs, final_only)
    for task, per_method in stats.items():
        print(f"{task}: B = {budgets[task]['seconds']:.1f} simulated s, {config.workers} workers")
        print(format_table(TABLE_HEADERS, task_rows(per_method)))
        print()
    if "random" not in final_only:
        print("speed-up vs random search: n/a (add --method random)")
    elapsed = time.perf_counter() - began
    print(f"{len(runs)} simulated runs in {elapsed:.1f} s", file=sys.stderr)
    if args.json is not None:
        _write_json(args.json, config, cache, budgets, runs, final_only, stats, elapsed)
    if args.plot is not None:
        from slurmhpo.bench.plot import plot_runs

        plot_runs(runs, final_only, args.plot)
    return 0


def _budget_info(config: BenchConfig, cache: TaskCache, name: str) -> dict[str, Any]:
    seconds = budget_seconds(config, cache, name)
    if config.budget_seconds is not None:
        return {"seconds": seconds, "source": "--budget-seconds"}
    b = cache.budget(name, config.workers, config.budget_factor)
    return {
        "seconds": b.seconds,
        "median_full_time": b.median_full_time,
        "n_configs": b.n_configs,
        "workers": b.workers,
        "full_trainings": b.full_trainings,
        "sampler": b.sampler,
        "source": "reference_budget",
    }


def _method_settings(method: Method, config: BenchConfig, cache: TaskCache) -> dict[str, Any]:
    """Every field of ``method``, plus the ``resource.min`` its study had on each task.

    All dataclass fields are written, so a setting added to :class:`Method` later is recorded
    without touching this function; ``resource_min`` is what the study actually used (the
    method's ``min_resource``, else the task's r_min).
    """
    out: dict[str, Any] = {}
    for item in dataclasses.fields(method):
        value = getattr(method, item.name)
        out[item.name] = dict(value) if isinstance(value, Mapping) else value
    out["resource_min"] = {
        task: method.resource_min(cache.task(task).r_min) for task in config.tasks
    }
    return out


def _write_json(
    path: Path,
    config: BenchConfig,
    cache: TaskCache,
    budgets: dict[str, Any],
    runs: list[Any],
    final_only: dict[str, bool],
    stats: dict[str, Any],
    elapsed: float,
) -> None:
    data = {
        "config": {
            "tasks": list(config.tasks),
            "methods": {m.name: _method_settings(m, config, cache) for m in config.methods},
            "seeds": config.seeds,
            "workers": config.workers,
            "budget_factor": config.budget_factor,
            "queue_wait": config.queue_wait,
            "continue_in_place": config.continue_in_place,
        },
        "budgets": budgets,
        "runs": [run_summary(r, final_only.get(r.method, False)) for r in runs],
        "aggregates": stats,
        "elapsed_s": elapsed,
    }
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
