"""``slurmhpo dashboard [--host 127.0.0.1] [--port 8765] [--token T]``: the read-only web UI.

Needs the ``dashboard`` extra; without it the command exits 2 naming
``pip install "slurmhpo[dashboard]"``. It binds the loopback address unless told otherwise;
any other address needs a token (``--token`` or ``$SLURMHPO_DASHBOARD_TOKEN``), or it exits
2 naming the fix. The database is opened read-only (SQLite ``mode=ro``, PostgreSQL
``default_transaction_read_only``) and shown with its password hidden. What the pages show
and the JSON endpoints: :mod:`slurmhpo.dashboard`, docs/quickstart.md and docs/cli.md.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from slurmhpo.cli.common import add_db_option
from slurmhpo.dashboard import require_extra
from slurmhpo.dashboard.access import TOKEN_ENV
from slurmhpo.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dashboard", help="serve a read-only web UI of the studies (needs slurmhpo[dashboard])"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument(
        "--token",
        default=None,
        help=f"required for a non-loopback --host (default: ${TOKEN_ENV}); every request "
        "must then carry it",
    )
    parser.add_argument(
        "--poll", type=float, default=2.0, metavar="S", help="seconds between page refresh checks"
    )
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_extra()
    if args.poll <= 0:
        raise ConfigError("--poll", f"{args.poll} is not a positive number", "use 2")
    if not 0 <= args.port <= 65535:
        raise ConfigError("--port", f"{args.port} is not a port", "use 8765")
    from slurmhpo.dashboard.server import serve

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    return serve(args.db, args.host, args.port, token, args.poll)
