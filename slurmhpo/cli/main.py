"""The ``slurmhpo`` command line: parser assembly and error-to-exit-code mapping.

Each command lives in a module with ``register(subparsers)``, which adds its parser and sets
``handler`` (a function taking the parsed namespace and returning an exit code). To add a
command, write such a module and list it in :data:`COMMAND_MODULES`.

``--db URL`` is accepted before or after the subcommand. Errors slurmhpo raises on purpose
print ``slurmhpo: error: MESSAGE`` on stderr and exit with the error's code (1 general,
2 bad input, 3 schema); usage errors exit 2 as argparse does.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from slurmhpo import __version__
from slurmhpo.cli import (
    cmd_bench,
    cmd_bench_pareto,
    cmd_daemon,
    cmd_dashboard,
    cmd_db,
    cmd_export,
    cmd_lifecycle,
    cmd_plot,
    cmd_run,
    cmd_status,
    cmd_studies,
    cmd_submit_controller,
    cmd_trials,
)
from slurmhpo.cli.common import DB_HELP
from slurmhpo.errors import SlurmhpoError

COMMAND_MODULES: list[ModuleType] = [
    cmd_db,
    cmd_studies,
    cmd_trials,
    cmd_export,
    cmd_run,
    cmd_bench,
    cmd_bench_pareto,
    cmd_status,
    cmd_lifecycle,
    cmd_daemon,
    cmd_submit_controller,
    cmd_plot,
    cmd_dashboard,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slurmhpo",
        description="Slurm-native hyperparameter optimization: inspect and operate studies.",
    )
    parser.add_argument("--version", action="version", version=f"slurmhpo {__version__}")
    parser.add_argument("--db", metavar="URL", default=None, help=DB_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script passes it to sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.handler(args))
    except SlurmhpoError as exc:
        print(f"slurmhpo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. `slurmhpo export ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
