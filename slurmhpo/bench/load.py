"""``python -m slurmhpo.bench.load``: the controller under load, beside Optuna's RDB storage.

    python -m slurmhpo.bench.load --trials 1000 --rate 1 --seconds 60 \\
        --db sqlite:////tmp/load.db --json load.json

Two phases in one run, on one machine, on the same kind of database:

1. slurmhpo: ``--trials`` trials run at once, each appending a metric line ``--rate`` times
   per second (writer processes), while the real controller ingests them and decides with
   ASHA for ``--seconds`` after its first cycle (:mod:`slurmhpo.bench.load_controller`).
2. Optuna: the same number of reports through ``trial.report`` + ``trial.should_prune`` on
   Optuna's RDB storage with its ASHA pruner, the same number of trials open at once
   (:mod:`slurmhpo.bench.load_optuna`), for at most ``--optuna-seconds``.

``--db`` says WHERE: each phase gets a new database there (a new SQLite file beside the given
path, or a new database on the given PostgreSQL server), removed at the end unless
``--keep-db``. The result goes to ``--json``; a side-by-side table goes to stdout and
progress to stderr. Bad flags exit with code 2 and a message naming the flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from slurmhpo.bench.harness import scratch_dir
from slurmhpo.bench.load_controller import ControllerSide, LoadSettings, drive_controller
from slurmhpo.bench.load_optuna import OptunaResult, drive_optuna
from slurmhpo.bench.load_stats import per, summary
from slurmhpo.errors import ConfigError, SlurmhpoError
from slurmhpo.store.db import resolve_url
from slurmhpo.store.scratch import scratch_database


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m slurmhpo.bench.load",
        description="Controller load benchmark: N trials writing metric lines, the real "
        "controller deciding with ASHA, and Optuna's RDB storage doing the same reports.",
    )
    p.add_argument("--trials", type=int, required=True, help="trials running at once")
    p.add_argument("--rate", type=float, required=True, help="metric lines per second per trial")
    p.add_argument(
        "--seconds",
        type=float,
        required=True,
        help="how long the controller runs after its first cycle (the initial fill)",
    )
    p.add_argument(
        "--db",
        required=True,
        help="where: sqlite:///PATH (new files beside PATH) or postgresql+psycopg://USER@HOST/DB "
        "(new databases on that server)",
    )
    p.add_argument("--json", required=True, metavar="FILE", help="write the results here")
    p.add_argument("--writers", type=int, default=2, help="writer processes (default 2)")
    p.add_argument(
        "--poll-interval", type=float, default=1.0, help="controller sleep between cycles, s"
    )
    p.add_argument("--max-resource", type=int, default=27, help="epochs of a full trial")
    p.add_argument(
        "--optuna-seconds",
        type=float,
        default=None,
        help="time limit of the Optuna phase (default: --seconds)",
    )
    p.add_argument("--runs-dir", default=None, help="folder for metric files (default: RAM)")
    p.add_argument(
        "--profile", default=None, metavar="FILE", help="write cProfile stats of the cycles"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-db", action="store_true", help="keep the benchmark's databases")
    return p


def validate(args: argparse.Namespace) -> None:
    """ConfigError naming the flag for any value the benchmark cannot run with."""
    positive = {
        "--trials": args.trials,
        "--rate": args.rate,
        "--seconds": args.seconds,
        "--writers": args.writers,
    }
    for flag, value in positive.items():
        if not value > 0:
            raise ConfigError(flag, f"must be > 0, got {value!r}")
    if args.poll_interval < 0:
        raise ConfigError("--poll-interval", f"must be >= 0, got {args.poll_interval!r}")
    if args.max_resource < 2:
        raise ConfigError("--max-resource", f"must be >= 2, got {args.max_resource!r}")
    if args.optuna_seconds is not None and args.optuna_seconds < 0:
        raise ConfigError("--optuna-seconds", f"must be >= 0, got {args.optuna_seconds!r}")
    if not Path(args.json).resolve().parent.is_dir():
        raise ConfigError("--json", f"the folder of {args.json} does not exist", "create it")
    if args.profile is not None and not Path(args.profile).resolve().parent.is_dir():
        raise ConfigError("--profile", f"the folder of {args.profile} does not exist", "create it")
    if args.runs_dir is not None and not Path(args.runs_dir).is_dir():
        raise ConfigError("--runs-dir", f"{args.runs_dir} is not a folder", "create it")
    resolve_url(args.db)  # ConfigError("--db", ...) for an unparsable URL
    if importlib.util.find_spec("optuna") is None:  # before the first phase, not after it
        raise SlurmhpoError("optuna is missing; install the extra: pip install 'slurmhpo[bench]'")


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = LoadSettings(
        trials=args.trials,
        rate=args.rate,
        seconds=args.seconds,
        writers=args.writers,
        poll_interval=args.poll_interval,
        max_resource=args.max_resource,
        seed=args.seed,
        profile=None if args.profile is None else Path(args.profile),
    )
    load_before = os.getloadavg()
    note(f"slurmhpo: {args.trials} trials at {args.rate} Hz for {args.seconds} s")
    with (
        scratch_database(args.db, "slurmhpo_load", keep=args.keep_db) as url,
        tempfile.TemporaryDirectory(
            prefix="slurmhpo-load-", dir=args.runs_dir or scratch_dir()
        ) as runs,
    ):
        ours = drive_controller(url, Path(runs), settings)
    load_between = os.getloadavg()
    partial = {"settings": dataclasses.asdict(settings), "optuna": "not run yet"}
    write_json(args.json, {**partial, "slurmhpo": slurmhpo_part(ours)})  # kept if phase 2 fails
    limit = args.seconds if args.optuna_seconds is None else args.optuna_seconds
    note(f"optuna: {ours.reports} reports, {args.trials} open trials, at most {limit} s")
    with scratch_database(args.db, "optuna_load", keep=args.keep_db) as url:
        theirs = drive_optuna(
            url,
            trials=args.trials,
            reports=ours.reports,
            max_resource=args.max_resource,
            seconds=limit,
            seed=args.seed,
        )
    return result(args, settings, ours, theirs, [load_before, load_between, os.getloadavg()])


def slurmhpo_part(ours: ControllerSide) -> dict[str, Any]:
    """What the controller phase measured, JSON-ready."""
    cycles = ours.cycles
    cpu = sum(c.cpu for c in cycles)
    lat = ours.latencies
    return {
        "reports": ours.reports,
        "decisions": ours.decisions,
        "wall_seconds": ours.wall_seconds,
        "cycles": len(cycles),
        "write_to_decision_s": summary(lat.seconds),
        "commit_time_source": {
            "commit_hook": lat.from_commit_hook,
            "cycle_end_bound": lat.from_cycle_end,
            "unmatched": lat.results_without_line,
        },
        "cycle_wall_s": summary([c.wall for c in cycles]),
        "cycle_cpu_s": summary([c.cpu for c in cycles]),
        "first_cycle": {"wall_s": cycles[0].wall, "cpu_s": cycles[0].cpu} if cycles else None,
        "cores_used": per(cpu, ours.wall_seconds),
        "cores_used_in_cycles": per(cpu, sum(c.wall for c in cycles)),
        "transactions_per_cycle": summary([c.store.transactions for c in cycles]),
        "commits_per_cycle": summary([c.store.commits for c in cycles]),
        "statements_per_cycle": summary([c.store.statements for c in cycles]),
        "statements_per_cycle_by_kind": {
            kind: count / len(cycles) for kind, count in ours.kinds.most_common()
        },
        "db_seconds_per_cycle": summary([c.store.db_seconds for c in cycles]),
        "db_seconds_per_report": per(sum(c.store.db_seconds for c in cycles), ours.reports),
        "cpu_seconds_per_report": per(cpu, ours.reports),
        "statements_per_report": per(sum(c.store.statements for c in cycles), ours.reports),
        "jobs": {
            "submitted": ours.jobs_submitted,
            "cancelled": ours.jobs_cancelled,
            "completed": ours.jobs_completed,
        },
        "writers": [dataclasses.asdict(w) for w in ours.writers],
    }


def result(
    args: argparse.Namespace,
    settings: LoadSettings,
    ours: ControllerSide,
    theirs: OptunaResult,
    loads: list[tuple[float, float, float]],
) -> dict[str, Any]:
    """Everything the run measured, as one JSON-ready dict."""
    return {
        "settings": {
            **dataclasses.asdict(settings),
            "profile": args.profile,
            "db": ours.server_version,
        },
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite_library": sqlite3.sqlite_version,
            "loadavg_start_mid_end": loads,
            "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "slurmhpo": slurmhpo_part(ours),
        "optuna": {
            **dataclasses.asdict(theirs),
            "db_seconds_per_report": per(theirs.db_seconds, theirs.reports),
            "cpu_seconds_per_report": per(theirs.cpu_seconds, theirs.reports),
            "wall_seconds_per_report": per(theirs.wall_seconds, theirs.reports),
            "statements_per_report": per(theirs.statements, theirs.reports),
        },
    }


def table(data: dict[str, Any]) -> str:
    """The side-by-side comparison people read (the JSON has everything)."""
    ours, theirs = data["slurmhpo"], data["optuna"]
    lat = ours["write_to_decision_s"]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1e3:.3f} ms"

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    late = " (stopped by time)" if theirs["stopped_by_time"] else ""
    rows = [("", "slurmhpo controller", f"optuna {theirs['version']} RDBStorage")]
    rows.append(
        ("trials open at once", str(data["settings"]["trials"]), str(theirs["open_trials"]))
    )
    rows.append(("reports", str(ours["reports"]), f"{theirs['reports']}{late}"))
    for label, key, show in (
        ("DB driver time / report", "db_seconds_per_report", ms),
        ("CPU / report", "cpu_seconds_per_report", ms),
        ("SQL statements / report", "statements_per_report", share),
    ):
        rows.append((label, show(ours[key]), show(theirs[key])))
    for label, value in (
        ("write-to-decision p50", ms(lat["p50"])),
        ("write-to-decision p95", ms(lat["p95"])),
        ("write-to-decision p99", ms(lat["p99"])),
        ("controller CPU / cycle p50", ms(ours["cycle_cpu_s"]["p50"])),
        ("controller CPU / cycle p95", ms(ours["cycle_cpu_s"]["p95"])),
        ("cycle wall p50", ms(ours["cycle_wall_s"]["p50"])),
        ("cycle wall p95", ms(ours["cycle_wall_s"]["p95"])),
        ("controller cores used", share(ours["cores_used"])),
    ):
        rows.append((label, value, "-"))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b:>24}  {c:>30}" for a, b, c in rows)


def write_json(path: str, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        validate(args)
        data = run(args)
    except SlurmhpoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    write_json(args.json, data)
    print(table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
