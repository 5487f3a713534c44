"""``slurmhpo check STUDY.toml`` and ``slurmhpo run STUDY.toml|NAME``.

``check`` validates a study file and writes nothing. ``run`` registers the study (or finds the
same study already registered), then drives it in the foreground until it finishes: it is the
single-study controller. SIGTERM or Ctrl-C stops the controller cleanly; the study's jobs keep
running and ``slurmhpo run NAME`` later re-adopts them. A brand-new database is created on the
way; an out-of-date one is refused with the command that upgrades it.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slurmhpo.cli.common import add_db_option, text_config, text_value
from slurmhpo.controller.build import build_controller
from slurmhpo.controller.segments import trial_command
from slurmhpo.controller.studies import (
    check_backend_available,
    missing_script,
    register_study,
    resolve_paths,
)
from slurmhpo.errors import SlurmhpoError
from slurmhpo.states import StudyState
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.migrate import ensure_schema
from slurmhpo.store.pareto_front import is_multi_objective, pareto_front
from slurmhpo.store.queries import best_trial, get_study
from slurmhpo.study import StudySpec, load_study

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("slurmhpo")


def register(subparsers: Any) -> None:
    check = subparsers.add_parser("check", help="validate a study file (writes nothing)")
    check.add_argument("study_file", metavar="STUDY.toml")
    check.set_defaults(handler=run_check)

    run = subparsers.add_parser("run", help="run a study in the foreground until it ends")
    run.add_argument("target", metavar="STUDY.toml|NAME", help="a study file, or a stored study")
    run.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between controller cycles (default 5)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    add_db_option(run)
    run.set_defaults(handler=run_study)


def run_check(args: argparse.Namespace) -> int:
    """Validate, then show what the jobs will run, resolved as `run` would store it."""
    spec = resolve_paths(load_study(args.study_file))
    print(
        f"{args.study_file}: study {spec.name!r} is valid "
        f"({len(spec.space.names)} hyperparameters, scheduler {spec.scheduler['type']})"
    )
    print(f"  jobs run: {shlex.join(trial_command(spec))}")
    print(f"  in:       {spec.trial.workdir}")
    warning = missing_script(spec)
    if warning:
        print(f"slurmhpo: warning: {warning}", file=sys.stderr)
    return 0


def run_study(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema chatter is not progress
    file_spec = load_study(args.target) if _is_file(args.target) else None
    if file_spec is not None:
        check_backend_available(file_spec)
        file_spec = resolve_paths(file_spec)
        warning = missing_script(file_spec)
        if warning:
            log.warning("%s", warning)
    engine = make_engine(args.db)
    ensure_schema(engine)
    spec = register_study(engine, file_spec) if file_spec else _stored(engine, args.target)
    controller = build_controller(engine, spec.name, poll_interval=args.poll_interval)
    previous = {
        sig: signal.signal(sig, lambda *_: controller.request_stop())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        outcome = controller.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if outcome == StudyState.CANCELLED:
        print(f"study {spec.name!r} was cancelled")
        return 0
    if outcome == StudyState.FAILED:
        raise SlurmhpoError(f"study {spec.name!r} failed: {controller.failure}")
    if outcome != StudyState.FINISHED:
        print(f"controller stopped; study {spec.name!r} goes on: slurmhpo run {spec.name}")
        return 0
    _print_best(engine, spec.name)
    return 0


def _is_file(target: str) -> bool:
    return target.endswith(".toml") or Path(target).is_file()


def _stored(engine: Engine, name: str) -> StudySpec:
    with read_session(engine) as session:
        return StudySpec.from_dict(get_study(session, name).spec)


def _print_best(engine: Engine, name: str) -> None:
    with read_session(engine) as session:
        study = get_study(session, name)
        if is_multi_objective(study):  # no single best: the front's size and where to see it
            front = pareto_front(session, study)
            print(
                f"study {name!r} finished; Pareto front: {len(front)} trial(s) "
                f"(see: slurmhpo best {name})"
            )
            return
        best = best_trial(session, study)
    if best is None:
        print(f"study {name!r} finished without any observation")
        return
    print(
        f"study {name!r} finished; best trial {best.trial.number}: "
        f"{study.metric} = {text_value(best.value)} at {best.resource}"
    )
    print(f"  config: {text_config(best.trial.config)}")
