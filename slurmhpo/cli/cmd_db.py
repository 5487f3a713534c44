"""``slurmhpo db upgrade`` and ``slurmhpo db current``: create and inspect the schema.

``db upgrade`` is the only command that creates a database (a SQLite file private to the
user) and the only one that changes the schema; it prints the revision the database is at.
``db current`` never writes; it prints the revision and how it relates to this slurmhpo.
"""

from __future__ import annotations

import argparse
from typing import Any

from slurmhpo.cli.common import add_db_option
from slurmhpo.store.db import display_url, make_engine
from slurmhpo.store.migrate import schema_status, upgrade


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="create, upgrade and inspect the database schema")
    commands = parser.add_subparsers(dest="db_command", metavar="{upgrade,current}")
    commands.required = True
    up = commands.add_parser("upgrade", help="create the database if needed, upgrade to head")
    add_db_option(up)
    up.set_defaults(handler=run_upgrade)
    current = commands.add_parser("current", help="print the schema revision (never writes)")
    add_db_option(current)
    current.set_defaults(handler=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    engine = make_engine(args.db)
    try:
        revision = upgrade(engine)
    finally:
        engine.dispose()
    print(f"database at {display_url(engine.url)} is at revision {revision} (head)")
    return 0


def run_current(args: argparse.Namespace) -> int:
    engine = make_engine(args.db, readonly=True)
    try:
        status = schema_status(engine)
    finally:
        engine.dispose()
    where = display_url(engine.url)
    if status.up_to_date:
        note = "(head)"
    elif status.current is None:
        note = f"(no slurmhpo schema; run: slurmhpo db upgrade --db {where})"
    elif not status.known:
        note = "(unknown to this slurmhpo: a newer slurmhpo wrote it; upgrade slurmhpo)"
    else:
        note = f"(head is {status.head}; run: slurmhpo db upgrade --db {where})"
    print(f"{status.current or 'none'} {note}")
    return 0
