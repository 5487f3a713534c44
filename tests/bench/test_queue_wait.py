"""Queue waits in the simulated backend: the models, and what a wait does to a job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slurmhpo.backends.base import JobState, SegmentRequest
from slurmhpo.backends.queue_wait import parse_queue_wait
from slurmhpo.backends.simulated import SimClock, SimulatedBackend
from slurmhpo.bench.harness import simulate
from slurmhpo.bench.registry import get_task
from slurmhpo.bench.runner import METHODS
from slurmhpo.errors import ConfigError
from slurmhpo.trial import ENV_CONFIG, ENV_METRIC_FILE, ENV_START, ENV_TARGET


def test_no_wait_is_the_default_and_changes_nothing() -> None:
    task = get_task("synthetic/branin-mf", r_max=9)
    method = METHODS["asha-promotion"]
    plain = simulate(task, method, 1, workers=3, budget=400.0)
    zero = simulate(task, method, 1, workers=3, budget=400.0, queue_wait="0")
    assert plain.reports == zero.reports and plain.trials == zero.trials
    assert zero.queued_seconds == 0.0


def test_a_constant_wait_delays_every_job_and_counts_against_the_budget() -> None:
    task = get_task("synthetic/branin-mf", r_max=9)
    method = METHODS["asha-promotion"]
    plain = simulate(task, method, 1, workers=3, budget=400.0)
    waited = simulate(task, method, 1, workers=3, budget=400.0, queue_wait="30")
    assert min(r.time for r in waited.reports) >= 30.0 > min(r.time for r in plain.reports)
    assert waited.epochs < plain.epochs  # the waits ate part of B
    assert waited.busy_seconds < plain.busy_seconds  # a queued job holds no worker
    assert waited.queued_seconds >= 30.0 * waited.slots_used
    assert 0 < waited.queued_share < 1


def test_a_waiting_job_is_pending_until_its_start(tmp_path: Path) -> None:
    task = get_task("synthetic/branin-mf", r_max=3)
    clock = SimClock(deadline=1000.0)
    backend = SimulatedBackend(task, clock, 1, queue_wait=parse_queue_wait("50"))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"x1": 0.0, "x2": 0.0, "schedule": "fast"}))
    env = {
        ENV_CONFIG: str(config),
        ENV_METRIC_FILE: str(tmp_path / "metrics.jsonl"),
        ENV_START: "0",
        ENV_TARGET: "3",
    }
    (job,) = backend.submit([SegmentRequest("k", ("sim",), env, tmp_path, tmp_path)])
    assert backend.poll([job])[job].state is JobState.PENDING
    clock.sleep(0.0)  # to the first epoch end: after the wait
    assert clock.now() > 50.0
    assert backend.poll([job])[job].state in (JobState.RUNNING, JobState.COMPLETED)
    first = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert first["time"] - clock.origin.timestamp() > 50.0


def test_lognormal_waits_have_the_mean_and_deviation_asked_for() -> None:
    model = parse_queue_wait("lognormal:300,200", seed=4)
    waits = np.array([model.draw() for _ in range(20000)])
    assert abs(waits.mean() - 300) < 10 and abs(waits.std() - 200) < 15
    assert model.draw() != parse_queue_wait("lognormal:300,200", seed=5).draw()


def test_trace_waits_come_from_submit_and_start(tmp_path: Path) -> None:
    trace = tmp_path / "sacct.csv"
    trace.write_text(
        "submit,start\n"
        "2026-12-01T10:00:00,2026-12-01T10:05:00\n"
        "100,160\n"
        "2026-12-01T11:00:00,Unknown\n"
    )
    model = parse_queue_wait(f"trace:{trace}")
    assert sorted(set(model.samples)) == [60.0, 300.0]
    assert {model.draw() for _ in range(50)} == {60.0, 300.0}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-5", "not a wait >= 0"),
        ("soon", "is not a wait"),
        ("lognormal:300", "needs two numbers"),
        ("lognormal:0,10", "MEAN > 0"),
        ("trace:/no/such.csv", "cannot read the trace"),
    ],
)
def test_bad_models_name_the_flag_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_queue_wait(text)
    assert str(caught.value).startswith("--queue-wait: ")
    assert "SECONDS, lognormal:MEAN,SIGMA or trace:FILE.csv" in str(caught.value)
