"""``slurmhpo status [STUDY] [--json] [--watch] [--interval S]``: how studies are doing.

Read-only: it opens the database with a read-only engine and never writes, so it is safe to
run (and to ``--watch``) next to live controllers. Times such as "now" come from the DB
server's clock, the one clock every controller's timestamps use.

``--watch`` redraws every ``--interval`` seconds (default 2) until Ctrl-C, which exits 0. On a
terminal it clears the screen between frames (plain ANSI, no extra dependency); when stdout is
not a terminal it prints each frame after the previous one (with ``--json``: one JSON
document per line).

JSON schema (``schema_version`` 1; keys are only ever added, never renamed or removed, within
a schema version); the document is built by :mod:`slurmhpo.views.status`, which the dashboard
serves too. Conventions of times and values are those of :mod:`slurmhpo.cli.common`.

Without STUDY: ``{"schema_version": 1, "studies": [SUMMARY, ...]}``, oldest study first, where
SUMMARY has
  ``name``, ``state`` (registered/running/paused/stopping/finished/cancelled/failed),
  ``n_trials``, ``jobs`` (JOBS, below), ``best_value`` (objective of the incumbent or null;
  the first objective's in a study with several),
  ``controller`` (LEASE, below, or null), ``budget`` (BUDGET, below), ``last_activity`` (the
  latest change to a trial or observation of the study, else to the study row).

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
  (with constraints: the best trial whose result meets them; with several objectives: the
  best in the first);
  ``objectives``: ``[{"metric": str, "mode": "min" | "max"}]``, every objective (one for most
  studies; ``metric`` and ``mode`` are the first's);
  ``pareto_front``: null with one objective; with several, the non-dominated trials among
  those at the furthest resource reached (:mod:`slurmhpo.store.pareto_front`), by number:
  ``[{"trial": int, "resource": int, "values": {METRIC: VALUE}, "config": {...}}]``;
  ``budget``: BUDGET = ``{"trials": LIMIT, "gpu_hours": LIMIT, "wall_hours": LIMIT}``, LIMIT =
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
    open_store,
    print_json,
    text_config,
    text_time,
    text_value,
)
from slurmhpo.cli.table import format_table
from slurmhpo.errors import ConfigError
from slurmhpo.views.status import snapshot_of, study_levels

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["progress_bar", "register", "render_detail", "render_summaries", "study_levels"]

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
    front = d.get("pareto_front")
    if front is not None:  # several objectives: one incumbent would hide the trade-offs
        names = ", ".join(f"{o['metric']} ({o['mode']})" for o in d["objectives"])
        return (
            f"Pareto front of {names}: {len(front)} trial(s)"
            + (f" ({', '.join(str(m['trial']) for m in front)})" if front else "")
            + f"; list them with: slurmhpo best {d['name']}"
        )
    best = d["incumbent"]
    if best is None:
        if d.get("constraints"):
            return "incumbent: none yet (no feasible observation)"
        return "incumbent: none yet (no observation)"
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
