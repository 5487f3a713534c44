"""Running a study whose trial's metric file gets damaged, and the invariants every chaos
scenario checks: nothing lost or duplicated, no decision repeated, no trial failed for a
fault that was not its own, the study finished, and one warning per damage."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller_helpers import engine_for, load_rows, study_toml
from sqlalchemy import select

from slurmhpo.store.db import read_session
from slurmhpo.store.models import Decision

DAMAGED_TRIAL = Path(__file__).with_name("damaged_trial.py")
CONTROLLER_GIVE_UP_S = 300.0  # a hang guard: a healthy run takes seconds
SKIPPED = re.compile(r"skipped metric data at byte \d+ of \S+ \((\w+): ")


@dataclass
class ChaosRun:
    """What a damaged study left: the controller's exit code and log, the rows, the ledger."""

    name: str
    exit_code: int
    log: str
    rows: dict[str, Any]
    decisions: list[dict[str, Any]]
    written: list[dict[str, Any]]  # every valid line the trial wrote, in order


def run_damaged_study(
    tmp_path: Path,
    scenario: str,
    *,
    prefix: list[str] | None = None,
    backend: str = "local",
    slurm: dict[str, Any] | None = None,
    poll_interval: float = 0.1,
) -> ChaosRun:
    """One trial (epochs 1-6, never retried) of tests/chaos/damaged_trial.py, driven to its
    end by a real controller process (`slurmhpo run -q`: its stderr, the log, holds warnings
    only; its stdout, the final summary, goes to controller.out).
    ``prefix`` goes before the controller's command line (e.g. setpriv)."""
    name = f"chaos-{scenario.replace('_', '-')}-{backend}"
    db = tmp_path / "studies.db"
    log = tmp_path / "controller.log"
    ledger = tmp_path / "ledger.jsonl"
    env = {
        "CHAOS_SCENARIO": scenario,
        "CHAOS_DB": str(db),
        "CHAOS_LOG": str(log),
        "CHAOS_LEDGER": str(ledger),
    }
    path = study_toml(
        tmp_path,
        name=name,
        scheduler={"type": "fifo"},
        budget={"max_trials": 1, "max_concurrent": 1},
        resource_max=6,
        backend=backend,
        slurm=slurm,
        max_retries=0,
        script=DAMAGED_TRIAL,
        env=env,
    )
    url = f"sqlite:///{db}"
    argv = [sys.executable, "-m", "slurmhpo.cli.main", "run", str(path), "--db", url]
    argv += ["--poll-interval", str(poll_interval), "-q"]
    with open(log, "wb") as err, open(tmp_path / "controller.out", "wb") as out:
        process = subprocess.Popen([*(prefix or []), *argv], stdout=out, stderr=err, cwd=tmp_path)
        try:
            exit_code = process.wait(timeout=CONTROLLER_GIVE_UP_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    engine = engine_for(url)
    with read_session(engine) as session:
        decisions = [d.payload for d in session.scalars(select(Decision).order_by(Decision.seq))]
    written = [json.loads(line) for line in ledger.read_text().splitlines()]
    for metric_file in (tmp_path / "runs").rglob("metrics.jsonl"):
        if metric_file.stat().st_size > 1024 * 1024:
            metric_file.unlink()  # the 100 MiB line: not to be kept in pytest's old temp dirs
    return ChaosRun(name, exit_code, log.read_text(errors="replace"), load_rows(engine, name),
                    decisions, written)  # fmt: skip


def skipped_kinds(run: ChaosRun) -> list[str]:
    """The kind of every "skipped metric data" warning of the controller, in order."""
    return [m.group(1) for m in map(SKIPPED.search, run.log.splitlines()) if m]


def check_invariants(run: ChaosRun, kinds: set[str]) -> None:
    """The study finished on its own, its one trial completed in one job, every valid line
    is stored once with its first value, each result decided once, and the log holds
    exactly one warning: a skipped-data warning of one of ``kinds``."""
    assert run.exit_code == 0, run.log
    warnings = [line for line in run.log.splitlines() if line.strip()]
    found = skipped_kinds(run)
    assert len(warnings) == 1 and len(found) == 1 and found[0] in kinds, run.log

    rows = run.rows
    assert rows["study"].state == "finished"
    assert [t.state for t in rows["trials"]] == ["completed"]
    assert [j.state for j in rows["jobs"]] == ["completed"]  # one job: no retry was needed

    first: dict[int, float] = {}
    for line in run.written:
        first.setdefault(line["epoch"], line["loss"])
    assert sorted(first) == [1, 2, 3, 4, 5, 6]
    stored = [(o.resource, o.objective) for o in rows["observations"]]
    assert sorted(stored) == sorted(first.items())  # none lost, none twice, first value kept

    results = [(d["trial_id"], d["resource"]) for d in run.decisions if d["event"] == "result"]
    assert results == [(0, epoch) for epoch in range(1, 7)]  # in order, each once
    assert [d["event"] for d in run.decisions].count("suggested") == 1
