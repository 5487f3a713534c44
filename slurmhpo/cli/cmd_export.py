"""``slurmhpo export STUDY --format csv|json [-o FILE]``: every observation, for analysis.

One row per observation, ordered by trial number then resource. Columns (CSV) / keys (JSON):
``trial``, ``state`` (the trial's), ``bracket``, ``resource``, ``value``, ``reported_at``,
then the trial's config and the whole metrics record. CSV flattens those into columns
``config.NAME`` and ``metrics.NAME`` (the union over all rows, sorted; empty when a row lacks
one); JSON keeps them as objects under ``config`` and ``metrics``. Values follow the JSON
conventions of ``slurmhpo.cli.common``; in CSV non-finite values are ``nan``/``inf``/``-inf``.
Writes to stdout unless ``-o FILE`` is given.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from slurmhpo.cli.common import add_db_option, json_time, json_value, open_store
from slurmhpo.errors import ConfigError
from slurmhpo.store import queries as q
from slurmhpo.store.db import read_session

FIXED_COLUMNS = ["trial", "state", "bracket", "resource", "value", "reported_at"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("export", help="export every observation of a study")
    parser.add_argument("study", metavar="STUDY")
    parser.add_argument("--format", choices=("csv", "json"), required=True)
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    add_db_option(parser)
    parser.set_defaults(handler=run)


def export_rows(engine: Any, study_name: str) -> list[dict[str, Any]]:
    """One dict per observation, with the trial's config and the metrics record."""
    with read_session(engine) as session:
        study = q.get_study(session, study_name)
        return [
            {
                "trial": trial.number,
                "state": trial.state,
                "bracket": trial.bracket,
                "resource": obs.resource,
                "value": json_value(obs.objective),
                "reported_at": json_time(obs.reported_at),
                "config": trial.config,
                "metrics": obs.metrics,
            }
            for trial, obs in q.study_observations(session, study)
        ]


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text with fixed columns, then ``config.*`` and ``metrics.*`` columns."""
    config_keys = sorted({k for r in rows for k in r["config"]})
    metric_keys = sorted({k for r in rows for k in r["metrics"]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        FIXED_COLUMNS + [f"config.{k}" for k in config_keys] + [f"metrics.{k}" for k in metric_keys]
    )
    for r in rows:
        writer.writerow(
            [_cell(r[c]) for c in FIXED_COLUMNS]
            + [_cell(r["config"].get(k)) for k in config_keys]
            + [_cell(r["metrics"].get(k)) for k in metric_keys]
        )
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def run(args: argparse.Namespace) -> int:
    engine = open_store(args)
    rows = export_rows(engine, args.study)
    engine.dispose()
    if args.format == "csv":
        text = to_csv(rows)
    else:
        text = json.dumps(rows, sort_keys=True, allow_nan=False) + "\n"
    if args.output is None:
        print(text, end="")
        return 0
    try:
        Path(args.output).write_text(text)
    except OSError as exc:
        raise ConfigError(
            "-o", f"cannot write {args.output}: {exc.strerror}", "pick a writable path"
        ) from None
    return 0
