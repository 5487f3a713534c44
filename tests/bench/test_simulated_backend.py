"""The simulated backend and clock, driven directly: costs, visibility, cancel, resume, limits."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from slurmhpo.backends.base import JobState, SegmentRequest
from slurmhpo.backends.simulated import SimClock, SimulatedBackend, SimulationStalled
from slurmhpo.bench.base import CurveTask
from slurmhpo.errors import SlurmhpoError


class Linear(CurveTask):
    """time(x, r) = r * cost (cost is the config's only parameter); metric = 10 * r + cost."""

    name = "toy/linear"
    metric = "score"
    mode = "max"
    r_max = 6

    def space(self) -> dict[str, dict[str, Any]]:
        return {"cost": {"type": "float", "low": 1.0, "high": 100.0}}

    def _full_curves(self, configs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        cost = np.array([c["cost"] for c in configs], dtype=float)[:, None]
        epochs = np.arange(1, self.r_max + 1, dtype=float)[None, :]
        return 10 * epochs + cost, cost * epochs


def request(tmp: Path, name: str, cost: float, start: int, target: int) -> SegmentRequest:
    config = tmp / f"{name}.json"
    config.write_text(json.dumps({"cost": cost}))
    env = {
        "SLURMHPO_CONFIG": str(config),
        "SLURMHPO_START_RESOURCE": str(start),
        "SLURMHPO_TARGET_RESOURCE": str(target),
        "SLURMHPO_METRIC_FILE": str(tmp / name / "metrics.jsonl"),
        "SLURMHPO_RESOURCE_NAME": "epoch",
    }
    return SegmentRequest(name, ("simulated",), env, tmp, tmp)


def lines(tmp: Path, name: str) -> list[dict[str, Any]]:
    path = tmp / name / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def sim_times(clock: SimClock, records: list[dict[str, Any]]) -> list[float]:
    return [round(r["time"] - clock.origin.timestamp(), 6) for r in records]


def make(workers: int = 2, **kwargs: Any) -> tuple[SimClock, SimulatedBackend]:
    clock = SimClock(**kwargs)
    return clock, SimulatedBackend(Linear(), clock, workers)


def test_each_epoch_is_visible_when_it_ends_and_the_job_completes_at_its_target(
    tmp_path: Path,
) -> None:
    clock, backend = make()
    (job,) = backend.submit([request(tmp_path, "a", 10.0, 0, 3)])
    assert backend.poll([job])[job].state is JobState.RUNNING
    clock.sleep(999)  # the requested interval is ignored: time jumps to the next epoch end
    assert clock.now() == 10.0
    assert [r["epoch"] for r in lines(tmp_path, "a")] == [1]
    clock.sleep(0.0)
    clock.sleep(0.0)
    records = lines(tmp_path, "a")
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert [r["score"] for r in records] == [20.0, 30.0, 40.0]
    assert sim_times(clock, records) == [10.0, 20.0, 30.0]
    status = backend.poll([job])[job]
    assert status.state is JobState.COMPLETED and status.exit_code == 0
    assert backend.stats.busy_seconds == 30.0 and backend.stats.epochs_trained == 3


def test_a_resumed_segment_costs_only_the_new_epochs(tmp_path: Path) -> None:
    clock, backend = make()
    (job,) = backend.submit([request(tmp_path, "b", 7.0, 4, 6)])
    clock.sleep(1)
    clock.sleep(1)
    records = lines(tmp_path, "b")
    assert [r["epoch"] for r in records] == [5, 6]
    assert sim_times(clock, records) == [7.0, 14.0]  # time(6) - time(4) = 14, nothing repaid
    assert backend.poll([job])[job].state is JobState.COMPLETED


def test_jobs_interleave_on_one_clock(tmp_path: Path) -> None:
    clock, backend = make()
    backend.submit([request(tmp_path, "slow", 5.0, 0, 2), request(tmp_path, "fast", 3.0, 0, 2)])
    seen = []
    for _ in range(4):
        clock.sleep(1)
        seen.append(clock.now())
    assert seen == [3.0, 5.0, 6.0, 10.0]
    assert sim_times(clock, lines(tmp_path, "fast")) == [3.0, 6.0]
    assert sim_times(clock, lines(tmp_path, "slow")) == [5.0, 10.0]


def test_cancel_frees_the_worker_at_once_and_time_waits_for_the_controller(
    tmp_path: Path,
) -> None:
    clock, backend = make(workers=1)
    (job,) = backend.submit([request(tmp_path, "c", 10.0, 0, 5)])
    clock.sleep(1)
    clock.sleep(1)
    assert clock.now() == 20.0
    backend.cancel([job])
    clock.sleep(1)  # the controller has not polled the cancelled job yet: time stays put
    assert clock.now() == 20.0
    status = backend.poll([job])[job]
    assert status.state is JobState.CANCELLED
    assert backend.stats.busy_seconds == 20.0
    (other,) = backend.submit([request(tmp_path, "d", 4.0, 0, 1)])  # the one worker is free
    clock.sleep(1)
    assert clock.now() == 24.0
    assert [r["epoch"] for r in lines(tmp_path, "c")] == [1, 2]  # nothing after the cancel
    assert backend.poll([other])[other].state is JobState.COMPLETED


def test_more_jobs_than_workers_are_refused(tmp_path: Path) -> None:
    _, backend = make(workers=1)
    backend.submit([request(tmp_path, "e", 1.0, 0, 1)])
    with pytest.raises(SlurmhpoError, match="1 workers"):
        backend.submit([request(tmp_path, "f", 1.0, 0, 1)])


def test_the_deadline_caps_a_jump_and_an_idle_clock_without_one_stalls(tmp_path: Path) -> None:
    clock, backend = make(deadline=15.0)
    backend.submit([request(tmp_path, "g", 10.0, 0, 2)])
    clock.sleep(1)
    clock.sleep(1)
    assert clock.now() == pytest.approx(15.0, abs=1e-5)  # the budget ends between two epochs
    assert [r["epoch"] for r in lines(tmp_path, "g")] == [1]
    idle, _ = make()
    with pytest.raises(SimulationStalled):
        idle.sleep(1)


def test_wake_resources_skip_stops_but_not_reports(tmp_path: Path) -> None:
    clock = SimClock()
    backend = SimulatedBackend(Linear(), clock, 1, wake_resources=frozenset({3}))
    (job,) = backend.submit([request(tmp_path, "h", 2.0, 0, 5)])
    clock.sleep(1)
    assert clock.now() == 6.0  # epoch 3, the first wake resource
    assert sim_times(clock, lines(tmp_path, "h")) == [2.0, 4.0, 6.0]  # true instants kept
    clock.sleep(1)
    assert clock.now() == 10.0  # the target always wakes
    assert backend.poll([job])[job].state is JobState.COMPLETED


def test_find_and_unknown_ids(tmp_path: Path) -> None:
    _, backend = make()
    (job,) = backend.submit([request(tmp_path, "key-1", 1.0, 0, 1)])
    assert backend.find(["key-1", "nope"]) == {"key-1": job}
    assert backend.poll(["sim-999"])["sim-999"].state is JobState.UNKNOWN
    backend.cancel(["sim-999"])  # not an error


def test_every_line_carries_the_configs_full_training_time(tmp_path: Path) -> None:
    """full_seconds = time(x, r_max) = 6 * cost, on every line, also of a resumed segment."""
    clock, backend = make()
    backend.submit([request(tmp_path, "a", 10.0, 0, 2)])
    clock.sleep(0.0)
    clock.sleep(0.0)
    backend.submit([request(tmp_path, "a", 10.0, 2, 4)])
    clock.sleep(0.0)
    clock.sleep(0.0)
    records = lines(tmp_path, "a")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert [r["full_seconds"] for r in records] == [60.0] * 4
