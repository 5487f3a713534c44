"""A simulated study driven cycle by cycle, with the faults a cluster has injected.

The simulated backend runs the trials (learning curves on a simulated clock, reports in real
metric files); :class:`FaultyBackend` wraps it to inject what a simulator does not do by
itself: a job that vanishes from the backend's view, and submissions that fail. Everything
else (controller, scheduler, store) is the real code, so these tests take seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from slurmhpo.backends.base import JobState, JobStatus, SegmentRequest
from slurmhpo.backends.queue_wait import parse_queue_wait
from slurmhpo.backends.simulated import SimClock, SimulatedBackend
from slurmhpo.bench.harness import study_spec
from slurmhpo.bench.registry import get_task
from slurmhpo.bench.runner import METHODS
from slurmhpo.controller.loop import Controller, ControllerOptions
from slurmhpo.controller.studies import register_study
from slurmhpo.store.db import make_engine
from slurmhpo.store.models import Base
from slurmhpo.study import StudySpec

TASK = "synthetic/branin-mf"
R_MAX = 9  # epochs of ~5-8 simulated seconds each


@dataclass
class FaultyBackend:
    """The simulated backend, with jobs hidden from ``poll`` or reported failed, and
    submissions and cancels that raise."""

    inner: SimulatedBackend
    hidden: set[str] = field(default_factory=set)  # ids poll answers UNKNOWN for
    failed: set[str] = field(default_factory=set)  # ids poll answers FAILED (exit 2) for
    submit_errors: list[Exception] = field(default_factory=list)  # raised by the next submits
    submit_calls: int = 0
    cancel_errors: list[Exception] = field(default_factory=list)  # raised by the next cancels
    cancel_calls: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    def submit(self, requests: Sequence[SegmentRequest]) -> list[str]:
        self.submit_calls += 1
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        return self.inner.submit(requests)

    def poll(self, external_ids: Sequence[str]) -> dict[str, JobStatus]:
        answers = self.inner.poll(external_ids)
        for external_id in self.hidden & set(answers):
            answers[external_id] = JobStatus(JobState.UNKNOWN, reason="not in squeue or sacct")
        for external_id in self.failed & set(answers):
            answers[external_id] = JobStatus(JobState.FAILED, exit_code=2)
        return answers

    def cancel(self, external_ids: Sequence[str]) -> None:
        self.cancel_calls += 1
        if self.cancel_errors:
            raise self.cancel_errors.pop(0)
        self.inner.cancel(external_ids)

    def find(self, job_keys: Sequence[str]) -> dict[str, str]:
        return self.inner.find(job_keys)


@dataclass
class SimStudy:
    """One registered simulated study; :meth:`controller` builds a controller process."""

    engine: Engine
    spec: StudySpec
    clock: SimClock
    backend: FaultyBackend
    root: Path

    def controller(self, *, lost_after: float = 600.0) -> Controller:
        options = ControllerOptions(
            runs_dir=self.root / "runs", poll_interval=0.0, lease_ttl=3600.0, lost_after=lost_after
        )
        return Controller(self.engine, self.spec.name, self.backend, options, self.clock)

    def advance(self) -> None:
        """Move the clock to the next event; not at all while nothing runs (a failed
        submission is retried at once, not at the simulation's deadline)."""
        inner = self.backend.inner
        if inner.has_news() or inner.next_event() is not None:
            self.clock.sleep(0.0)

    def run_to_end(self, controller: Controller, max_cycles: int = 10_000) -> None:
        for _ in range(max_cycles):
            if not controller.cycle():
                return
            self.advance()
        raise AssertionError(f"the study did not end within {max_cycles} cycles")


def sim_study(
    root: Path,
    *,
    method: str = "random",
    workers: int = 2,
    max_trials: int = 4,
    budget_seconds: float = 1e6,
    max_retries: int = 2,
    continue_in_place: bool = False,
    queue_wait: str = "0",
) -> SimStudy:
    """A fresh SQLite database with one registered simulated study (``queue_wait``: each
    submitted job's wait, :mod:`slurmhpo.backends.queue_wait`)."""
    task = get_task(TASK, r_max=R_MAX)
    engine = make_engine(f"sqlite:///{root / 'faults.db'}")
    Base.metadata.create_all(engine)
    spec = study_spec(
        task, METHODS[method], 0, workers, budget_seconds, root, max_trials, continue_in_place
    )
    data = spec.to_dict()
    data["trial"] = {**data["trial"], "max_retries": max_retries}
    spec = register_study(engine, StudySpec.from_dict(data))
    clock = SimClock(deadline=budget_seconds)
    waits = parse_queue_wait(queue_wait, seed=0)
    backend = FaultyBackend(SimulatedBackend(task, clock, workers, queue_wait=waits))
    return SimStudy(engine, spec, clock, backend, root)
