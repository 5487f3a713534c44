"""What every command shares: the --db option, opening the store, rendering values.

JSON conventions for every ``--json`` output: timestamps are ISO 8601 strings in UTC
(``2026-11-23T11:28:52.123456+00:00``); an objective value is a JSON number, or the string
``"nan"``, ``"inf"`` or ``"-inf"``, or null when there is none; config and metrics objects are
as stored (non-finite numbers inside them appear as "NaN", "Infinity", "-Infinity").
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slurmhpo.store.db import make_engine
from slurmhpo.store.migrate import check_schema

# re-exported: every command renders JSON values and times through these
from slurmhpo.views.encode import json_time as json_time
from slurmhpo.views.encode import json_value as json_value

if TYPE_CHECKING:
    from sqlalchemy import Engine

DB_HELP = (
    "database URL (sqlite:///PATH or postgresql+psycopg://USER@HOST/DB); "
    "default: $SLURMHPO_DB, else a per-user SQLite file"
)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """Accept --db on a subcommand; SUPPRESS keeps a --db given before the subcommand."""
    parser.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=DB_HELP)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for programs")


def open_store(args: argparse.Namespace) -> Engine:
    """A read-only engine on a database at this slurmhpo's schema, or a SchemaError."""
    engine = make_engine(args.db, readonly=True)
    check_schema(engine)
    return engine


def text_value(value: float | None) -> str:
    """An objective for tables: 6 significant digits, nan/inf spelled out, "-" for none."""
    return "-" if value is None else f"{value:.6g}"


def text_time(when: datetime | None) -> str:
    return "-" if when is None else when.strftime("%Y-%m-%d %H:%M:%S")


def text_config(config: dict[str, Any]) -> str:
    """A config on one line: ``lr=0.01 layers=2``."""
    return " ".join(f"{key}={_short(value)}" for key, value in config.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def print_json(data: Any) -> None:
    """Stable, parseable JSON: sorted keys, strict (no NaN tokens), one trailing newline."""
    sys.stdout.write(json.dumps(data, sort_keys=True, allow_nan=False) + "\n")
