"""Driving a study from inside a Slurm job, and handing it over before the job's time limit.

A controller job lives at most its time limit, a study often longer; so controller jobs form
a **chain**, each driving the study for one job's life:

1. Start: a study that has ended ends the chain here (nothing is submitted). Otherwise take
   the study's lease. A lease still held by the job's predecessor (owner
   ``slurm:<predecessor id>@...``) is taken at once: the successor only starts once that job
   has ended (``afterany``), so its holder is surely gone. Any other holder is waited for,
   up to the lease TTL plus 30 s (a controller killed without releasing it); if it is still
   live then, someone else drives the study and the chain ends.
2. With the lease, make sure exactly one successor exists: a job named ``shpo-ctl-<study>``
   pending with ``--dependency=afterany:<this job>``. It is submitted at the START, not
   before exiting, so that a job killed at its limit, by a node failure or by ``kill -9``
   still has a successor. If squeue cannot answer, one is submitted anyway (a duplicate
   finds the lease taken and ends, while a missing one would stall the study).
3. Run the normal controller cycles (it re-adopts the running trial jobs on open) until the
   study ends or the **deadline** = job end time - hand-over margin. The end time is
   Slurm's own (``SLURM_JOB_END_TIME``, else ``squeue -o %e``), else the job's start plus
   the time limit it was given. SIGTERM/SIGUSR2 (scancel, the limit) stop after the
   current cycle too.
4. Hand over: release the lease and exit; the successor starts (about a second later on an
   idle cluster) and takes over. If the study ended instead, cancel the successor.

Recovery: if a chain breaks (a crash between taking the lease and submitting the successor,
or ``scancel --name shpo-ctl-<study>``, which is how to stop a chain), the study keeps its
jobs and state: ``slurmhpo submit-controller NAME`` starts a new chain once the old lease
has expired (at most its TTL, 60 s). Between two jobs of a chain nobody acts on the study;
trial jobs run on. A successor that waits long in the queue delays decisions (not results):
give controller jobs a partition or QOS with short waits.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import TYPE_CHECKING

from slurmhpo.controller.build import build_controller
from slurmhpo.controller.commands import ENDED_STUDY_STATES
from slurmhpo.controller.lease import LeaseHeld
from slurmhpo.controller.loop import Controller
from slurmhpo.controller.sbatch_controller import ControllerJob, JobQueue
from slurmhpo.errors import SlurmhpoError
from slurmhpo.store import leases
from slurmhpo.store.db import make_engine, read_session, write_session
from slurmhpo.store.queries import get_study

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("slurmhpo.controller")

LEASE_GRACE_S = 30.0  # beyond the lease TTL, how long a new job waits for a foreign lease
LEASE_RETRY_S = 2.0
HANDOVER_SIGNALS = (signal.SIGTERM, signal.SIGUSR2, signal.SIGINT)


def owner_for_job(job_id: str) -> str:
    """Lease owner of a controller in Slurm job ``job_id``: ``slurm:<id>@host:pid:uuid``."""
    return f"slurm:{job_id}@{leases.make_owner()}"


def deadline_of(job: ControllerJob, job_id: str, started: float, queue: JobQueue) -> float:
    """Unix time at which to hand over: Slurm's end time (else start + limit) - margin."""
    end = queue.end_time(job_id)
    if end is None:
        log.warning("Slurm did not say when job %s ends; assuming start + time limit", job_id)
        end = started + job.time_min * 60.0
    return end - job.handover_min * 60.0


class _StopFlag:
    """Set by SIGTERM/SIGUSR2 (scancel, the time limit): stop after the current cycle."""

    def __init__(self) -> None:
        self.set = False
        self.controller: Controller | None = None

    def __call__(self, signum: int, _frame: object) -> None:
        log.warning("received %s: handing over after this cycle", signal.Signals(signum).name)
        self.set = True
        if self.controller is not None:
            self.controller.request_stop()


def drive_in_job(job: ControllerJob, queue: JobQueue) -> str:
    """The body of a controller job (see the module docstring); returns what happened."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    started = time.time()
    job_id = os.environ.get("SLURM_JOB_ID", "")
    if not job_id:
        raise SlurmhpoError("not inside a Slurm job (no SLURM_JOB_ID); use: slurmhpo run NAME")
    stop = _StopFlag()
    # replaces submitit's handlers (which ignore SIGTERM) while the study is driven
    previous = {sig: signal.signal(sig, stop) for sig in HANDOVER_SIGNALS}
    deadline = deadline_of(job, job_id, started, queue)
    log.info(
        "controller job %s (generation %d) for study %s; hands over at %s",
        job_id,
        job.generation,
        job.study,
        time.strftime("%H:%M:%S", time.localtime(deadline)),
    )
    engine = make_engine(job.db_url)
    try:
        return _drive(job, job_id, deadline, engine, queue, stop)
    finally:
        engine.dispose()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _drive(
    job: ControllerJob,
    job_id: str,
    deadline: float,
    engine: Engine,
    queue: JobQueue,
    stop: _StopFlag,
) -> str:
    with read_session(engine) as session:
        state = get_study(session, job.study).state
    if state in ENDED_STUDY_STATES:
        log.info("study %s is %s: nothing to drive; the chain ends", job.study, state)
        return f"study {state}"
    controller = build_controller(
        engine,
        job.study,
        poll_interval=job.poll_interval,
        lease_ttl=job.lease_ttl,
        owner=owner_for_job(job_id),
    )
    stop.controller = controller
    if job.predecessor:
        _take_predecessor_lease(engine, job.study, job.predecessor)
    if not _open(controller, job, deadline, stop):
        return "lease held elsewhere"
    successor = _ensure_successor(job, job_id, queue)
    try:
        outcome = _cycles(controller, deadline, stop)
    finally:
        _close(controller)
    with read_session(engine) as session:
        state = get_study(session, job.study).state
    if state in ENDED_STUDY_STATES:
        if successor is not None and queue.cancel(successor):
            log.info("study %s is %s; cancelled successor job %s", job.study, state, successor)
        return f"study {state}"
    if successor is None and outcome != "lost lease":
        successor = _submit_successor(job, job_id, queue)  # last try before exiting
    log.info("%s: handing study %s over to job %s", outcome, job.study, successor)
    return f"handed over to {successor}"


def _take_predecessor_lease(engine: Engine, study_name: str, predecessor: str) -> None:
    """Release the lease if job ``predecessor`` holds it: that job has ended (afterany)."""
    with write_session(engine) as session:
        study = get_study(session, study_name)
        held = leases.current_lease(session, study.id)
        if held is None or not held[0].owner.startswith(f"slurm:{predecessor}@"):
            return
        owner = held[0].owner
        if leases.release_lease(session, study.id, owner):
            log.warning("took over the lease of %s (that job ended without releasing it)", owner)


def _open(controller: Controller, job: ControllerJob, deadline: float, stop: _StopFlag) -> bool:
    """Open the controller, waiting for a foreign lease up to its TTL plus a grace period."""
    give_up = time.monotonic() + job.lease_ttl + LEASE_GRACE_S
    while True:
        try:
            controller.open()
            return True
        except LeaseHeld as held:
            if stop.set or time.monotonic() > give_up or time.time() >= deadline:
                log.warning("%s; this controller chain ends here", held)
                return False
            time.sleep(LEASE_RETRY_S)


def _ensure_successor(job: ControllerJob, job_id: str, queue: JobQueue) -> str | None:
    """The id of the one job waiting for this one (submitted now unless it exists)."""
    queued = queue.queued(job.study)
    if queued is not None:
        waiting = [q.job_id for q in queued if job_id in q.waits_for and q.job_id != job_id]
        if waiting:
            log.info("successor job %s already queued", waiting[0])
            return waiting[0]
    return _submit_successor(job, job_id, queue)


def _submit_successor(job: ControllerJob, job_id: str, queue: JobQueue) -> str | None:
    try:
        successor = queue.submit(job.successor(job_id), after=job_id)
    except SlurmhpoError as exc:
        log.error("%s; retrying before hand-over", exc)
        return None
    log.info("submitted successor job %s (starts after job %s)", successor, job_id)
    return successor


def _cycles(controller: Controller, deadline: float, stop: _StopFlag) -> str:
    """Cycle until the study ends, the deadline passes, a signal arrives or the lease is lost.

    A failing cycle (database or Slurm trouble) is logged and retried next cycle: inside a
    job there is nobody to restart the controller, and every step is idempotent.
    """
    while True:
        if stop.set:
            return "signalled"
        try:
            if not controller.cycle():
                return "study ended"
        except LeaseHeld as exc:
            log.error("%s", exc)
            return "lost lease"
        except SlurmhpoError as exc:
            log.error("cycle failed: %s; retrying next cycle", exc)
        left = deadline - time.time()
        if left <= 0:
            return "deadline"
        controller.clock.sleep(min(controller.options.poll_interval, left))


def _close(controller: Controller) -> None:
    try:
        controller.close()
    except SlurmhpoError as exc:  # the lease then expires by itself; the successor waits
        log.warning("could not release the lease: %s", exc)
