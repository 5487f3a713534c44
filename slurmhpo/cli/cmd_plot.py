"""``slurmhpo plot STUDY --kind anytime|curves|rungs|pareto -o FILE.png``: draw a study (read-only).

Needs the ``plot`` extra (matplotlib); without it the command exits 1 naming
``pip install "slurmhpo[plot]"``. The database is opened read-only, so plotting a live study
next to its controller is safe. What each kind shows: see :mod:`slurmhpo.plots`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from slurmhpo.cli.common import add_db_option, open_store
from slurmhpo.plots import KINDS, plot_study


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("plot", help="draw a study as a PNG (needs slurmhpo[plot])")
    parser.add_argument("study", metavar="STUDY", help="the study's name")
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default="anytime",
        help="anytime: incumbent vs time and GPU-hours; curves: learning curves; "
        "rungs: rung occupancy over time; pareto: the first two objectives and the Pareto "
        "front (studies with several objectives) (default anytime)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="FILE.png", type=Path)
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = open_store(args)
    try:
        plot_study(engine, args.study, args.kind, args.output)
    finally:
        engine.dispose()
    print(f"wrote {args.output}")
    return 0
