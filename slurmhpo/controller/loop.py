"""The controller loop: read, poll, ingest, reconcile, decide cancels, fill, write, act; again.

One cycle is :meth:`Controller.cycle`, and its order is the order of that function: each part
(:mod:`ingest`, :mod:`reconcile`, :mod:`cancels`, :mod:`fill`, :mod:`submit`) takes plain
values and adds what it decided to one :class:`~slurmhpo.store.cycle.CycleWrite`.

The database sees **one read and at most one write transaction per cycle**: everything the
cycle needs is read at its start (:func:`~slurmhpo.store.cycle.read_cycle`), and everything it
decided is written in one transaction that also renews the study's lease. A cycle in which
nothing happened writes nothing, except a lease renewal every third of the lease's TTL.

Crash safety comes from one rule: **every decision is committed before it is acted on, and
every act is idempotent.**

* The scheduler's state is never stored; its event history is (the ``decisions`` table). On
  start the controller rebuilds the scheduler by replaying that history, so it decides
  exactly as before the restart. If a cycle's write fails, the in-memory scheduler may have
  run ahead of the database, so it is rebuilt again before the next cycle.
* Observations, the decisions they caused and the metric-file byte offset of their job are
  written in one transaction: after a crash the file is re-read from the stored offset, and
  the same lines yield the same decisions, stored once.
* A new job is first a ``pending`` row with a unique key; only after that row commits is the
  job submitted. Its external id is stored by the next cycle's write (or at a clean close);
  a crash before that is healed at the next start by asking the backend for jobs with the
  key (:meth:`Backend.find`), so no job is submitted twice or orphaned.
* Which jobs must be cancelled is derived each cycle from the scheduler's view and the budget,
  so a crash between "decide to stop" and ``scancel`` only delays the cancel.
* A per-study lease, renewed in the cycle's write and judged by the database server's clock,
  keeps a second controller from driving the same study. A controller acts only after a
  write that renewed it, or within a third of the TTL of the last renewal.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slurmhpo.backends.base import Backend, JobState, JobStatus
from slurmhpo.controller.budget import spent_limit
from slurmhpo.controller.cancels import jobs_to_cancel
from slurmhpo.controller.clock import Clock, RealClock
from slurmhpo.controller.commands import CommandPlan, plan_commands
from slurmhpo.controller.ending import record_cancel, record_failure
from slurmhpo.controller.failfast import FailFast
from slurmhpo.controller.fill import fill
from slurmhpo.controller.ingest import end_of_file_problem, ingest
from slurmhpo.controller.inplace import Continued, Placement, at_rung, fits_time_limit, place
from slurmhpo.controller.lease import LeaseHeld, take_lease
from slurmhpo.controller.reconcile import LostWatch, reconcile
from slurmhpo.controller.segments import segment_metric_file
from slurmhpo.controller.submit import Submitter
from slurmhpo.controller.warm_start import gather_warm_start, warm_start_names
from slurmhpo.errors import BackendUnavailable, SlurmhpoError, StoreError
from slurmhpo.paths import TrialPaths
from slurmhpo.scheduling.base import Scheduler
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import event_from_dict, rebuild
from slurmhpo.states import JobRowState, StudyState, TrialState
from slurmhpo.store import leases, runtime
from slurmhpo.store.cycle import (
    ActiveJob,
    Applied,
    CycleRead,
    CycleWrite,
    PendingSegment,
    apply_cycle_write,
    has_observations,
    read_cycle,
)
from slurmhpo.store.db import read_session, write_session
from slurmhpo.store.queries import append_decision, get_study, json_safe, list_decisions
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("slurmhpo.controller")

MAX_STORE_BACKOFF = 30.0  # seconds between retries while the database is unavailable


@dataclass(frozen=True)
class ControllerOptions:
    """Knobs of the loop; the defaults suit a login node (few queries, no busy loop)."""

    runs_dir: Path
    poll_interval: float = 5.0
    lease_ttl: float = 60.0
    lost_after: float = 600.0  # a job invisible to the backend this long is lost
    max_submit_failures: int = 3


@dataclass(frozen=True)
class Submitted:
    """A job this process started (or continued in place) whose id no write stored yet."""

    external_id: str
    at: datetime
    continues: Continued | None = None  # the waiting job whose process runs this segment


@dataclass(frozen=True)
class DrivenStudy:
    """The study row's identity and state as this controller last wrote it."""

    id: int
    name: str
    created_at: datetime | None
    state: str
    uid: str  # never repeats (see Study): with run_key, names the study's folder
    run_key: str


class Controller:
    """Drives one study to its end on one backend (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        study_name: str,
        backend: Backend,
        options: ControllerOptions,
        clock: Clock | None = None,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.study_name = study_name
        self.backend = backend
        self.options = options
        self.clock: Clock = clock or RealClock()
        # e.g. "slurm:<job id>@host:pid:uuid" for a controller running inside a Slurm job
        self.owner = owner or leases.make_owner()
        self.study: DrivenStudy
        self.spec: StudySpec
        self.scheduler: Scheduler
        self.backend_actions = 0  # submit/cancel/find calls of the last cycle
        # (first seq, last seq, time.time() after the commit) of the decisions the last cycle
        # stored: the load benchmark's write-to-decision latency ends there
        self.last_commit: tuple[int, int, float] | None = None
        self._spec_dict: dict[str, Any] = {}
        self._stop_requested = False
        self._needs_rebuild = False
        self._renewed_at = -float("inf")  # time.monotonic() of the last lease renewal
        self._paused: frozenset[int] = frozenset()  # trial numbers stored as paused
        self._cancelled: set[int] = set()  # job ids this process asked the backend to cancel
        self._unrecorded: dict[int, Submitted] = {}  # by job id: submitted, id not yet stored
        self._known_ids: list[str] = []  # external ids of the active jobs after the last cycle
        self._logged_problems: set[tuple[str, int, str]] = set()
        self._watch = LostWatch(options.lost_after)
        self._failfast = FailFast()
        self.failure: str | None = None  # why the study ended failed, when it did
        # external ids of a failed study's jobs that scancel could not reach yet
        self._cancel_after_failure: list[str] = []
        self._store_failures = 0  # failed cycles in a row for want of the database
        self._submitter = Submitter(
            backend,
            options.runs_dir,
            options.max_submit_failures,
            key_of=lambda job_id: runtime.job_key(self.study, job_id),
        )

    # ---- life cycle ------------------------------------------------------------------------
    def open(self) -> None:
        """Take the lease, load the study, rebuild the scheduler from its history."""
        with write_session(self.engine) as session:
            study = get_study(session, self.study_name)
            if not take_lease(session, study.id, self.owner, self.options.lease_ttl):
                held = leases.current_lease(session, study.id)
                holder = held[0].owner if held else "another controller"
                raise LeaseHeld(
                    f"study {study.name!r} is driven by {holder}; wait until it stops or its "
                    f"lease expires ({self.options.lease_ttl:.0f} s after its last heartbeat)"
                )
            if study.state == StudyState.REGISTERED:
                study.state = StudyState.RUNNING
            self.study = DrivenStudy(
                study.id, study.name, study.created_at, study.state, study.uid, study.run_key
            )
            self._spec_dict = dict(study.spec)
        self._renewed_at = time.monotonic()
        self.spec = StudySpec.from_dict(self._spec_dict)
        self._record_warm_start()
        self._rebuild()
        with read_session(self.engine) as session:
            jobs = read_cycle(session, self.study.id).jobs
            self._failfast.armed = not has_observations(session, self.study.id)
        self._submitter.may_be_submitted = {j.id for j in jobs if j.external_id is None}
        self._known_ids = [j.external_id for j in jobs if j.external_id]
        log.info("driving study %s as %s", self.study.name, self.owner)

    def close(self) -> None:
        """Store the ids of jobs submitted since the last write, release the lease; running
        jobs go on and the next controller adopts them."""
        with write_session(self.engine) as session:
            if self._unrecorded:
                write = CycleWrite()
                self._record_submitted(write, set(self._unrecorded))
                apply_cycle_write(session, self.study.id, self.owner, write, **self._write_args())
            leases.release_lease(session, self.study.id, self.owner)
        self._unrecorded.clear()

    def request_stop(self) -> None:
        """Stop after the current cycle (SIGTERM/SIGINT): jobs keep running."""
        self._stop_requested = True
        wake = getattr(self.clock, "wake", None)
        if wake is not None:
            wake()

    def run(self) -> str:
        """Open, cycle until the study ends or a stop is requested, close; returns the study's
        final state, or "interrupted".

        A database that cannot be reached or is locked (a PostgreSQL restart, another process
        holding SQLite's write lock) does not end the run: the cycle is retried, with a log
        line and a growing pause (up to :data:`MAX_STORE_BACKOFF` s). A failed cycle wrote
        nothing and the scheduler is rebuilt from the stored history, so nothing is lost.
        """
        self.open()
        try:
            while not self._stop_requested:
                try:
                    more = self.cycle()
                except StoreError as exc:
                    self._store_failures += 1
                    pause = self._store_backoff()
                    log.warning(
                        "database error (%d in a row): %s; retrying in %.0f s",
                        self._store_failures,
                        exc,
                        pause,
                    )
                    self.clock.sleep(pause)
                    continue
                if self._store_failures:
                    log.info("the database answers again; going on")
                    self._store_failures = 0
                if not more:
                    break
                self.clock.sleep(self.options.poll_interval)
        finally:
            self.close()
        return self.study.state if self.ended else "interrupted"

    def _store_backoff(self) -> float:
        doubled = self.options.poll_interval * 2 ** min(self._store_failures, 10)
        return min(MAX_STORE_BACKOFF, max(1.0, doubled))

    @property
    def finished(self) -> bool:
        return self.study.state == StudyState.FINISHED

    @property
    def ended(self) -> bool:
        return StudyState(self.study.state).ended

    def external_ids(self) -> list[str]:
        """Backend ids of the study's jobs that have not ended: what the next cycle polls."""
        return list(self._known_ids)

    # ---- one cycle -------------------------------------------------------------------------
    def cycle(self, *, act: bool = True) -> bool:
        """One pass of the loop; False once the study has ended.

        With ``act=False`` the cycle observes and decides but leaves cancelling and submitting
        to a later cycle (new jobs wait as pending rows): the daemon uses it to bound the
        Slurm commands of one round however many studies have something to do.
        :attr:`backend_actions` counts the submit/cancel/find calls the cycle made.
        """
        self.backend_actions = 0
        self.last_commit = None
        if self._needs_rebuild:
            self._rebuild()
        try:
            return self._cycle(act)
        except SlurmhpoError:
            self._needs_rebuild = True
            raise

    def _cycle(self, act: bool) -> bool:
        if self._cancel_after_failure:
            return self._finish_failure()
        seen = self._read()
        write = CycleWrite()
        jobs = self._record_submitted(write, {j.id for j in seen.jobs}, seen.jobs)
        plan = plan_commands(seen.commands, self.study.name, self.study.state, self._spec_dict)
        if plan.cancel is not None:
            return self._cancel_study(jobs, seen, plan, write)
        self._apply_plan(plan, write)
        statuses = self._poll(jobs)
        spent = spent_limit(
            self.spec, seen.job_times, self._first_submitted(seen), self.clock.utcnow()
        )
        reached = {n: t.reached_resource for n, t in seen.trials.items()}
        ingested = ingest(jobs, reached, self.scheduler, self.spec, write, self._logged_problems)
        reached_now = {n: (r or 0) for n, r in (reached | ingested.reached).items()}
        reconciled = reconcile(
            jobs,
            statuses,
            reached_now,
            self.scheduler,
            self.spec,
            write,
            watch=self._watch,
            now=self.clock.now(),
            utcnow=self.clock.utcnow(),
            cancelled_here=self._cancelled,
            budget_spent=spent,
            unread=ingested.unread,
        )
        self._warn_at_end(jobs, reconciled.ended, ingested.offsets)
        worked = bool(write.observations) or reconciled.completed
        reason = self._failfast.check(reconciled.early, worked=worked)
        if reason is not None:
            return self._fail_study(jobs, reconciled.ended, write, reason)
        live = [job for job in jobs if job.id not in reconciled.ended]
        waiting = at_rung(jobs, reached_now)  # continue in place: these wait for an answer
        idle = [job for job in waiting if job.id not in reconciled.ended]  # free workers
        # A job at its rung is done with its trial: if the trial was stopped meanwhile, the
        # job is released or handed another trial's segment, never cancelled.
        working = [job for job in live if job not in idle] if spent is None else live
        doomed = jobs_to_cancel(working, self.scheduler, spent, self._cancelled) if act else []
        paused = self._paused | ingested.paused
        filled = fill(
            self.scheduler,
            self.spec,
            write,
            study_state=self.study.state,
            budget_spent=spent,
            busy=len(live) - len(idle) + reconciled.retried,
            started=seen.started_trials,
            paused=paused,
        )
        ended = not live and not write.new_jobs and (not filled.more or spent is not None)
        if ended:
            write.study.update(state=StudyState.FINISHED, finished_at=self.clock.utcnow())
        unsubmitted = [job for job in live if job.external_id is None]
        acting = bool(doomed) or (act and bool(unsubmitted or waiting))
        applied = self._write(write, acting=acting)
        self._paused = (paused - filled.resumed) - filled.retired
        if ended:
            return self._ended(applied.study_state or StudyState.FINISHED)
        segments = self._segments(unsubmitted, seen, applied.created)
        may_wait_idle = (  # something still running may yet give an idle job work
            spent is None and self.study.state == StudyState.RUNNING and len(live) > len(idle)
        )
        running = self._act(
            doomed,
            segments,
            act=act,
            waiting=waiting,
            statuses=statuses,
            may_wait_idle=may_wait_idle,
        )
        known = [j.external_id for j in live if j.external_id] + running
        self._known_ids = list(dict.fromkeys(known))  # a continued job keeps its id
        return True

    def _warn_at_end(
        self, jobs: Sequence[ActiveJob], ended: frozenset[int], offsets: dict[int, int]
    ) -> None:
        """Say so when a job ended with its metric file damaged for good (a last line never
        finished, the file deleted): no later read can repair it."""
        for job in jobs:
            if job.id not in ended:
                continue
            offset = offsets.get(job.id, job.metric_offset)
            problem = end_of_file_problem(job.metric_path, offset)
            if problem:
                log.warning("trial %d, job %s: %s", job.trial_number, job.external_id, problem)

    def _read(self) -> CycleRead:
        """The cycle's one read transaction."""
        budget = self.spec.budget
        with read_session(self.engine) as session:
            return read_cycle(
                session,
                self.study.id,
                job_times=budget.max_gpu_hours is not None,
                first_submitted=budget.max_wall_hours is not None,
            )

    def _write(self, write: CycleWrite, *, acting: bool) -> Applied:
        """The cycle's one write transaction, with the lease renewal; skipped when there is
        nothing to store, nothing to act on and the lease is not due for renewal."""
        due = time.monotonic() - self._renewed_at >= self.options.lease_ttl / 3
        if not write and not acting and not due:
            return Applied([], None)
        renewed_at = time.monotonic()
        with write_session(self.engine) as session:
            if not leases.renew_lease(session, self.study.id, self.owner, self.options.lease_ttl):
                raise LeaseHeld(
                    f"lost the lease of study {self.study.name!r} (another controller took it "
                    "over after a missed heartbeat); stopping without acting"
                )
            applied = apply_cycle_write(
                session, self.study.id, self.owner, write, **self._write_args()
            )
        self._renewed_at = renewed_at
        self._forget_recorded(write)
        if applied.decision_seqs is not None:
            self.last_commit = (*applied.decision_seqs, time.time())
        return applied

    def _forget_recorded(self, write: CycleWrite) -> None:
        for job_id, columns in write.job_updates.items():
            if "external_id" in columns:
                self._unrecorded.pop(job_id, None)

    def _write_args(self) -> dict[str, Any]:
        runs_dir, key = self.options.runs_dir, self.study.run_key

        def metric_path(number: int, segment: int) -> str:
            return str(segment_metric_file(TrialPaths(runs_dir, key, number), segment))

        return {"backend": self.backend.name, "metric_path": metric_path}

    def _record_submitted(
        self, write: CycleWrite, job_ids: set[int], jobs: Sequence[ActiveJob] = ()
    ) -> list[ActiveJob]:
        """Add the ids of jobs submitted since the last write to ``write``; returns ``jobs``
        as they are once that write lands (their external ids filled in). They stay in
        memory until a write stored them (:meth:`_write` forgets them then)."""
        ended: set[int] = set()
        for job_id in job_ids & set(self._unrecorded):
            submitted = self._unrecorded[job_id]
            if submitted.continues is None:
                write.update_job(
                    job_id,
                    external_id=submitted.external_id,
                    state=JobRowState.SUBMITTED,
                    submitted_at=submitted.at,
                )
                continue
            # Continued in place: this row takes over the waiting job, whose row ends (its
            # segment is done). started_at is the hand-over, so GPU hours count once.
            holder = submitted.continues.holder
            write.update_job(
                job_id,
                external_id=submitted.external_id,
                state=JobRowState.SUBMITTED,
                submitted_at=submitted.at,
                started_at=submitted.at,
            )
            write.update_job(holder.id, state=JobRowState.COMPLETED, ended_at=submitted.at)
            ended.add(holder.id)
        updates = write.job_updates
        return [
            dataclasses.replace(job, **_submitted_columns(updates[job.id]))
            if job.external_id is None and "external_id" in updates.get(job.id, {})
            else job
            for job in jobs
            if job.id not in ended
        ]

    def _first_submitted(self, seen: CycleRead) -> datetime | None:
        """When the study's first job was submitted (the wall-clock budget's start)."""
        times = [t for t in (seen.first_submitted, *self._submitted_times()) if t is not None]
        return min(times) if times else None

    def _submitted_times(self) -> list[datetime]:
        return [submitted.at for submitted in self._unrecorded.values()]

    def _apply_plan(self, plan: CommandPlan, write: CycleWrite) -> None:
        """Take the operators' commands into the cycle's write and this controller's view."""
        if not plan.applied:
            return
        write.applied_commands.extend(plan.applied)
        if plan.state != self.study.state:
            write.study["state"] = plan.state
            self.study = dataclasses.replace(self.study, state=plan.state)
        if plan.spec != self._spec_dict:
            write.study["spec"] = json_safe(plan.spec)
            self._spec_dict = plan.spec
            self.spec = StudySpec.from_dict(plan.spec)

    def _cancel_study(
        self, jobs: list[ActiveJob], seen: CycleRead, plan: CommandPlan, write: CycleWrite
    ) -> bool:
        """``slurmhpo cancel``: cancel every job (act first: scancel is idempotent, and the
        lease was renewed within a third of its TTL), then record the end in one write."""
        assert plan.cancel is not None
        ids = [job.external_id for job in jobs if job.external_id]
        unsubmitted = {runtime.job_key(self.study, j.id): j for j in jobs if not j.external_id}
        if unsubmitted:  # a job may have been submitted just before a crash, its id unrecorded
            self.backend_actions += 1
            ids += list(self.backend.find(list(unsubmitted)).values())
        if ids and not self._try_cancel(ids, f"study {self.study.name}'s"):
            # The command stays pending, so the next cycle tries again (the study ends once
            # its jobs are cancelled); the submissions recorded in ``write`` are stored now.
            self._write(write, acting=False)
            return True
        write.applied_commands.extend(plan.applied)
        trials = list(seen.trials.values())
        now = self.clock.utcnow()
        result = record_cancel(write, jobs, trials, plan.cancel.id, len(ids), now)
        self._write(write, acting=True)
        self.study = dataclasses.replace(self.study, state=StudyState.CANCELLED)
        log.info("study %s: cancel (command %d): %s", self.study.name, plan.cancel.id, result)
        return False

    def _ended(self, state: str) -> bool:
        """Take the study's final state; always False (the cycle's answer: it has ended)."""
        self.study = dataclasses.replace(self.study, state=state)
        if state == StudyState.FAILED and self.failure is None:
            self.failure = (
                f"every trial failed (see: slurmhpo trials {self.study.name} --state failed)"
            )
        if self.failure:
            log.error("study %s failed: %s", self.study.name, self.failure)
        else:
            log.info("study %s %s", self.study.name, state)
        return False

    def _fail_study(
        self,
        jobs: Sequence[ActiveJob],
        ended: frozenset[int],
        write: CycleWrite,
        reason: str,
    ) -> bool:
        """End the study ``failed`` now (:mod:`failfast`): nothing new starts, retries are
        dropped, running jobs are cancelled after the write that records it."""
        self.failure = reason
        live = [job for job in jobs if job.id not in ended]
        record_failure(write, live, jobs, reason, self.clock.utcnow())
        self._write(write, acting=True)
        self._cancel_after_failure = [job.external_id for job in live if job.external_id]
        return self._finish_failure()

    def _finish_failure(self) -> bool:
        """Cancel the failed study's jobs, then end the drive. The failure is stored already;
        while the backend cannot be reached (slurmctld down), each cycle tries again rather
        than leave the jobs running with nobody to cancel them."""
        if self._cancel_after_failure:
            whose = f"failed study {self.study.name}'s"
            if not self._try_cancel(self._cancel_after_failure, whose):
                self._write(CycleWrite(), acting=False)  # keeps the lease
                return True
            self._cancel_after_failure = []
        return self._ended(StudyState.FAILED)

    def _poll(self, jobs: Sequence[ActiveJob]) -> dict[int, JobStatus]:
        """One batched status query; job id -> status (UNKNOWN when the backend is unsure)."""
        ids = [job.external_id for job in jobs if job.external_id]
        answers = self.backend.poll(ids) if ids else {}
        unknown = JobStatus(JobState.UNKNOWN)
        return {job.id: answers.get(job.external_id, unknown) for job in jobs if job.external_id}

    def _segments(
        self, unsubmitted: Sequence[ActiveJob], seen: CycleRead, created: list[PendingSegment]
    ) -> list[PendingSegment]:
        """What submitting needs of every pending job: older rows and those just created."""
        older = [
            PendingSegment(
                job.id,
                job.trial_number,
                seen.trials[job.trial_number].config,
                job.start_resource,
                job.target_resource,
                seen.unsubmitted_segments[job.id],
            )
            for job in unsubmitted
        ]
        return [self._checkpoint_work(segment) for segment in older + created]

    def _checkpoint_work(self, segment: PendingSegment) -> PendingSegment:
        """Mark what :mod:`~slurmhpo.controller.checkpoints` must do before the segment runs:
        nothing unless trials start from others' checkpoints, and nothing on the simulated
        backend, which has no files to copy (it continues the new trial's own curve from the
        start resource, see docs/benchmarks.md)."""
        if not self.scheduler.copies_checkpoints or self.backend.name == "simulated":
            return segment
        source = self.scheduler.checkpoint_source(segment.trial_number)
        if source is not None and source[1] == segment.start:
            return dataclasses.replace(segment, source=source)
        return dataclasses.replace(segment, keep=segment.start > 0)

    def _act(
        self,
        doomed: Sequence[ActiveJob],
        segments: Sequence[PendingSegment],
        *,
        act: bool,
        waiting: Sequence[ActiveJob] = (),
        statuses: dict[int, JobStatus] | None = None,
        may_wait_idle: bool = False,
    ) -> list[str]:
        """Cancel, hand segments to waiting jobs, submit the rest, after the write that
        decided it committed; returns the external ids of the jobs that run the segments now
        (stored by the next write)."""
        if doomed:
            self._cancel_doomed(doomed)
        if not act or not (segments or waiting):
            return []
        hold = self.study.state == StudyState.PAUSED
        now = self.clock.utcnow()
        placed = self._hand_over(
            [] if hold else segments, waiting, statuses or {}, now, may_wait_idle
        )
        fresh = segments if hold else placed.fresh
        submitted = self._submitter.submit(self.spec, self.study, fresh, hold=hold) if fresh else {}
        self.backend_actions += self._submitter.calls if fresh else 0
        self._unrecorded.update({job_id: Submitted(ext, now) for job_id, ext in submitted.items()})
        return [c.external_id for c in placed.continued.values()] + list(submitted.values())

    def _hand_over(
        self,
        segments: Sequence[PendingSegment],
        waiting: Sequence[ActiveJob],
        statuses: dict[int, JobStatus],
        now: datetime,
        may_wait_idle: bool,
    ) -> Placement:
        """Continue in place (:mod:`inplace`): segments go to jobs waiting at their rung."""
        if not waiting:
            return Placement({}, list(segments), 0)
        limit = self.spec.slurm.time_min * 60.0 if self.backend.name == "slurm" else None

        def fits(job: ActiveJob, segment: PendingSegment) -> bool:
            status = statuses.get(job.id)
            started = (status.started_at if status else None) or job.started_at
            return fits_time_limit(job, segment, now=now, job_started=started, limit_seconds=limit)

        placed = place(
            segments,
            waiting,
            key_of=lambda job_id: runtime.job_key(self.study, job_id),
            request_of=lambda segment: self._submitter.request(self.spec, self.study, segment),
            fits=fits,
            may_wait_idle=may_wait_idle,
        )
        for job_id, continued in placed.continued.items():
            self._unrecorded[job_id] = Submitted(continued.external_id, now, continued)
        if placed.continued or placed.released:
            log.info(
                "handed %d segment(s) to jobs waiting at their rung; released %d",
                len(placed.continued),
                placed.released,
            )
        return placed

    def _record_warm_start(self) -> None:
        """Store the warm-start event as the first decision of a study that asks for one
        (:mod:`~slurmhpo.controller.warm_start`); :meth:`_rebuild` then feeds it. Only while
        the history is empty: once written, the recorded event is what every restart
        replays, whatever became of the studies it was read from."""
        if not warm_start_names(self.spec):
            return
        with write_session(self.engine) as session:
            study = get_study(session, self.study_name)
            if study.last_decision_seq:
                return
            event = gather_warm_start(session, self.spec)
            fed = ", ".join(f"{s['study']} ({s['observations']} results)" for s in event.sources)
            append_decision(
                session, study, "warm_start", event.to_dict(), reason=f"model fed by {fed}"
            )
        log.info("study %s: warm start from %s", self.study.name, fed)

    def _cancel_doomed(self, doomed: Sequence[ActiveJob]) -> None:
        """Cancel the jobs nobody wants any more. While the backend cannot be reached
        (slurmctld down) they stay off :attr:`_cancelled`, so the next cycle derives and
        tries the same cancel again; the jobs meanwhile run on and their reports past the
        stop are not observations."""
        if self._try_cancel([job.external_id for job in doomed if job.external_id]):
            self._cancelled.update(job.id for job in doomed)
            log.info("cancelled %d job(s)", len(doomed))

    def _try_cancel(self, external_ids: Sequence[str], whose: str = "") -> bool:
        """One scancel of ``external_ids``; False, with a log line, while the backend cannot
        be reached (slurmctld down): the caller keeps what it needs to try again next cycle."""
        self.backend_actions += 1
        try:
            self.backend.cancel(external_ids)
        except BackendUnavailable as exc:
            jobs = f"{whose} {len(external_ids)} job(s)".lstrip()
            log.warning("could not cancel %s: %s; trying again next cycle", jobs, exc)
            return False
        return True

    def _rebuild(self) -> None:
        """Replay the stored decisions into a fresh scheduler; re-read the paused trials."""
        with read_session(self.engine) as session:
            study = get_study(session, self.study_name)
            payloads = [d.payload for d in list_decisions(session, study)]
            self._paused = frozenset(
                runtime.trial_numbers_in_state(session, study, TrialState.PAUSED)
            )
        space = self.spec.space
        spec_dict = self.spec.to_dict()
        self.scheduler = rebuild(
            lambda: make_scheduler(spec_dict, space, self.spec.seed),
            [event_from_dict(p) for p in payloads],
        )
        self._needs_rebuild = False


def _submitted_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """The columns of a just-submitted (or continued) row that the cycle's view must show."""
    names = ("external_id", "state", "submitted_at", "started_at", "metric_path", "metric_offset")
    return {name: columns[name] for name in names if name in columns}
