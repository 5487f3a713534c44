"""The controller loop: ingest, reconcile, decide, act, fill free slots; again.

Crash safety comes from one rule: **every decision is committed before it is acted on, and
every act is idempotent.**

* The scheduler's state is never stored; its event history is (the ``decisions`` table). On
  start the controller rebuilds the scheduler by replaying that history, so it decides
  exactly as before the restart. If a step's transaction fails, the in-memory scheduler may
  have run ahead of the database, so it is rebuilt again before the next step.
* Observations, the decisions they caused and the metric-file byte offset of their job are
  written in one transaction: after a crash the file is re-read from the stored offset, and
  the same lines yield the same decisions, stored once.
* A new job is first a ``pending`` row with a unique key; only then is it submitted, and its
  external id stored. A crash in between is healed at the next start by asking the backend
  for jobs with that key (:meth:`Backend.find`), so no job is submitted twice or orphaned.
* Which jobs must be cancelled is derived each cycle from the scheduler's view (trials it
  stopped or failed that still have a running job), so a crash between "decide to stop" and
  ``scancel`` only delays the cancel.
* A per-study lease, renewed every cycle and judged by the database server's clock, keeps a
  second controller from driving the same study.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from slurmhpo.backends.base import Backend, JobState, JobStatus, SegmentRequest
from slurmhpo.controller.budget import BudgetTracker
from slurmhpo.controller.clock import Clock, RealClock
from slurmhpo.controller.commands import apply_pending
from slurmhpo.controller.outcomes import LOST, Outcome, outcome_of
from slurmhpo.controller.segments import build_request, segment_metric_file
from slurmhpo.errors import SlurmhpoError
from slurmhpo.ingest import problem_key, read_new_records
from slurmhpo.paths import TrialPaths
from slurmhpo.scheduling.base import Scheduler, TrialStatus
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import Failed, Result, Suggested, event_from_dict, rebuild
from slurmhpo.scheduling.types import Action, ResumeTrial, StartTrial, Suggestion
from slurmhpo.store import leases, runtime
from slurmhpo.store.db import read_session, write_session
from slurmhpo.store.models import Job, Study, Trial
from slurmhpo.store.queries import (
    Report,
    append_decision,
    get_study,
    list_decisions,
    record_observations,
)
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

log = logging.getLogger("slurmhpo.controller")

TRIAL_STATE_OF_ACTION = {
    Action.PAUSE: "paused",
    Action.STOP: "stopped",
    Action.COMPLETE: "completed",
}
ENDED_STATUSES = (TrialStatus.STOPPED, TrialStatus.FAILED)
MAX_BYTES_PER_READ = 8 * 1024 * 1024  # one noisy job must not stall a cycle; the rest waits


class LeaseHeld(SlurmhpoError):
    """Another controller drives this study."""


def owner_is_dead_here(owner: str) -> bool:
    """True if lease owner ``host:pid:uuid`` is a process of this host that has ended.

    Unsure answers are False (another host, an unparsable owner, a pid we may not signal),
    so the lease is then left to expire as usual. A reused pid reads as alive: safe too.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@dataclass(frozen=True)
class ControllerOptions:
    """Knobs of the loop; the defaults suit a login node (few queries, no busy loop)."""

    runs_dir: Path
    poll_interval: float = 5.0
    lease_ttl: float = 60.0
    lost_after: float = 600.0  # a job invisible to the backend this long is lost
    max_submit_failures: int = 3


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
        self.study: Study
        self.spec: StudySpec
        self.scheduler: Scheduler
        self._stop_requested = False
        self._cancelled: set[int] = set()  # job ids this process asked the backend to cancel
        self._unknown_since: dict[int, float] = {}
        self._submit_failures = 0
        self._needs_rebuild = False
        self._may_be_submitted: set[int] = set()  # pending rows from before a restart
        self._exhausted: str | None = None  # the spent hard budget limit, if any
        self._logged_problems: set[tuple[str, int, str]] = set()
        self._paused: set[int] = set()  # trial numbers the DB shows as paused
        self.backend_actions = 0  # submit/cancel/find calls of the last cycle

    # ---- life cycle ------------------------------------------------------------------------
    def open(self) -> None:
        """Take the lease, load the study, rebuild the scheduler from its history."""
        with write_session(self.engine) as session:
            study = get_study(session, self.study_name)
            ttl = self.options.lease_ttl
            if not leases.acquire_lease(
                session, study.id, self.owner, ttl
            ) and not self._take_over_dead_holder(session, study.id):
                held = leases.current_lease(session, study.id)
                holder = held[0].owner if held else "another controller"
                raise LeaseHeld(
                    f"study {study.name!r} is driven by {holder}; wait until it stops or its "
                    f"lease expires ({self.options.lease_ttl:.0f} s after its last heartbeat)"
                )
            if study.state == "registered":
                study.state = "running"
            self.study = study
        self.spec = StudySpec.from_dict(self.study.spec)
        self.budget = BudgetTracker(self.study, self.spec, self.clock)
        self._rebuild()
        with read_session(self.engine) as session:
            pending = [j for j in runtime.active_jobs(session, self.study) if j.external_id is None]
        self._may_be_submitted = {job.id for job in pending}
        with read_session(self.engine) as session:
            self._paused = set(runtime.trial_numbers_in_state(session, self.study, "paused"))
        log.info("driving study %s as %s", self.study.name, self.owner)

    def _take_over_dead_holder(self, session: Session, study_id: int) -> bool:
        """Take the lease of a controller that died on THIS host (kill -9, OOM, a crash).

        Without this, a controller restarted right after a crash is refused until the dead
        one's lease expires (``lease_ttl``, 60 s by default). Only a holder whose owner id
        names this host and a process that no longer exists is taken over; the release is
        conditional on that exact owner, so a live controller is never displaced.
        """
        held = leases.current_lease(session, study_id)
        if held is None or not owner_is_dead_here(held[0].owner):
            return False
        dead = held[0].owner
        if not leases.release_lease(session, study_id, dead):
            return False
        taken = leases.acquire_lease(session, study_id, self.owner, self.options.lease_ttl)
        if taken:
            log.warning("took over the lease of %s: that process is gone", dead)
        return taken

    def close(self) -> None:
        """Release the lease; running jobs go on and the next controller adopts them."""
        with write_session(self.engine) as session:
            leases.release_lease(session, self.study.id, self.owner)

    def request_stop(self) -> None:
        """Stop after the current cycle (SIGTERM/SIGINT): jobs keep running."""
        self._stop_requested = True
        wake = getattr(self.clock, "wake", None)
        if wake is not None:
            wake()

    def run(self) -> str:
        """Open, cycle until the study ends or a stop is requested, close; returns the state."""
        self.open()
        try:
            while not self._stop_requested:
                if not self.cycle():
                    break
                self.clock.sleep(self.options.poll_interval)
        finally:
            self.close()
        return "finished" if self.finished else "interrupted"

    @property
    def finished(self) -> bool:
        return self.study.state == "finished"

    # ---- one cycle -------------------------------------------------------------------------
    def cycle(self, *, act: bool = True) -> bool:
        """One pass of the loop; False once the study has finished.

        With ``act=False`` the cycle observes and decides but leaves cancelling and submitting
        to a later cycle (new jobs wait as pending rows): the daemon uses it to bound the
        Slurm commands of one round however many studies have something to do.
        :attr:`backend_actions` counts the submit/cancel/find calls the cycle made.
        """
        self.backend_actions = 0
        if self._needs_rebuild:
            self._rebuild()
        self._heartbeat()
        try:
            if not apply_pending(self):  # operators' commands (slurmhpo pause/stop/cancel...)
                return False  # cancelled
            jobs = self._active_jobs()
            statuses = self._poll(jobs)
            self._ingest(jobs)
            self._settle(jobs, statuses)
            self._cancel_unwanted(act=act)
            more = self._fill()
            if act:
                self._submit_pending(hold=self.study.state == "paused")
        except SlurmhpoError:
            self._needs_rebuild = True
            raise
        return self._check_finished(more)

    def _rebuild(self) -> None:
        with read_session(self.engine) as session:
            payloads = [d.payload for d in list_decisions(session, self.study)]
        space = self.spec.space
        spec_dict = self.spec.to_dict()
        self.scheduler = rebuild(
            lambda: make_scheduler(spec_dict, space, self.spec.seed),
            [event_from_dict(p) for p in payloads],
        )
        self._needs_rebuild = False

    def _heartbeat(self) -> None:
        with write_session(self.engine) as session:
            if not leases.renew_lease(session, self.study.id, self.owner, self.options.lease_ttl):
                raise LeaseHeld(
                    f"lost the lease of study {self.study.name!r} (another controller took it "
                    "over after a missed heartbeat); stopping without acting"
                )

    def _active_jobs(self) -> list[Job]:
        with read_session(self.engine) as session:
            return runtime.active_jobs(session, self.study)

    def external_ids(self) -> list[str]:
        """Backend ids of the study's jobs that have not ended: what the next cycle polls."""
        return [job.external_id for job in self._active_jobs() if job.external_id]

    def _poll(self, jobs: Sequence[Job]) -> dict[int, JobStatus]:
        """One batched status query; job id -> status (UNKNOWN when the backend is unsure)."""
        ids = [job.external_id for job in jobs if job.external_id]
        answers = self.backend.poll(ids) if ids else {}
        unknown = JobStatus(JobState.UNKNOWN)
        return {job.id: answers.get(job.external_id, unknown) for job in jobs if job.external_id}

    # ---- ingest ----------------------------------------------------------------------------
    def _ingest(self, jobs: Sequence[Job]) -> None:
        """Read new metric lines of every active job; decide on each; store all in one go."""
        readable = [
            job for job in jobs if job.external_id and job.metric_path and _may_have_news(job)
        ]
        if not readable:
            return
        with write_session(self.engine) as session:
            fresh = runtime.jobs_by_id(session, [job.id for job in readable])
            trials = runtime.trials_by_id(session, {job.trial_id for job in fresh})
            for job in fresh:
                self._ingest_job(session, job, trials[job.trial_id])

    def _ingest_job(self, session: Session, job: Job, trial: Trial) -> None:
        result = read_new_records(
            Path(job.metric_path or ""),
            job.metric_offset,
            resource_name=self.spec.resource.name,
            metric=self.spec.objective.metric,
            max_bytes=MAX_BYTES_PER_READ,
        )
        for problem in result.problems:
            key = problem_key(job.metric_path or "", problem)
            if problem.kind != "missing" and key not in self._logged_problems:
                self._logged_problems.add(key)
                log.warning(
                    "trial %d, job %s: skipped metric data at byte %d of %s (%s: %s)",
                    trial.number,
                    job.external_id,
                    problem.offset,
                    job.metric_path,
                    problem.kind,
                    problem.detail,
                )
        job.metric_offset = result.new_offset
        reached = trial.reached_resource or 0
        reports: list[Report] = []
        for record in result.records:
            if record.resource <= reached or record.resource > job.target_resource:
                continue  # a re-report after a resume, or beyond what this segment was for
            if self.scheduler.trial_status(trial.number) is not TrialStatus.RUNNING:
                break  # the trial was paused or stopped: later lines are not observations
            action = self.scheduler.on_result(trial.number, record.resource, record.value)
            event = Result(trial.number, record.resource, record.value, action)
            append_decision(session, self.study, action.value, event.to_dict(), trial=trial)
            value = math.nan if record.value is None else record.value
            reports.append(Report(record.resource, value, record.metrics, record.reported_at))
            reached = record.resource
            if action is not Action.CONTINUE:
                runtime.set_trial_state(session, trial, TRIAL_STATE_OF_ACTION[action])
                if action is Action.PAUSE:
                    self._paused.add(trial.number)
        record_observations(session, trial, reports, job=job)

    # ---- reconcile ended jobs --------------------------------------------------------------
    def _settle(self, jobs: Sequence[Job], statuses: dict[int, JobStatus]) -> None:
        """Record job transitions; retry or fail trials whose job ended too early."""
        now = self.clock.now()
        changed = [j.id for j in jobs if j.id in statuses and self._changed(j, statuses, now)]
        if not changed:
            return  # no transition to record: skip the write transaction
        with write_session(self.engine) as session:
            for job in runtime.jobs_by_id(session, changed):
                status = statuses[job.id]
                outcome = self._outcome(job, status, now)
                if outcome is None:
                    self._note_progress(session, job, status)
                else:
                    self._job_ended(session, job, status, outcome)

    def _changed(self, job: Job, statuses: dict[int, JobStatus], now: float) -> bool:
        """Whether settling ``job`` writes anything: it ended (or was lost), or started."""
        status = statuses[job.id]
        if self._outcome(job, status, now) is not None:
            return True
        return status.state is JobState.RUNNING and job.state != "running"

    def _outcome(self, job: Job, status: JobStatus, now: float) -> Outcome | None:
        """The job's outcome once it has ended (or was lost), else None."""
        if status.state is JobState.UNKNOWN:
            since = self._unknown_since.setdefault(job.id, now)
            return LOST if now - since >= self.options.lost_after else None
        self._unknown_since.pop(job.id, None)
        return outcome_of(status.state) if status.state.finished else None

    def _note_progress(self, session: Session, job: Job, status: JobStatus) -> None:
        if status.state is JobState.RUNNING and job.state != "running":
            runtime.set_job_state(
                session, job, "running", started_at=status.started_at or self.clock.utcnow()
            )

    def _job_ended(self, session: Session, job: Job, status: JobStatus, outcome: Outcome) -> None:
        trial = session.get_one(Trial, job.trial_id)
        ours = job.id in self._cancelled
        state = "cancelled" if ours and status.state is JobState.CANCELLED else outcome.job_state
        detail = f"job {job.external_id} {outcome.describe}"
        if status.exit_code is not None:
            detail += f" (exit code {status.exit_code})"
        if status.reason:
            detail += f": {status.reason}"
        runtime.set_job_state(
            session,
            job,
            state,
            exit_reason=None if state == "completed" else detail,
            started_at=status.started_at,
            ended_at=status.ended_at or self.clock.utcnow(),
        )
        if self._work_done(trial, job):
            return  # the job reached its target, or its trial was paused or stopped: expected
        if ours:  # cancelled because a hard budget limit was spent
            detail = f"stopped: the study's {self._exhausted} budget is spent"
        elif outcome.retryable and job.attempt < self.spec.trial.max_retries:
            log.warning("trial %d: %s; retrying from its last checkpoint", trial.number, detail)
            start = max(trial.reached_resource or 0, job.start_resource)
            self._new_job(session, trial, start, job.target_resource, attempt=job.attempt + 1)
            return
        log.warning("trial %d ended: %s", trial.number, detail)
        self.scheduler.on_error(trial.number)
        event = Failed(trial.number).to_dict()
        append_decision(session, self.study, "fail", event, reason=detail, trial=trial)
        runtime.set_trial_state(session, trial, "stopped" if ours else "failed", reason=detail)

    def _work_done(self, trial: Trial, job: Job) -> bool:
        """True when the end of ``job`` needs no retry: it reported its target (the trial
        may run on in a newer job already), or the scheduler no longer wants the trial."""
        if (trial.reached_resource or 0) >= job.target_resource:
            return True
        return self.scheduler.trial_status(trial.number) is not TrialStatus.RUNNING

    def _cancel_unwanted(self, *, act: bool = True) -> None:
        """Cancel jobs of trials the scheduler stopped or failed, or all once a hard budget
        limit is spent; each job once per process (a restart repeats it: scancel is idempotent).
        With ``act=False`` only the budget is checked; the cancels wait for the next cycle.
        """
        with read_session(self.engine) as session:
            jobs = runtime.active_jobs(session, self.study)
            numbers = {
                t.id: t.number
                for t in runtime.trials_by_id(session, {job.trial_id for job in jobs}).values()
            }
            self._exhausted = self.budget.exhausted(session)
        doomed = [
            job
            for job in jobs
            if job.external_id
            and job.id not in self._cancelled
            and (
                self._exhausted is not None
                or self.scheduler.trial_status(numbers[job.trial_id]) in ENDED_STATUSES
            )
        ]
        if doomed and act:
            self.backend_actions += 1
            self.backend.cancel([job.external_id for job in doomed if job.external_id])
            self._cancelled.update(job.id for job in doomed)
            log.info("cancelled %d job(s)", len(doomed))

    # ---- fill free slots -------------------------------------------------------------------
    def _fill(self) -> bool:
        """Ask the scheduler for work while slots are free; False if it had none to give."""
        with write_session(self.engine) as session:
            if self._exhausted is not None or self.study.state == "stopping":
                return False
            if self.study.state == "paused":
                return True  # nothing new until `slurmhpo resume`; running jobs go on
            self._retire_stopped(session)
            busy = len(runtime.active_jobs(session, self.study))
            started = runtime.trial_count(session, self.study)
            limit = self.spec.budget.max_trials
            more = True
            while busy < self.spec.budget.max_concurrent:
                allow_new = limit is None or started < limit
                suggestion = self.scheduler.suggest(self._next_number(), allow_new=allow_new)
                if suggestion is None:
                    more = False
                    break
                self._persist_suggestion(session, suggestion)
                busy += 1
                started += isinstance(suggestion, StartTrial)
        return more

    def _retire_stopped(self, session: Session) -> None:
        """Mirror in the DB what synchronous schedulers decide when a rung closes: its paused
        losers will never resume, so the scheduler now calls them stopped."""
        retired = [n for n in self._paused if self.scheduler.trial_status(n) is TrialStatus.STOPPED]
        if retired:
            for trial in runtime.trials_by_number(session, self.study, retired).values():
                runtime.set_trial_state(session, trial, "stopped")
            self._paused.difference_update(retired)

    def _next_number(self) -> int:
        """The number the next new trial gets: one past the scheduler's highest."""
        trials = self.scheduler.trial_ids()
        return max(trials) + 1 if trials else 0

    def _persist_suggestion(self, session: Session, suggestion: Suggestion) -> None:
        if isinstance(suggestion, StartTrial):
            trial = runtime.create_trial(
                session, self.study, suggestion.trial_id, suggestion.config, suggestion.bracket
            )
            kind, start = "start", 0
        else:
            assert isinstance(suggestion, ResumeTrial)
            trial = runtime.trials_by_number(session, self.study, [suggestion.trial_id])[
                suggestion.trial_id
            ]
            runtime.set_trial_state(session, trial, "running")
            self._paused.discard(trial.number)
            kind, start = "resume", suggestion.start
        append_decision(session, self.study, kind, Suggested(suggestion).to_dict(), trial=trial)
        self._new_job(session, trial, start, suggestion.target, attempt=0)

    def _new_job(
        self, session: Session, trial: Trial, start: int, target: int, *, attempt: int
    ) -> Job:
        segment = runtime.segment_count(session, trial)
        paths = TrialPaths(self.options.runs_dir, self.study.run_key, trial.number)
        return runtime.create_job(
            session,
            trial,
            backend=self.backend.name,
            start=start,
            target=target,
            attempt=attempt,
            metric_path=str(segment_metric_file(paths, segment)),
        )

    def _submit_pending(self, *, hold: bool = False) -> None:
        """Submit every pending job in one batch; re-adopt those submitted before a crash.

        ``hold`` (the study is paused): only re-adopt; new segments, retries of failed ones
        included, wait as pending rows until the study is resumed.
        """
        with read_session(self.engine) as session:
            pending = [j for j in runtime.active_jobs(session, self.study) if j.external_id is None]
            if not pending:
                return
            trials = runtime.trials_by_id(session, {job.trial_id for job in pending})
            segments = {job.id: runtime.segment_index(session, job) for job in pending}
        keys = {job.id: runtime.job_key(self.study, job) for job in pending}
        adopted = self._adopt(pending, keys)
        fresh = [] if hold else [job for job in pending if job.id not in adopted]
        requests = [
            self._request(job, trials[job.trial_id], keys[job.id], segments) for job in fresh
        ]
        ids = self._submit(requests) if requests else []  # [] when submission failed
        submitted = dict(adopted)
        if ids:
            submitted.update({job.id: ext for job, ext in zip(fresh, ids, strict=True)})
        with write_session(self.engine) as session:
            for job in runtime.jobs_by_id(session, list(submitted)):
                runtime.set_job_state(
                    session,
                    job,
                    "submitted",
                    external_id=submitted[job.id],
                    submitted_at=self.clock.utcnow(),
                )

    def _adopt(self, pending: Sequence[Job], keys: dict[int, str]) -> dict[int, str]:
        candidates = [job for job in pending if job.id in self._may_be_submitted]
        if not candidates:
            return {}
        self.backend_actions += 1
        found = self.backend.find([keys[job.id] for job in candidates])
        self._may_be_submitted -= {job.id for job in candidates}
        adopted = {job.id: found[keys[job.id]] for job in candidates if keys[job.id] in found}
        if adopted:
            log.info("re-adopted %d job(s) submitted before a restart", len(adopted))
        return adopted

    def _request(
        self, job: Job, trial: Trial, key: str, segments: dict[int, int]
    ) -> SegmentRequest:
        return build_request(
            self.spec,
            self.options.runs_dir,
            study=self.study,
            trial=trial.number,
            config=dict(trial.config),
            start=job.start_resource,
            target=job.target_resource,
            segment=segments[job.id],
            job_key=key,
        )

    def _submit(self, requests: list[SegmentRequest]) -> list[str]:
        self.backend_actions += 1
        try:
            ids = self.backend.submit(requests)
        except Exception as exc:  # the backend's own error types vary; all mean "not now"
            self._submit_failures += 1
            if self._submit_failures >= self.options.max_submit_failures:
                raise SlurmhpoError(
                    f"could not submit jobs {self._submit_failures} times in a row: {exc} "
                    "(check the [slurm] settings of the study, e.g. the partition name)"
                ) from exc
            log.warning("submission failed (%s); retrying next cycle", exc)
            return []
        self._submit_failures = 0
        return ids

    # ---- the end ---------------------------------------------------------------------------
    def _check_finished(self, more: bool) -> bool:
        """Finish the study once nothing runs and nothing more is to be run."""
        with write_session(self.engine) as session:
            if runtime.active_jobs(session, self.study):
                return True
            if more and self._exhausted is None:
                return True
            study = session.get_one(Study, self.study.id)
            study.state = "finished"
            study.finished_at = self.clock.utcnow()
            self.study = study
        log.info("study %s finished", self.study.name)
        return False


def _may_have_news(job: Job) -> bool:
    """False only when ``job``'s metric file surely holds nothing to read: it does not exist
    yet, or it is a regular file exactly ``metric_offset`` bytes long. Reading such a file
    yields no record, no logged problem and the same offset, so skipping it changes nothing
    but the cost of a cycle (no write transaction for idle jobs). Opened, not just stat'ed,
    for NFS close-to-open consistency, as :func:`read_new_records` does.
    """
    try:
        fd = os.open(job.metric_path or "", os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return False  # read_new_records would report "missing", which is never logged
    except OSError:
        return True  # let read_new_records report it
    try:
        info = os.fstat(fd)
    except OSError:
        return True
    finally:
        os.close(fd)
    return not stat.S_ISREG(info.st_mode) or info.st_size != job.metric_offset
