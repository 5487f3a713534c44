"""Measurements for the controller report (a script, not a test: it asserts nothing).

1. Submission throughput on this cluster: :meth:`SlurmBackend.submit` with N requests (one
   job array, one sbatch call) against N calls with one request each. The jobs run ``true``
   without a GPU and are scancelled right after, so the cluster is left as found.
2. Delay from a metric line to its decision: a toy ASHA study through `slurmhpo run` with a
   poll interval of 1 s; for every ``result`` decision, ``decision.created_at`` (DB server
   clock) minus the ``time`` its metric line carries (``observation.reported_at``, written by
   the job on the same machine). Median and p95.

Run on the local cluster: ``python tests/slurm/measure_controller.py [--n 50]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, no conftest puts tests/controller (the study file writer) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "controller"))
from slurm_study_helpers import load_study_rows, slurm_study_toml

from slurmhpo.backends.base import Resources, SegmentRequest
from slurmhpo.backends.slurm import SlurmBackend
from slurmhpo.store.db import make_engine


def requests(root: Path, tag: str, n: int) -> list[SegmentRequest]:
    resources = Resources(partition="gpu", gpus_per_task=0, cpus_per_task=1, time_min=1)
    return [
        SegmentRequest(
            job_key=f"measure-{tag}-{i}",
            command=("true",),
            env={},
            workdir=root,
            log_dir=root / "logs" / f"{tag}-{i}",
            resources=resources,
        )
        for i in range(n)
    ]


def submit_rates(n: int) -> dict[str, float]:
    """Jobs per second through one batched submit and through n single submits."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        backend = SlurmBackend(root / "_slurm")
        batch = requests(root, f"batch{time.time_ns()}", n)
        started = time.perf_counter()
        batch_ids = backend.submit(batch)
        batch_s = time.perf_counter() - started
        singles = requests(root, f"single{time.time_ns()}", n)
        started = time.perf_counter()
        single_ids = [backend.submit([request])[0] for request in singles]
        single_s = time.perf_counter() - started
        backend.cancel(batch_ids + single_ids)
    return {"batch_jobs_per_s": n / batch_s, "single_jobs_per_s": n / single_s}


def decision_delays(poll_interval: float) -> list[float]:
    """Seconds from each metric line's own time to the decision the controller made on it."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db_url = f"sqlite:///{tmp / 'studies.db'}"
        path = slurm_study_toml(
            tmp,
            name="latency",
            partition="gpu",
            budget={"max_trials": 16, "max_concurrent": 4},
            env={"TOY_SLEEP": "0.7"},  # lines spread over time, not in bursts
        )
        argv = [sys.executable, "-m", "slurmhpo.cli.main", "run", str(path), "--db", db_url]
        subprocess.run(
            [*argv, "--poll-interval", str(poll_interval), "-q"], check=True, timeout=900
        )
        rows = load_study_rows(make_engine(db_url), "latency")
    reported = {(o.trial_id, o.resource): o.reported_at for o in rows.observations}
    return [
        (d.created_at - reported[(d.trial_id, d.payload["resource"])]).total_seconds()
        for d in rows.decisions
        if d.payload.get("event") == "result"
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50, help="jobs per submission test")
    parser.add_argument("--poll", type=float, default=1.0, help="controller poll interval (s)")
    args = parser.parse_args()
    rates = submit_rates(args.n)
    print(
        f"submit, {args.n} jobs: batched {rates['batch_jobs_per_s']:.1f} jobs/s, "
        f"one by one {rates['single_jobs_per_s']:.1f} jobs/s"
    )
    delays = decision_delays(args.poll)
    print(
        f"metric line -> decision, poll {args.poll} s, {len(delays)} decisions: "
        f"median {statistics.median(delays):.3f} s, p95 {percentile(delays, 0.95):.3f} s, "
        f"min {min(delays):.3f} s, max {max(delays):.3f} s"
    )


if __name__ == "__main__":
    main()
