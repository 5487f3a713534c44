"""Writer processes for the load benchmark: many metric files appended on a fixed beat.

Why processes, and few of them: the machine the benchmark runs on may have two cores, so one
process per trial is impossible at 1,000 trials; a handful of writers each keep a heap of
their files' next due instants and append each line when it is due, exactly as a training
script would: one line per report, built by :func:`slurmhpo.trial.make_record` (so ``time``
is the instant the line was made) and appended with :func:`slurmhpo.trial.append_line`
(``O_APPEND``, open and close per line, fsync as the trial side does).

A job's first line is due between 0.5 and 1.5 periods after it starts (a random phase, so
thousands of jobs started in one cycle do not all write in the same millisecond), then one
line per period. A writer that falls behind writes late lines at once and reports how late
(``lag``): the benchmark states whether the writers kept up.

Messages: the parent sends ``("start", job, path, start, target, quality)``, ``("stop", job)``
and ``("quit",)``; a writer sends back ``("done", job)`` when a job wrote its target line and
``("stats", WriterStats)`` when it quits. ``multiprocessing`` queues in both directions, so
neither side ever blocks on a full pipe.
"""

from __future__ import annotations

import heapq
import itertools
import json
import multiprocessing
import queue
import random
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slurmhpo.trial import append_line, make_record

IDLE_SLEEP_S = 0.01  # longest nap between two looks at the command queue


@dataclass(frozen=True)
class WriterStats:
    """What one writer did; lags are seconds between a line's due instant and its write."""

    lines: int
    lag_p50: float
    lag_p95: float
    lag_max: float
    cpu_seconds: float


def loss_at(quality: float, resource_level: int) -> float:
    """The curve every job reports: falls with the resource, ranks trials by ``quality``."""
    return quality + 1.0 / resource_level


@dataclass
class _Job:
    path: Path
    next_resource: int
    target: int
    quality: float


def run_writer(
    seed: int,
    inbox: Any,
    outbox: Any,
    period: float,
    resource_name: str,
    metric: str,
    fsync: bool,
) -> None:
    """The body of one writer process (see the module docstring)."""
    rng = random.Random(seed)
    jobs: dict[str, _Job] = {}
    due: list[tuple[float, int, str]] = []
    order = itertools.count()
    lags: list[float] = []
    while True:
        while True:
            try:
                message = inbox.get_nowait()
            except queue.Empty:
                break
            if message[0] == "quit":
                outbox.put(("stats", _stats(lags)))
                return
            if message[0] == "start":
                _, job, path, start, target, quality = message
                jobs[job] = _Job(Path(path), start + 1, target, quality)
                first = time.time() + period * (0.5 + rng.random())
                heapq.heappush(due, (first, next(order), job))
            else:
                jobs.pop(message[1], None)
        now = time.time()
        while due and due[0][0] <= now:
            when, _, name = heapq.heappop(due)
            job = jobs.get(name)
            if job is None:
                continue  # stopped
            level = job.next_resource
            record = make_record(resource_name, level, {metric: loss_at(job.quality, level)})
            append_line(job.path, (json.dumps(record) + "\n").encode(), fsync=fsync)
            lags.append(time.time() - when)
            job.next_resource += 1
            if level >= job.target:
                del jobs[name]
                outbox.put(("done", name))
            else:
                heapq.heappush(due, (when + period, next(order), name))
        wait = IDLE_SLEEP_S if not due else min(IDLE_SLEEP_S, due[0][0] - time.time())
        if wait > 0:
            time.sleep(wait)


def _stats(lags: list[float]) -> WriterStats:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ordered = sorted(lags)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    return WriterStats(
        lines=len(lags),
        lag_p50=at(0.5),
        lag_p95=at(0.95),
        lag_max=ordered[-1] if ordered else 0.0,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )


class WriterPool:
    """``writers`` processes sharing the jobs round-robin; the parent's side of the queues."""

    def __init__(
        self,
        writers: int,
        rate: float,
        *,
        resource_name: str,
        metric: str,
        seed: int = 0,
        fsync: bool = True,
    ) -> None:
        context = multiprocessing.get_context("spawn")  # no copy of the parent's DB engine
        self._inboxes = [context.Queue() for _ in range(writers)]
        self._outbox = context.Queue()
        self._owner: dict[str, int] = {}
        self._turn = itertools.cycle(range(writers))
        self._finished: list[str] = []
        self._stats: list[WriterStats] = []
        self._processes = [
            context.Process(
                target=run_writer,
                args=(seed + i, inbox, self._outbox, 1.0 / rate, resource_name, metric, fsync),
                daemon=True,
                name=f"slurmhpo-load-writer-{i}",
            )
            for i, inbox in enumerate(self._inboxes)
        ]
        for process in self._processes:
            process.start()

    def start(self, job: str, path: str, start: int, target: int, quality: float) -> None:
        writer = next(self._turn)
        self._owner[job] = writer
        self._inboxes[writer].put(("start", job, path, start, target, quality))

    def stop(self, job: str) -> None:
        writer = self._owner.pop(job, None)
        if writer is not None:
            self._inboxes[writer].put(("stop", job))

    def finished(self) -> list[str]:
        """Jobs that wrote their target line since the last call."""
        self._drain(block=False)
        done, self._finished = self._finished, []
        for job in done:
            self._owner.pop(job, None)
        return done

    def close(self, timeout: float = 30.0) -> list[WriterStats]:
        """Stop every writer and return what each did (fewer if one did not answer)."""
        for inbox in self._inboxes:
            inbox.put(("quit",))
        deadline = time.monotonic() + timeout
        while len(self._stats) < len(self._processes) and time.monotonic() < deadline:
            self._drain(block=True, timeout=max(0.0, deadline - time.monotonic()))
        for process in self._processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join()
        return list(self._stats)

    def _drain(self, *, block: bool, timeout: float = 0.0) -> None:
        while True:
            try:
                message = self._outbox.get(block, timeout) if block else self._outbox.get_nowait()
            except queue.Empty:
                return
            if message[0] == "done":
                self._finished.append(message[1])
            else:
                self._stats.append(message[1])
            block = False  # after the first blocking get, take only what is already there
