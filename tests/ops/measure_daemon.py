"""How much a login-node daemon costs with many studies (a script, not a test: it asserts nothing).

N studies of the toy trial are submitted to one SQLite database on the local Slurm cluster
(one fake GPU per job, one job per study at a time, so most jobs wait in the queue as they
would on a busy cluster). One :class:`Daemon` then drives all of them for a while, round by
round at the given poll interval, exactly as ``slurmhpo daemon`` does. Reported per round:
the daemon's own CPU time (``time.process_time``; the Slurm commands it starts are child
processes, reported apart from ``RUSAGE_CHILDREN``), its wall time, and the Slurm commands
it ran. Every job is scancelled at the end.

Run on the local cluster from the repository root:
``python tests/ops/measure_daemon.py --studies 10,50 --seconds 60 --poll 5``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "controller"))
from controller_helpers import study_toml

from slurmhpo.controller.daemon import Daemon, DaemonOptions
from slurmhpo.store.db import make_engine


def submit_studies(folder: Path, db_url: str, count: int, partition: str) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    names = [f"load{i}-{tag}" for i in range(count)]
    for name in names:
        path = study_toml(
            folder,
            name=name,
            backend="slurm",
            scheduler={"type": "fifo"},
            budget={"max_trials": 100, "max_concurrent": 1},
            resource_max=1000,  # ~1000 s per job at TOY_SLEEP=1: nothing ends while measured
            slurm={"partition": partition, "gpus_per_task": 1, "time_min": 30},
        )
        command = [sys.executable, "-m", "slurmhpo.cli.main", "submit", str(path), "--db", db_url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return names


def measure(count: int, seconds: float, poll: float, partition: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        db_url = f"sqlite:///{folder / 'studies.db'}"
        submit_studies(folder, db_url, count, partition)
        os.environ["TOY_SLEEP"] = "1"
        engine = make_engine(db_url)
        daemon = Daemon(engine, DaemonOptions(poll_interval=poll, lease_ttl=max(60, 4 * poll)))
        cpu: list[float] = []
        wall: list[float] = []
        commands: list[int] = []
        status: list[int] = []
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                cpu_0, wall_0 = time.process_time(), time.perf_counter()
                daemon.round()
                cpu.append(time.process_time() - cpu_0)
                wall.append(time.perf_counter() - wall_0)
                counts: Counter[str] = daemon.last_round_commands
                commands.append(sum(counts.values()))
                status.append(counts["squeue"] + counts["sacct"])
                time.sleep(poll)
        finally:
            ids = [i for c in daemon.held.values() for i in c.external_ids()]
            daemon.release_all()
            engine.dispose()
            if ids:
                subprocess.run(["scancel", *ids], check=False, timeout=60)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpu = (children.ru_utime - children_before.ru_utime) + (
            children.ru_stime - children_before.ru_stime
        )
        steady = slice(len(cpu) // 2, None)  # second half: every study held, jobs queued
        elapsed = sum(wall) + poll * len(wall)
        return {
            "rounds": len(cpu),
            "cpu_ms_per_round_median": 1000 * statistics.median(cpu[steady]),
            "wall_ms_per_round_median": 1000 * statistics.median(wall[steady]),
            "cpu_share_of_one_core": sum(cpu) / elapsed,
            "child_cpu_share_of_one_core": child_cpu / elapsed,
            "slurm_commands_per_round_max": max(commands),
            "slurm_commands_per_round_median_steady": statistics.median(commands[steady]),
            "status_commands_per_round_max": max(status),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default="10,50", help="comma list of study counts")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--poll", type=float, default=5.0)
    parser.add_argument("--partition", default="gpu")
    args = parser.parse_args()
    for count in (int(text) for text in args.studies.split(",")):
        result = measure(count, args.seconds, args.poll, args.partition)
        shown = ", ".join(f"{key}={value:.3g}" for key, value in result.items())
        print(f"studies={count} poll={args.poll:g}s: {shown}", flush=True)


if __name__ == "__main__":
    main()
