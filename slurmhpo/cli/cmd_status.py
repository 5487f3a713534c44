"""``slurmhpo status [STUDY] [--json] [--watch] [--interval S]``: how studies are doing.

Read-only: it opens the database with a read-only engine and never writes, so it is safe to
run (and to ``--watch``) next to live controllers. Times such as "now" come from the DB
server's clock, the one clock every controller's timestamps use.

``--watch`` redraws every ``--interval`` seconds (default 2) until Ctrl-C, which exits 0. On a
terminal it clears the screen between frames (plain ANSI, no extra dependency); when stdout is
not a terminal it prints each frame after the previous one (with ``--json``: one JSON
document per line).

JSON schema (``schema_version`` 1; keys are only ever added, never renamed or removed, within
a schema version). Conventions of times and values are those of :mod:`slurmhpo.cli.common`.

Without STUDY: ``{"schema_version": 1, "studies": [SUMMARY, ...]}``, oldest study first, where
SUMMARY has
  ``name``, ``state`` (registered/running/paused/stopping/finished/cancelled/failed),
  ``n_trials``, ``jobs`` (JOBS, below), ``best_value`` (objective of the incumbent or null),
  ``controller`` (LEASE, below, or null).

With STUDY: ``{"schema_version": 1, "study": DETAIL}`` where DETAIL has
  ``name``, ``state``, ``metric``, ``mode``, ``created_at``, ``finished_at``, ``now`` (the DB
  server's time this snapshot was taken at), ``run_dir`` (the folder of the study's files:
  its runs_dir and run key);
  ``trials``: ``{"total": int, "by_state": {STATE: int for every trial state}}``;
  ``rungs``: ``{"kind": "rungs" | "epochs", "levels": [int], "brackets": [{"bracket": int or
  null, "occupancy": [{"resource": int, "trials": int}]}]}``: how many trials were observed at
  each level, per bracket ("rungs": the study's rung levels r_min * eta^k and r_max for
  asha/hyperband/bohb/sync_sh/sync_hyperband, a bracket b using levels[b:]; "epochs": up to 10
  evenly spread resource levels for median/fifo, which have no rungs);
  ``constraints``: the study's outcome constraints as strings (``[]`` without any);
  ``incumbent``: null or ``{"trial": int, "value": VALUE, "resource": int, "config": {...}}``
  (with constraints: the best trial whose result meets them);
  ``budget``: ``{"trials": LIMIT, "gpu_hours": LIMIT, "wall_hours": LIMIT}``, LIMIT =
  ``{"used": number, "limit": number or null}`` (trials: started trials vs max_trials;
  gpu_hours: job run time x gpus_per_task vs max_gpu_hours; wall_hours: hours since the first
  job was submitted, until ``finished_at`` once the study ended, vs max_wall_hours);
  ``jobs``: JOBS = ``{"pending": int, "running": int}`` (pending: created or queued, not yet
  running, as last recorded in the database);
  ``controller``: LEASE = ``{"owner": str, "heartbeat_at": time, "expires_at": time, "live":
  bool}`` or null when no controller holds the study;
  ``decisions``: the latest 10, newest first: ``{"seq", "kind", "trial" (number or null),
  "reason", "created_at"}``;
  ``commands``: the latest 10 operator commands, newest first: ``{"id", "kind", "args",
  "created_at", "applied_at" (null while pending), "applied_by", "result"}``;
  ``warnings``: list of strings (e.g. a stale lease), also printed as WARNING lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slurmhpo.cli.common import (
    add_db_option,
    add_json_option,
    json_time,
    json_value,
    open_store,
    print_json,
    text_config,
    text_time,
    text_value,
)
from slurmhpo.cli.table import format_table
from slurmhpo.controller.budget import gpu_hours
from slurmhpo.controller.studies import run_dir_of
from slurmhpo.errors import ConfigError
from slurmhpo.scheduling import levels as level_rules
from slurmhpo.states import JobRowState
from slurmhpo.store import runtime
from slurmhpo.store import status as st
from slurmhpo.store.commands import ACTIVE_STUDY_STATES, recent_commands
from slurmhpo.store.db import read_session
from slurmhpo.store.leases import current_lease
from slurmhpo.store.models import TRIAL_STATES, Study
from slurmhpo.store.queries import best_trial, get_study, list_studies
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

SCHEMA_VERSION = 1
RECENT = 10
BAR_WIDTH = 24
CLEAR_SCREEN = "\x1b[H\x1b[2J"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("status", help="show how a study (or every study) is doing")
    parser.add_argument("study", metavar="STUDY", nargs="?", help="a study name (default: all)")
    parser.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    parser.add_argument(
        "--interval", type=float, default=2.0, metavar="S", help="seconds between refreshes"
    )
    add_json_option(parser)
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise ConfigError("--interval", f"{args.interval} is not a positive number", "use 2")
    engine = open_store(args)
    try:
        if not args.watch:
            _show(engine, args, clear=False)
            return 0
        clear = sys.stdout.isatty()
        try:
            while True:
                _show(engine, args, clear=clear)
                time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0
    finally:
        engine.dispose()


def _show(engine: Engine, args: argparse.Namespace, *, clear: bool) -> None:
    """Take one snapshot and print it (a whole frame at once, so a redraw never flickers)."""
    snapshot = snapshot_of(engine, args.study)
    if args.json:
        print_json(snapshot)
        sys.stdout.flush()
        return
    text = render_detail(snapshot["study"]) if args.study else render_summaries(snapshot)
    sys.stdout.write((CLEAR_SCREEN if clear else "") + text + "\n")
    if args.watch and not clear:
        sys.stdout.write("\n")
    sys.stdout.flush()


# ---- snapshots (the JSON form; text is rendered from it) --------------------------------------
def snapshot_of(engine: Engine, name: str | None) -> dict[str, Any]:
    """The status document of one study, or of every study (see the module docstring)."""
    with read_session(engine) as session:
        if name is not None:
            study = get_study(session, name)
            return {"schema_version": SCHEMA_VERSION, "study": study_detail(session, study)}
        summaries = [study_summary(session, s, n) for s, n in list_studies(session)]
    return {"schema_version": SCHEMA_VERSION, "studies": summaries}


def study_summary(session: Session, study: Study, n_trials: int) -> dict[str, Any]:
    best = best_trial(session, study)
    return {
        "name": study.name,
        "state": study.state,
        "n_trials": n_trials,
        "jobs": _jobs(session, study),
        "best_value": None if best is None else json_value(best.value),
        "controller": _lease(session, study),
    }


def study_detail(session: Session, study: Study) -> dict[str, Any]:
    spec = StudySpec.from_dict(study.spec)
    now = st.server_time(session)
    counts = st.trial_state_counts(session, study.id)
    lease = _lease(session, study)
    warnings = []
    if lease is not None and not lease["live"] and study.state in ACTIVE_STUDY_STATES:
        warnings.append(
            f"the controller lease of {study.name!r} held by {lease['owner']} expired at "
            f"{lease['expires_at']} (last heartbeat {lease['heartbeat_at']}): that controller "
            f"is gone or stalled; drive the study with: slurmhpo run {study.name} "
            "(or slurmhpo daemon)"
        )
    return {
        "name": study.name,
        "state": study.state,
        "metric": study.metric,
        "mode": study.mode,
        "constraints": [c.text() for c in spec.constraints],
        "created_at": json_time(study.created_at),
        "finished_at": json_time(study.finished_at),
        "now": json_time(now),
        "run_dir": str(run_dir_of(study, spec).path),
        "trials": {
            "total": sum(counts.values()),
            "by_state": {state: counts.get(state, 0) for state in TRIAL_STATES},
        },
        "rungs": _rungs(session, study, spec),
        "incumbent": _incumbent(session, study),
        "budget": _budget(session, study, spec, now, sum(counts.values())),
        "jobs": _jobs(session, study),
        "controller": lease,
        "decisions": [
            {
                "seq": d.seq,
                "kind": d.kind,
                "trial": number,
                "reason": d.reason,
                "created_at": json_time(d.created_at),
            }
            for d, number in st.latest_decisions(session, study.id, RECENT)
        ],
        "commands": [
            {
                "id": c.id,
                "kind": c.kind,
                "args": c.args,
                "created_at": json_time(c.created_at),
                "applied_at": json_time(c.applied_at),
                "applied_by": c.applied_by,
                "result": c.result,
            }
            for c in recent_commands(session, study.id, RECENT)
        ],
        "warnings": warnings,
    }


def study_levels(spec: StudySpec) -> tuple[str, list[int]]:
    """("rungs", the rung levels) for rung-based schedulers, else ("epochs", a few levels)."""
    return level_rules.study_levels(spec.scheduler, spec.resource.min, spec.resource.max)


def _rungs(session: Session, study: Study, spec: StudySpec) -> dict[str, Any]:
    kind, levels = study_levels(spec)
    counts = st.rung_occupancy(session, study.id, levels)
    brackets = sorted({b for b, _ in counts}, key=lambda b: -1 if b is None else b)
    if kind == "rungs" and not brackets:
        brackets = [0]
    rows = []
    for bracket in brackets or [None]:
        own = levels[bracket:] if kind == "rungs" and bracket is not None else levels
        occupancy = [{"resource": r, "trials": counts.get((bracket, r), 0)} for r in own]
        rows.append({"bracket": bracket, "occupancy": occupancy})
    return {"kind": kind, "levels": levels, "brackets": rows}


def _incumbent(session: Session, study: Study) -> dict[str, Any] | None:
    best = best_trial(session, study)
    if best is None:
        return None
    return {
        "trial": best.trial.number,
        "value": json_value(best.value),
        "resource": best.resource,
        "config": best.trial.config,
    }


def _budget(
    session: Session, study: Study, spec: StudySpec, now: datetime, n_trials: int
) -> dict[str, Any]:
    budget = spec.budget
    used_gpu = gpu_hours(
        runtime.study_jobs_with_times(session, study.id), spec.slurm.gpus_per_task, now
    )
    first = runtime.first_job_submitted(session, study.id)
    until = study.finished_at or now
    wall = 0.0 if first is None else max(0.0, (until - first).total_seconds() / 3600.0)
    return {
        "trials": {"used": n_trials, "limit": budget.max_trials},
        "gpu_hours": {"used": round(used_gpu, 6), "limit": budget.max_gpu_hours},
        "wall_hours": {"used": round(wall, 6), "limit": budget.max_wall_hours},
    }


def _jobs(session: Session, study: Study) -> dict[str, int]:
    counts = st.job_state_counts(session, study.id)
    return {
        "pending": counts.get(JobRowState.PENDING, 0) + counts.get(JobRowState.SUBMITTED, 0),
        "running": counts.get(JobRowState.RUNNING, 0),
    }


def _lease(session: Session, study: Study) -> dict[str, Any] | None:
    found = current_lease(session, study.id)
    if found is None:
        return None
    lease, live = found
    return {
        "owner": lease.owner,
        "heartbeat_at": json_time(lease.heartbeat_at),
        "expires_at": json_time(lease.expires_at),
        "live": live,
    }


# ---- text ------------------------------------------------------------------------------------
def progress_bar(used: float, limit: float | None) -> str:
    """``[#######.................]  31%  7 / 22`` (no bar without a limit)."""
    shown = f"{_num(used)} / {_num(limit) if limit is not None else 'no limit'}"
    if not limit:
        return shown
    fraction = max(0.0, used / limit)
    filled = min(BAR_WIDTH, int(fraction * BAR_WIDTH))
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    return f"[{bar}] {fraction * 100:4.0f}%  {shown}"


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3g}"


def render_summaries(snapshot: dict[str, Any]) -> str:
    studies = snapshot["studies"]
    if not studies:
        return "no studies yet"
    headers = ["NAME", "STATE", "TRIALS", "RUNNING", "PENDING", "BEST", "CONTROLLER"]
    rows = [
        [
            s["name"],
            s["state"],
            s["n_trials"],
            s["jobs"]["running"],
            s["jobs"]["pending"],
            _text_json_value(s["best_value"]),
            _controller_text(s["controller"]),
        ]
        for s in studies
    ]
    return format_table(headers, rows)


def _text_json_value(value: float | str | None) -> str:
    return value if isinstance(value, str) else text_value(value)


def _controller_text(lease: dict[str, Any] | None) -> str:
    if lease is None:
        return "-"
    return lease["owner"] if lease["live"] else f"{lease['owner']} (EXPIRED)"


def render_detail(d: dict[str, Any]) -> str:
    lines = [f"study {d['name']}: {d['state']}  ({d['metric']}, {d['mode']})"]
    lines += [f"WARNING: {w}" for w in d["warnings"]]
    by_state = "  ".join(f"{k} {v}" for k, v in d["trials"]["by_state"].items() if v)
    lines.append(f"trials: {d['trials']['total']}  {by_state}".rstrip())
    lines.append(f"jobs: {d['jobs']['running']} running, {d['jobs']['pending']} pending")
    lines.append(f"files: {d['run_dir']}")
    lines += ["", "budget:"]
    for key, label in (("trials", "trials"), ("gpu_hours", "GPU-hours"), ("wall_hours", "wall h")):
        lines.append(
            f"  {label:<10} {progress_bar(d['budget'][key]['used'], d['budget'][key]['limit'])}"
        )
    lines += ["", _rung_text(d["rungs"]), "", _incumbent_text(d)]
    lines += ["", _controller_line(d)]
    lines += ["", "latest decisions:", *_decision_lines(d["decisions"])]
    if d["commands"]:
        lines += ["", "commands:", *_command_lines(d["commands"])]
    return "\n".join(lines)


def _rung_text(rungs: dict[str, Any]) -> str:
    title = "rung occupancy (trials observed at each level):"
    if rungs["kind"] == "epochs":
        title = "trials observed at these levels (no rungs for this scheduler):"
    levels = rungs["levels"]
    headers = ["BRACKET", *(str(r) for r in levels)]
    rows = []
    for row in rungs["brackets"]:
        counts = {o["resource"]: o["trials"] for o in row["occupancy"]}
        bracket = "-" if row["bracket"] is None else row["bracket"]
        rows.append([bracket, *(counts.get(r, "") for r in levels)])
    return title + "\n" + format_table(headers, rows)


def _incumbent_text(d: dict[str, Any]) -> str:
    best = d["incumbent"]
    if best is None:
        return (
            "incumbent: none yet (no feasible observation)"
            if d.get("constraints")
            else ("incumbent: none yet (no observation)")
        )
    value = _text_json_value(best["value"])
    return (
        f"incumbent: trial {best['trial']}, {d['metric']} = {value} at {best['resource']}\n"
        f"  config: {text_config(best['config'])}"
    )


def _controller_line(d: dict[str, Any]) -> str:
    lease = d["controller"]
    if lease is None:
        return "controller: none holds the study"
    state = "live" if lease["live"] else "EXPIRED"
    return (
        f"controller: {lease['owner']} ({state}; last heartbeat "
        f"{_time_text(lease['heartbeat_at'])}, lease until {_time_text(lease['expires_at'])})"
    )


def _time_text(iso: str | None) -> str:
    return text_time(None if iso is None else datetime.fromisoformat(iso))


def _decision_lines(decisions: list[dict[str, Any]]) -> list[str]:
    if not decisions:
        return ["  none yet"]
    rows = [
        [x["seq"], _time_text(x["created_at"]), x["kind"], x["trial"], x["reason"] or ""]
        for x in decisions
    ]
    table = format_table(["SEQ", "TIME (UTC)", "KIND", "TRIAL", "REASON"], rows)
    return ["  " + line for line in table.splitlines()]


def _command_lines(commands: list[dict[str, Any]]) -> list[str]:
    rows = [
        [
            c["id"],
            _time_text(c["created_at"]),
            c["kind"],
            json.dumps(c["args"], sort_keys=True) if c["args"] else "",
            "pending" if c["applied_at"] is None else (c["result"] or "applied"),
        ]
        for c in commands
    ]
    table = format_table(["ID", "TIME (UTC)", "KIND", "ARGS", "RESULT"], rows)
    return ["  " + line for line in table.splitlines()]
