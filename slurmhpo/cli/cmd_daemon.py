"""``slurmhpo daemon``: drive every active study of a database from one long-lived process.

Studies are added with ``slurmhpo submit STUDY.toml`` and operated with ``slurmhpo pause``
and friends; several daemons (say, on two login nodes) may share one database: each study is
driven by one of them at a time (per-study leases). SIGTERM or Ctrl-C stops the daemon
cleanly: leases are released at once and jobs keep running. ``--log-file`` writes a rotating
log (10 MB x 5 files) instead of stderr; ``--print-systemd-unit`` prints a systemd user unit
that runs this daemon (install it under ~/.config/systemd/user/).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from slurmhpo.cli.common import add_db_option
from slurmhpo.controller.daemon import Daemon, DaemonOptions
from slurmhpo.errors import ConfigError
from slurmhpo.store.db import make_engine, resolve_url
from slurmhpo.store.migrate import ensure_schema

LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("daemon", help="drive every active study of the database")
    parser.add_argument(
        "--poll-interval", type=float, default=5.0, metavar="S", help="seconds between rounds"
    )
    parser.add_argument(
        "--lease-ttl",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds a study's lease outlives a missed heartbeat before another daemon may "
        "take the study over (default 60)",
    )
    parser.add_argument(
        "--max-acting-studies",
        type=int,
        default=8,
        metavar="N",
        help="studies that may submit or cancel jobs in one round; the others wait a round "
        "(bounds the Slurm commands per round; default 8)",
    )
    parser.add_argument("--log-file", metavar="PATH", help="rotating log file (default stderr)")
    parser.add_argument(
        "--exit-when-idle", action="store_true", help="exit once no study is left to drive"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    parser.add_argument(
        "--print-systemd-unit",
        action="store_true",
        help="print a systemd user unit running this daemon, and exit",
    )
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for name in ("poll_interval", "lease_ttl"):
        if getattr(args, name) <= 0:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(flag, f"{getattr(args, name)} is not a positive number")
    if args.max_acting_studies < 1:
        raise ConfigError(
            "--max-acting-studies", f"{args.max_acting_studies} is less than 1", "use 1 or more"
        )
    if args.lease_ttl <= args.poll_interval:
        raise ConfigError(
            "--lease-ttl",
            f"{args.lease_ttl} s is not longer than the poll interval ({args.poll_interval} s)",
            "use a lease several times the poll interval, or leases lapse between rounds",
        )
    if args.print_systemd_unit:
        print(systemd_unit(args), end="")
        return 0
    _configure_logging(args.log_file, args.quiet)
    engine = make_engine(args.db)
    ensure_schema(engine)
    options = DaemonOptions(
        poll_interval=args.poll_interval,
        lease_ttl=args.lease_ttl,
        retry_after=max(60.0, 10 * args.poll_interval),
        exit_when_idle=args.exit_when_idle,
        max_acting_studies=args.max_acting_studies,
    )
    daemon = Daemon(engine, options)
    previous = {
        sig: signal.signal(sig, lambda *_: daemon.request_stop())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        daemon.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.dispose()
    return 0


def _configure_logging(log_file: str | None, quiet: bool) -> None:
    handler: logging.Handler
    if log_file:
        path = Path(log_file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger("slurmhpo")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)


def systemd_unit(args: argparse.Namespace) -> str:
    """A systemd user unit whose ExecStart repeats this command line with absolute paths.

    A password in the URL is left out (a unit file is world-readable): keep it in ~/.pgpass.
    """
    url = resolve_url(args.db)
    exe = shutil.which("slurmhpo")
    command = [str(Path(exe).resolve())] if exe else [sys.executable, "-m", "slurmhpo.cli.main"]
    command += ["daemon", "--db", url.set(password=None).render_as_string(hide_password=False)]
    command += ["--poll-interval", f"{args.poll_interval:g}", "--lease-ttl", f"{args.lease_ttl:g}"]
    command += ["--max-acting-studies", str(args.max_acting_studies)]
    if args.log_file:
        command += ["--log-file", str(Path(args.log_file).expanduser().resolve())]
    return "\n".join(
        [
            "[Unit]",
            "Description=slurmhpo daemon: drives every active study of its database",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={shlex.join(command)}",
            "Restart=on-failure",
            "RestartSec=30",
            "KillSignal=SIGTERM",
            "TimeoutStopSec=120",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ]
    )
