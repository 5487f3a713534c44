"""``slurmhpo submit-controller STUDY.toml|NAME``: run the controller as a Slurm job chain.

Given a file, it is validated first (a bad file exits 2 and writes nothing), then registered
(or found already registered). Then the controller itself is submitted as a CPU-only Slurm
job named ``shpo-ctl-<study>``; its job id is printed on stdout and the command returns. The
job drives the study and, before its time limit, hands over to a successor job (see
:mod:`slurmhpo.controller.handover`); ``slurmhpo status NAME`` shows the driving job in the
lease owner (``slurm:<job id>@host:pid:uuid``).

Options default to the study's ``[slurm]`` table: ``--partition`` and ``--account`` as the
trials use them, ``--time-min`` the trials' ``time_min``; ``--handover-min`` (minutes before
the limit at which a job hands over, fractions allowed) defaults to min(5, time-min / 4).

Idempotent: if a controller job of the study is already queued or running, its id is printed
and nothing is submitted (stop a chain with ``scancel --name shpo-ctl-<study>``). An ended
study is refused (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from slurmhpo.cli.common import add_db_option
from slurmhpo.controller.commands import ENDED_STUDY_STATES
from slurmhpo.controller.sbatch_controller import (
    ControllerJob,
    SlurmQueue,
    controller_job_for,
    log_folder,
)
from slurmhpo.controller.studies import register_study, resolve_paths
from slurmhpo.errors import SlurmhpoError
from slurmhpo.store.db import make_engine, read_session, resolve_url, sqlite_path
from slurmhpo.store.migrate import ensure_schema
from slurmhpo.store.queries import get_study
from slurmhpo.study import StudySpec, load_study


class StudyEnded(SlurmhpoError):
    """The study is over: there is nothing for a controller to drive."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "submit-controller", help="run a study's controller as a chain of Slurm jobs"
    )
    parser.add_argument("target", metavar="STUDY.toml|NAME", help="a study file, or a stored study")
    parser.add_argument("--partition", metavar="P", help="default: the study's slurm.partition")
    parser.add_argument(
        "--time-min", type=int, metavar="M", help="job time limit; default: slurm.time_min"
    )
    parser.add_argument("--account", metavar="A", help="default: the study's slurm.account")
    parser.add_argument(
        "--handover-min",
        type=float,
        metavar="H",
        help="hand over H minutes before the limit; default min(5, M/4)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=5.0, metavar="S", help="seconds between cycles"
    )
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    is_file = args.target.endswith(".toml") or Path(args.target).is_file()
    file_spec = resolve_paths(load_study(args.target)) if is_file else None  # no write if bad
    db_url = _job_db_url(args.db)
    if file_spec is not None:
        _job_for(file_spec, db_url, args)  # bad options: exit 2 before anything is written
    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        spec = register_study(engine, file_spec) if file_spec else _stored(engine, args.target)
        with read_session(engine) as session:
            state = get_study(session, spec.name).state
    finally:
        engine.dispose()
    if state in ENDED_STUDY_STATES:
        raise StudyEnded(f"study {spec.name!r} is already {state}: nothing to drive")
    job = _job_for(spec, db_url, args)
    queue = SlurmQueue()
    queued = queue.queued(spec.name)
    if queued is None:
        raise SlurmhpoError("squeue failed, so a running chain cannot be ruled out; retry")
    if queued:
        ids = ", ".join(f"{q.job_id} ({q.state})" for q in queued)
        print(f"study {spec.name!r} already has controller job(s): {ids}", file=sys.stderr)
        print(queued[0].job_id)
        return 0
    job_id = queue.submit(job)
    print(job_id)
    print(
        f"controller job {job_id} ({job.name}, {job.time_min} min, hands over "
        f"{job.handover_min:g} min before its limit); logs: {log_folder(job)}",
        file=sys.stderr,
    )
    return 0


def _job_for(spec: StudySpec, db_url: str, args: argparse.Namespace) -> ControllerJob:
    return controller_job_for(
        spec,
        db_url,
        partition=args.partition,
        time_min=args.time_min,
        account=args.account,
        handover_min=args.handover_min,
        poll_interval=args.poll_interval,
    )


def _job_db_url(db: str | None) -> str:
    """The URL the job will use: this one, with a SQLite path made absolute (the job's
    working directory may differ)."""
    url = resolve_url(db)
    path = sqlite_path(url)
    if path is not None:
        url = url.set(database=str(path.resolve()))
    return url.render_as_string(hide_password=False)


def _stored(engine: Any, name: str) -> StudySpec:
    with read_session(engine) as session:
        return StudySpec.from_dict(get_study(session, name).spec)
