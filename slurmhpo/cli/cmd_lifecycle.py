"""``slurmhpo submit | pause | resume | stop | cancel | extend``: operate studies.

``submit STUDY.toml`` validates the file (exit 2 and nothing written if it is bad), registers
the study and returns at once: ``slurmhpo daemon`` (or ``slurmhpo run NAME``) drives it.

The others queue a command in the database and return; the controller holding the study's
lease applies it at the start of its next cycle and acknowledges it (see
:mod:`slurmhpo.controller.commands`, and ``slurmhpo status STUDY`` for the result). With
``--wait S`` the command waits up to S seconds for that acknowledgement and exits 1 if it
does not come (or the study ends first, leaving it unapplied). A study that does not exist
or has already ended is refused with exit 1.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from slurmhpo.cli.common import add_db_option, open_store
from slurmhpo.controller.commands import BUDGET_KEYS, ENDED_STUDY_STATES, raised_budget
from slurmhpo.controller.studies import register_study, resolve_paths
from slurmhpo.errors import ConfigError, SlurmhpoError
from slurmhpo.store.commands import add_command, get_command
from slurmhpo.store.db import make_engine, read_session, write_session
from slurmhpo.store.leases import current_lease
from slurmhpo.store.migrate import ensure_schema
from slurmhpo.store.queries import get_study
from slurmhpo.study import load_study

if TYPE_CHECKING:
    from sqlalchemy import Engine

HELP = {
    "pause": "start no new trials or segments; running jobs go on",
    "resume": "undo pause (or stop): start new work again",
    "stop": "start nothing new; let running segments finish, then end the study",
    "cancel": "cancel every job of the study now and end it as cancelled",
    "extend": "raise the study's budget limits",
}


class CommandRefused(SlurmhpoError):
    """The command cannot apply to this study (it has ended)."""


def register(subparsers: Any) -> None:
    submit = subparsers.add_parser("submit", help="register a study for `slurmhpo daemon`")
    submit.add_argument("study_file", metavar="STUDY.toml")
    add_db_option(submit)
    submit.set_defaults(handler=run_submit)
    for kind, text in HELP.items():
        parser = subparsers.add_parser(kind, help=text, description=text)
        parser.add_argument("study", metavar="STUDY", help="the study's name")
        if kind == "extend":
            parser.add_argument("--max-trials", type=int, metavar="N")
            parser.add_argument("--max-gpu-hours", type=float, metavar="H")
            parser.add_argument("--max-wall-hours", type=float, metavar="W")
        parser.add_argument(
            "--wait",
            type=float,
            default=None,
            metavar="S",
            help="wait up to S seconds until the controller has applied it",
        )
        add_db_option(parser)
        parser.set_defaults(handler=run_command, kind=kind)


def run_submit(args: argparse.Namespace) -> int:
    spec = load_study(args.study_file)  # before any database is touched: bad file, no write
    engine = make_engine(args.db)
    try:
        ensure_schema(engine)
        stored = register_study(engine, resolve_paths(spec))
    finally:
        engine.dispose()
    print(stored.name)
    return 0


def run_command(args: argparse.Namespace) -> int:
    command_args = _extend_args(args) if args.kind == "extend" else {}
    open_store(args).dispose()  # refuse a missing or out-of-date database before writing
    engine = make_engine(args.db)
    try:
        command_id, driven = _queue(engine, args.study, args.kind, command_args)
        print(f"{args.kind} of study {args.study!r} queued as command {command_id}")
        if not driven:
            print(
                "no controller drives this study now: it applies when one starts "
                f"(slurmhpo run {args.study}, or slurmhpo daemon)"
            )
        if args.wait is None:
            return 0
        applied, result = _wait(engine, args.study, command_id, args.wait)
    finally:
        engine.dispose()
    if not applied:
        print(f"{result}; see: slurmhpo status {args.study}")
        return 1
    print(f"applied: {result}")
    return 0


def _extend_args(args: argparse.Namespace) -> dict[str, Any]:
    values = {key: getattr(args, key) for key in BUDGET_KEYS if getattr(args, key) is not None}
    if not values:
        raise ConfigError(
            "extend", "no limit given", "pass --max-trials, --max-gpu-hours or --max-wall-hours"
        )
    return values


def _queue(engine: Engine, name: str, kind: str, args: dict[str, Any]) -> tuple[int, bool]:
    """Insert the command row; returns its id and whether a live controller holds the study."""
    with write_session(engine) as session:
        study = get_study(session, name)
        if study.state in ENDED_STUDY_STATES:
            raise CommandRefused(
                f"study {name!r} is already {study.state}: nothing to {kind} "
                "(see: slurmhpo studies)"
            )
        if kind == "extend":
            _, changes = raised_budget(study.spec, args)  # bad values: ConfigError, exit 2
            if not any("->" in change for change in changes):
                raise ConfigError(
                    "extend",
                    f"no limit of study {name!r} would rise ({'; '.join(changes) or 'no change'})",
                    f"give limits above the current ones (see: slurmhpo status {name})",
                )
        command = add_command(session, study, kind, args)
        lease = current_lease(session, study.id)
    return command.id, bool(lease and lease[1])


def _wait(engine: Engine, name: str, command_id: int, timeout: float) -> tuple[bool, str]:
    """(True, the result) once the command is applied; (False, why) if the study ended first
    (a controller finishing in the same cycle never reads it) or ``timeout`` s passed."""
    deadline = time.monotonic() + timeout
    while True:
        with read_session(engine) as session:
            command = get_command(session, command_id)
            state = get_study(session, name).state
        if command.applied_at is not None:
            return True, command.result or "applied"
        if state in ENDED_STUDY_STATES:
            return False, f"the study became {state} before the command applied"
        if time.monotonic() >= deadline:
            return False, f"not applied within {timeout:g} s"
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
