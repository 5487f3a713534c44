"""``slurmhpo bench-pareto``: hypervolume of the Pareto front found on simulated ZDT1 curves.

Runs multi-objective methods (and single-objective ASHA on a scalarisation, for comparison)
through the real controller on a simulated clock (:mod:`slurmhpo.bench.pareto_bench`), and
prints the median [IQR] hypervolume at B/4, B/2 and B over seeds 0..N-1. ``--json FILE``
writes every run and the summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from slurmhpo.bench.pareto_bench import FRACTIONS, PARETO_METHODS, ParetoRun, run_pareto_bench
from slurmhpo.bench.runner import split_names
from slurmhpo.cli.table import format_table
from slurmhpo.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench-pareto",
        help="benchmark multi-objective methods: hypervolume on simulated ZDT1 curves",
        description="Hypervolume of the Pareto front each method finds (docs/benchmarks.md).",
    )
    parser.add_argument(
        "--method",
        action="append",
        metavar="M",
        help=f"method(s), repeatable or comma list; default and known: {','.join(PARETO_METHODS)}",
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--workers", type=int, default=4, help="simulated workers W (default 4)")
    parser.add_argument(
        "--budget-factor",
        type=float,
        default=50.0,
        help="B = factor x median full-training time / W (default 50, PROTOCOL.md)",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    methods = split_names(args.method) or list(PARETO_METHODS)
    for name in methods:
        if name not in PARETO_METHODS:
            raise ConfigError("--method", f"unknown method {name!r}", f"use {list(PARETO_METHODS)}")
    if args.seeds < 1:
        raise ConfigError("--seeds", f"must be at least 1, got {args.seeds}")
    if args.json is not None and not args.json.parent.exists():
        raise ConfigError("--json", f"folder {args.json.parent} does not exist", "create it first")
    began = time.perf_counter()
    out = run_pareto_bench(
        methods,
        list(range(args.seeds)),
        workers=args.workers,
        full_trainings=args.budget_factor,
        progress=_progress,
    )
    out["runtime_s"] = round(time.perf_counter() - began, 1)
    print(
        f"{out['task']}: B = {out['budget_seconds']:.1f} simulated s, {args.workers} workers; "
        f"hypervolume at reference {tuple(out['reference_point'])} "
        f"(true front: {out['true_front_hypervolume']:.4f})"
    )
    headers = ["METHOD", *(f"HV AT {f:g}B" for f in FRACTIONS), "TRIALS", "AT R_MAX"]
    rows = [
        [
            name,
            *(
                f"{s['median'][i]:.4f} [{s['q25'][i]:.4f}-{s['q75'][i]:.4f}]"
                for i in range(len(FRACTIONS))
            ),
            f"{s['median_trials']:g}",
            f"{s['median_full_fidelity']:g}",
        ]
        for name, s in out["summary"].items()
    ]
    print(format_table(headers, rows))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


def _progress(run: ParetoRun) -> None:
    print(
        f"{run.method} seed {run.seed}: HV at B {run.hypervolume[-1]:.4f}, {run.trials} trials",
        file=sys.stderr,
    )
