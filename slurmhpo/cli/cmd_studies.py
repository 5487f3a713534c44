"""``slurmhpo studies [--json]``: every study, oldest first.

JSON: a list (``[]`` when empty) of objects with keys ``name``, ``state``, ``metric``,
``mode``, ``n_trials``, ``created_at``, ``updated_at``, ``finished_at``.
"""

from __future__ import annotations

import argparse
from typing import Any

from slurmhpo.cli.common import (
    add_db_option,
    add_json_option,
    json_time,
    open_store,
    print_json,
    text_time,
)
from slurmhpo.cli.table import format_table
from slurmhpo.store.db import read_session
from slurmhpo.store.queries import list_studies


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("studies", help="list studies")
    add_json_option(parser)
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = open_store(args)
    with read_session(engine) as session:
        studies = list_studies(session)
    engine.dispose()
    if args.json:
        print_json(
            [
                {
                    "name": study.name,
                    "state": study.state,
                    "metric": study.metric,
                    "mode": study.mode,
                    "n_trials": n_trials,
                    "created_at": json_time(study.created_at),
                    "updated_at": json_time(study.updated_at),
                    "finished_at": json_time(study.finished_at),
                }
                for study, n_trials in studies
            ]
        )
    elif not studies:
        print("no studies yet")
    else:
        headers = ["NAME", "STATE", "METRIC", "MODE", "TRIALS", "CREATED (UTC)"]
        cells = [
            [s.name, s.state, s.metric, s.mode, n, text_time(s.created_at)] for s, n in studies
        ]
        print(format_table(headers, cells))
    return 0
