"""A backend that replays learning curves on a simulated clock, driving the REAL controller.

Why: a benchmark must measure the code users run (the controller loop, the store, the
schedulers), not a re-implementation of it. So the simulator replaces only the two things that
touch the outside world: the backend (jobs are evaluated from a :class:`CurveSource`, such as
:class:`~slurmhpo.bench.base.CurveTask`, instead of running) and the clock (time advances to
the next event instead of passing).

Semantics (benchmarks/PROTOCOL.md):

* A job is a segment from resource ``r0`` (``SLURMHPO_START_RESOURCE``) to ``r``
  (``SLURMHPO_TARGET_RESOURCE``) of the configuration in the ``SLURMHPO_CONFIG`` file. It starts
  at once on one of ``workers`` worker slots, or, given a ``queue_wait`` model
  (:mod:`slurmhpo.backends.queue_wait`), after a wait drawn from it (PENDING meanwhile; the
  wait counts against the deadline, not as busy worker time), and costs ``time(x, r) -
  time(x, r0)`` simulated seconds: a resumed trial continues from its checkpoint at no extra
  cost, but waits in the queue again, as a new Slurm job would.
* The report of epoch ``e`` is appended to the job's ``SLURMHPO_METRIC_FILE``, in the trial-side
  line format (``slurmhpo.trial``), at the simulated instant ``e`` finishes, with
  ``time`` = that instant as a Unix timestamp on :attr:`SimClock.origin`, and one metric
  besides the objective, ``full_seconds`` = time(x, r_max): what training the configuration
  to the end costs (the task's own time, e.g. YAHPO lcbench's ``time`` output). It is the
  same on every line of a trial, as a cost a real trial measures at once (its memory, its
  latency) would be, so a study can carry an outcome constraint on it.
* A job that reported its target ends COMPLETED at that instant; a cancelled job ends
  CANCELLED at once and frees its worker at once.
* A job told to wait at its target (``SLURMHPO_HOLD_SECONDS``, a study that continues trials
  in place) does what a Slurm job's wrapper does (:mod:`slurmhpo.control`): at the instant
  it reports its target it writes its hold marker and keeps its worker, until the
  controller's answer appears (looked for before time moves and before a submission). An
  answer that hands over a segment starts it in this job at that instant, with no queue
  wait (the same cost as a new job otherwise: from its checkpoint at no extra cost); "end"
  ends the job then. With no answer by the end of its hold it claims "ended by the job" and
  ends at that instant, seen at the next event: the controller counts a waiting job as a
  free worker already, so its giving up is no event of its own.
* :meth:`SimClock.sleep` ignores the requested interval: it moves time to the next epoch end of
  any running job (or to the deadline, if sooner), after writing the reports due by then. If a
  cancel happened since the last poll, it does not move at all, so the controller sees the freed
  worker and refills it at the same instant. Decision-making compute costs no simulated time.
* ``wake_resources`` (optional) are the epochs at which the scheduler may act (its rung levels).
  Reports of other epochs are still written at their own instants, but the clock does not stop
  there: the controller reads them at the next wake-up, with their true ``time``. Every
  controller cycle then sees exactly the reports due by its instant, as without the option; it
  only skips the cycles in which the scheduler could only have said "continue". None (the
  default) wakes the controller at every epoch end: exact for any scheduler.

The backend refuses (SlurmhpoError) to run more than ``workers`` jobs at once: the controller's
``max_concurrent`` must be what limits concurrency, and a benchmark would be wrong otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from slurmhpo.backends.base import JobState, JobStatus, SegmentRequest
from slurmhpo.backends.queue_wait import QueueWait
from slurmhpo.control import (
    ENDED_BY_JOB,
    answer_file,
    claim,
    hold_marker,
    next_task,
    read_answer,
    waits,
)
from slurmhpo.errors import ConfigError, SlurmhpoError
from slurmhpo.trial import ENV_CONFIG, ENV_METRIC_FILE, ENV_RESOURCE_NAME, ENV_START, ENV_TARGET

DEFAULT_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
MAX_STILL_CYCLES = 10_000  # sleeps in a row without time moving: the simulation is stuck
FULL_SECONDS = "full_seconds"  # the metric every simulated line carries besides the objective


class CurveSource(Protocol):
    """What the backend replays: a learning-curve task (:class:`slurmhpo.bench.base.CurveTask`
    is one). Declared here so the backends layer needs nothing from the benchmark package."""

    metric: str
    r_max: int

    def evaluate(self, config: Mapping[str, Any], epochs: Iterable[int] | None = None) -> Any:
        """An object whose ``metric`` and ``time`` (cumulative simulated seconds) hold one
        value per epoch asked for, in order."""
        ...

    def cumulative_time(self, config: Mapping[str, Any], epoch: int) -> float: ...


def extra_metrics(
    task: CurveSource, config: Mapping[str, Any], epochs: list[int]
) -> dict[str, list[float]]:
    """Metrics a task reports besides ``task.metric`` (a multi-objective task's other
    objectives), one value per epoch; {} for a task without an ``extra_metrics`` method."""
    more = getattr(task, "extra_metrics", None)
    if more is None:
        return {}
    return {name: [float(v) for v in values] for name, values in more(config, epochs).items()}


class SimulationStalled(SlurmhpoError):
    """Nothing runs, nothing is due and no deadline is set: time could never move again."""


@dataclass
class _SimJob:
    """One job in flight and the segment it runs; ``due[i]`` is the absolute simulated end of
    epoch ``epochs[i]``."""

    external_id: str
    job_key: str
    slot: int
    started: float
    metric_file: Path = Path()
    resource_name: str = "epoch"
    epochs: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)  # more metrics, per epoch
    due: list[float] = field(default_factory=list)
    full_seconds: float = 0.0  # time(x, r_max): what training the config to the end costs
    hold_seconds: float = 0.0  # > 0: wait at the target for another segment
    held_since: float | None = None  # when it began to wait at epochs[-1]
    state: JobState = JobState.RUNNING
    ended: float | None = None
    next: int = 0  # index of the next epoch to report

    @property
    def next_due(self) -> float | None:
        return self.due[self.next] if self.next < len(self.due) else None

    @property
    def hold_ends(self) -> float | None:
        """When a waiting job gives up (None when it does not wait)."""
        return None if self.held_since is None else self.held_since + self.hold_seconds


@dataclass
class SimStats:
    """What the simulated workers did (for utilisation and work counts)."""

    busy_seconds: float = 0.0  # worker-seconds spent in jobs, up to their end or cancel
    epochs_trained: int = 0  # epochs whose report was written
    jobs: int = 0
    slots_used: set[int] = field(default_factory=set)
    peak_running: int = 0
    queued_seconds: float = 0.0  # job-seconds spent waiting in the queue, up to the deadline


class SimClock:
    """Simulated seconds since 0; :meth:`sleep` jumps to the next event of its backend.

    ``deadline`` (simulated seconds) caps every jump, so a budget that ends between two events
    is noticed at that instant: the clock stops two microseconds after it, because
    :meth:`utcnow` has microsecond resolution and the controller's wall-clock budget check
    (``elapsed >= max_wall_hours * 3600``, with float rounding) must see the budget spent.
    Busy worker time is counted up to ``deadline`` only. The backend registers itself with
    :meth:`attach`.
    """

    def __init__(self, origin: datetime = DEFAULT_ORIGIN, deadline: float | None = None) -> None:
        self.origin = origin
        self.deadline = deadline
        self._now = 0.0
        self._stop = None if deadline is None else math.ceil(deadline * 1e6) / 1e6 + 2e-6
        self._backend: SimulatedBackend | None = None
        self._still = 0

    def attach(self, backend: SimulatedBackend) -> None:
        self._backend = backend

    def now(self) -> float:
        return self._now

    def utcnow(self) -> datetime:
        return self.origin + timedelta(seconds=self._now)

    def timestamp(self, seconds: float) -> float:
        """Unix time of simulated instant ``seconds`` (the ``time`` key of metric lines)."""
        return self.origin.timestamp() + seconds

    def sleep(self, seconds: float) -> None:
        """Advance to the next event (``seconds`` is ignored: polling is free in simulation)."""
        backend = self._backend
        if backend is not None and backend.has_news():
            target: float | None = self._now
        else:
            target = None if backend is None else backend.next_event()
            if self._stop is not None and self._now < self._stop:
                target = self._stop if target is None else min(target, self._stop)
        if target is None:
            raise SimulationStalled(
                f"simulated time {self._now:.1f} s: no job runs and no deadline is set; "
                "give the study a max_wall_hours budget or check the scheduler"
            )
        self._still = self._still + 1 if target <= self._now else 0
        if self._still > MAX_STILL_CYCLES:
            raise SimulationStalled(
                f"simulated time stuck at {self._now:.1f} s for {self._still} controller cycles"
            )
        self._now = max(self._now, target)
        if backend is not None:
            backend.advance_to(self._now)


class SimulatedBackend:
    """The :class:`~slurmhpo.backends.base.Backend` of simulated jobs (see module docstring)."""

    name = "simulated"

    def __init__(
        self,
        task: CurveSource,
        clock: SimClock,
        workers: int,
        wake_resources: frozenset[int] | None = None,
        queue_wait: QueueWait | None = None,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError("workers", f"must be an integer >= 1, got {workers!r}")
        self.task = task
        self.clock = clock
        self.workers = workers
        self.wake_resources = wake_resources
        self.queue_wait = None if queue_wait is None or queue_wait.none else queue_wait
        self.stats = SimStats()
        self._jobs: dict[str, _SimJob] = {}
        self._running: dict[str, _SimJob] = {}
        self._keys: dict[str, str] = {}
        self._news: set[str] = set()  # ids whose end the controller has not polled yet
        clock.attach(self)

    # ---- the Backend protocol --------------------------------------------------------------
    def submit(self, requests: Sequence[SegmentRequest]) -> list[str]:
        """Start every request now; refuses a batch that needs more than ``workers`` slots."""
        self._answer_waiting()  # a job released in this very cycle frees its worker first
        if len(self._running) + len(requests) > self.workers:
            raise SlurmhpoError(
                f"the controller asked for {len(self._running) + len(requests)} simultaneous "
                f"simulated jobs but there are {self.workers} workers"
            )
        return [self._start(request) for request in requests]

    def poll(self, external_ids: Sequence[str]) -> dict[str, JobStatus]:
        answers = {}
        for external_id in external_ids:
            job = self._jobs.get(external_id)
            answers[external_id] = (
                JobStatus(JobState.UNKNOWN, reason="no such simulated job")
                if job is None
                else self._status(job)
            )
            self._news.discard(external_id)
        return answers

    def cancel(self, external_ids: Sequence[str]) -> None:
        """End each running job now; its worker is free at this very instant."""
        for external_id in external_ids:
            job = self._running.get(external_id)
            if job is not None:
                self._end(job, JobState.CANCELLED, self.clock.now())
                self._news.add(external_id)

    def find(self, job_keys: Sequence[str]) -> dict[str, str]:
        return {key: self._keys[key] for key in job_keys if key in self._keys}

    # ---- what the clock asks ---------------------------------------------------------------
    def has_news(self) -> bool:
        """True while a cancelled (or released) job has not been polled: time must not move
        yet, so the controller sees the free worker and refills it at that instant."""
        self._answer_waiting()
        return bool(self._news)

    def next_event(self) -> float | None:
        """The earliest instant the controller must look: an epoch end of a running job that
        is a wake resource (every epoch when ``wake_resources`` is None) or its target."""
        wakes = [self._next_wake(job) for job in self._running.values()]
        return min((wake for wake in wakes if wake is not None), default=None)

    def _next_wake(self, job: _SimJob) -> float | None:
        if job.held_since is not None:
            return None  # it counts as a free worker already: its giving up changes nothing
        if self.wake_resources is None:
            return job.due[job.next]
        for i in range(job.next, len(job.epochs) - 1):
            if job.epochs[i] in self.wake_resources:
                return job.due[i]
        return job.due[-1]

    def advance_to(self, now: float) -> None:
        """Write every report due by ``now``; end the jobs that reached their target."""
        for job in list(self._running.values()):
            lines = []
            while job.next_due is not None and job.next_due <= now:
                lines.append(self._line(job, job.next))
                job.next += 1
            if lines:
                with open(job.metric_file, "a", encoding="utf-8") as fh:
                    fh.write("".join(lines))
                self.stats.epochs_trained += len(lines)
            if job.hold_ends is not None and job.hold_ends <= now:
                gave_up = job.hold_ends  # as a wrapper does; an answer that came first wins
                task = next_task(claim(self._answer(job), ENDED_BY_JOB))
                if task is None:
                    self._end(job, JobState.COMPLETED, gave_up)
                else:
                    self._load(job, {str(k): str(v) for k, v in task["env"].items()}, gave_up)
            elif job.next_due is None and job.held_since is None:
                if job.hold_seconds > 0:
                    job.held_since = job.due[-1]
                    hold_marker(job.metric_file.parent, job.epochs[-1]).write_text("sim\n")
                else:
                    self._end(job, JobState.COMPLETED, job.due[-1] if job.due else now)

    def _answer_waiting(self) -> None:
        """Apply the controller's answers to the jobs waiting at their target."""
        now = self.clock.now()
        for job in list(self._running.values()):
            if job.held_since is None:
                continue
            answer = read_answer(self._answer(job))
            if answer is None:
                continue
            task = next_task(answer)
            if task is None:
                self._end(job, JobState.COMPLETED, now)
                self._news.add(job.external_id)
            else:
                self._load(job, {str(k): str(v) for k, v in task["env"].items()}, now)

    def _answer(self, job: _SimJob) -> Path:
        return answer_file(job.metric_file.parent, job.epochs[-1])

    # ---- internals -------------------------------------------------------------------------
    def _start(self, request: SegmentRequest) -> str:
        now = self.clock.now() + self._wait()  # the job starts once its queue wait is over
        external_id = f"sim-{self.stats.jobs}"
        used = {job.slot for job in self._running.values()}
        job = _SimJob(
            external_id=external_id,
            job_key=request.job_key,
            slot=min(set(range(self.workers)) - used),
            started=now,
        )
        self._load(job, request.env, now)
        self._jobs[external_id] = self._running[external_id] = job
        self._keys[request.job_key] = external_id
        self.stats.jobs += 1
        self.stats.slots_used.add(job.slot)
        self.stats.peak_running = max(self.stats.peak_running, len(self._running))
        return external_id

    def _load(self, job: _SimJob, env: Mapping[str, str], now: float) -> None:
        """Make the segment that ``env`` describes ``job``'s current one, starting at ``now``."""
        config = json.loads(Path(env[ENV_CONFIG]).read_text(encoding="utf-8"))
        start, target = int(env[ENV_START]), int(env[ENV_TARGET])
        if not 0 <= start < target <= self.task.r_max:
            raise SlurmhpoError(f"simulated segment {start}->{target} outside 0..{self.task.r_max}")
        epochs = list(range(start + 1, target + 1))
        curve = self.task.evaluate(config, epochs)
        base = self.task.cumulative_time(config, start)
        job.metric_file = Path(env[ENV_METRIC_FILE])
        job.resource_name = env.get(ENV_RESOURCE_NAME, "epoch")
        job.epochs = epochs
        job.values = [float(v) for v in curve.metric]
        job.extra = extra_metrics(self.task, config, epochs)
        job.due = [now + float(t) - base for t in curve.time]
        job.full_seconds = self.task.cumulative_time(config, self.task.r_max)
        job.next = 0
        job.hold_seconds = waits(env)
        job.held_since = None
        job.metric_file.parent.mkdir(parents=True, exist_ok=True)

    def _wait(self) -> float:
        """This job's queue wait (counted against the deadline, not as busy worker time)."""
        if self.queue_wait is None:
            return 0.0
        wait = self.queue_wait.draw()
        limit = math.inf if self.clock.deadline is None else self.clock.deadline
        self.stats.queued_seconds += max(
            0.0, min(self.clock.now() + wait, limit) - self.clock.now()
        )
        return wait

    def _line(self, job: _SimJob, index: int) -> str:
        value = job.values[index]
        record: dict[str, Any] = {
            job.resource_name: job.epochs[index],
            self.task.metric: value if math.isfinite(value) else float("nan"),
            FULL_SECONDS: job.full_seconds,
            "time": self.clock.timestamp(job.due[index]),
        }
        for name, values in job.extra.items():
            record[name] = values[index] if math.isfinite(values[index]) else float("nan")
        return json.dumps(record) + "\n"

    def _end(self, job: _SimJob, state: JobState, when: float) -> None:
        job.state, job.ended = state, when
        limit = math.inf if self.clock.deadline is None else self.clock.deadline
        self.stats.busy_seconds += max(0.0, min(when, limit) - min(job.started, limit))
        del self._running[job.external_id]

    def _status(self, job: _SimJob) -> JobStatus:
        started = self.clock.origin + timedelta(seconds=job.started)
        ended = None if job.ended is None else self.clock.origin + timedelta(seconds=job.ended)
        exit_code = 0 if job.state is JobState.COMPLETED else None
        if job.state is JobState.RUNNING and self.clock.now() < job.started:
            return JobStatus(JobState.PENDING)  # still queued
        return JobStatus(job.state, exit_code=exit_code, started_at=started, ended_at=ended)
