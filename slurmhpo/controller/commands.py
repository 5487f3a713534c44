"""Carrying out operators' commands (pause, resume, stop, cancel, extend) inside the loop.

``slurmhpo pause|resume|stop|cancel|extend`` only insert a row in the ``commands`` table; the
controller holding the study's lease applies pending rows, oldest first, at the start of its
next cycle (:func:`apply_pending`). So exactly one process changes a driven study, no signal
or socket has to reach a controller on another login node, and a command given while no
controller runs waits for the next one.

What each does to the study row (the controller's ``_fill`` reads the state):

* ``pause``: state ``paused``: no new trial or segment is submitted; running jobs go on.
* ``resume``: back to ``running`` (from ``paused`` or ``stopping``).
* ``stop``: state ``stopping``: nothing new starts; running jobs finish their segment, then
  the study ends ``finished`` as usual.
* ``cancel``: every job of the study is cancelled at once (batched scancel), jobs and running
  trials are marked so, the study ends ``cancelled`` and the controller stops.
* ``extend``: raises ``budget.max_trials`` / ``max_gpu_hours`` / ``max_wall_hours`` in the
  stored spec (never lowers them) and the controller continues with the new budget.

Crash safety: a state change and its acknowledgement (``applied_at``, ``applied_by`` = the
lease owner, ``result``) commit in one transaction. ``cancel`` acts first and acknowledges
after: scancel is idempotent, so a crash in between only repeats it at the next start.
The acknowledgement is the audit trail (the decisions table logs the scheduler's decisions
only).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from slurmhpo.backends.base import Backend
from slurmhpo.controller.budget import BudgetTracker
from slurmhpo.controller.clock import Clock
from slurmhpo.errors import ConfigError
from slurmhpo.store import runtime
from slurmhpo.store.commands import load_study_for_update, mark_applied, pending_commands
from slurmhpo.store.db import read_session, write_session
from slurmhpo.store.models import Command, Study
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("slurmhpo.controller")

ENDED_STUDY_STATES = ("finished", "cancelled", "failed")
BUDGET_KEYS = ("max_trials", "max_gpu_hours", "max_wall_hours")
_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # kind: (states it applies in, the state it leads to)
    "pause": (("registered", "running"), "paused"),
    "resume": (("paused", "stopping"), "running"),
    "stop": (("registered", "running", "paused"), "stopping"),
}


class Driven(Protocol):
    """What applying commands needs of a controller (its public attributes)."""

    engine: Engine
    owner: str
    backend: Backend
    clock: Clock
    study: Study
    spec: StudySpec
    budget: BudgetTracker


def apply_pending(ctl: Driven) -> bool:
    """Apply the study's pending commands in order; False once the study was cancelled."""
    with read_session(ctl.engine) as session:
        pending = list(pending_commands(session, ctl.study.id))
    for command in pending:
        if command.kind == "cancel":
            _cancel(ctl, command)
            return False
        if command.kind == "extend":
            _extend(ctl, command)
        else:
            _transition(ctl, command)
    return ctl.study.state not in ENDED_STUDY_STATES


def _transition(ctl: Driven, command: Command) -> None:
    allowed, target = _TRANSITIONS[command.kind]
    with write_session(ctl.engine) as session:
        study = load_study_for_update(session, ctl.study.id)
        if study.state == target:
            result = f"no change: the study is already {target}"
        elif study.state in allowed:
            result = f"{study.state} -> {target}"
            study.state = target
        else:
            result = f"ignored: {command.kind} does not apply to a {study.state} study"
        mark_applied(session, command.id, ctl.owner, result)
    ctl.study = study
    log.info("study %s: %s (command %d): %s", study.name, command.kind, command.id, result)


def _extend(ctl: Driven, command: Command) -> None:
    with write_session(ctl.engine) as session:
        study = load_study_for_update(session, ctl.study.id)
        try:
            spec, changes = raised_budget(study.spec, command.args)
        except ConfigError as exc:  # the CLI checks first; a hand-written row may still be bad
            result = f"refused: {exc}"
        else:
            study.spec = spec
            result = "budget " + (", ".join(changes) if changes else "unchanged (not a raise)")
        mark_applied(session, command.id, ctl.owner, result)
    ctl.study = study
    ctl.spec = StudySpec.from_dict(study.spec)
    ctl.budget = BudgetTracker(study, ctl.spec, ctl.clock)
    log.info("study %s: extend (command %d): %s", study.name, command.id, result)


def raised_budget(spec: dict[str, Any], args: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The spec with each budget limit in ``args`` raised to it (never lowered), and the
    changes as text; the result is validated as a whole study (a bad value raises)."""
    budget = dict(spec.get("budget", {}))
    changes = []
    for key in BUDGET_KEYS:
        new = args.get(key)
        old = budget.get(key)
        if new is None:
            continue
        if old is None:
            changes.append(f"{key} stays unlimited")
        elif new > old:
            budget[key] = new
            changes.append(f"{key} {old} -> {new}")
    new_spec = {**spec, "budget": budget}
    StudySpec.from_dict(new_spec)  # the same checks as a study file
    return new_spec, changes


def _cancel(ctl: Driven, command: Command) -> None:
    """Cancel every job of the study (act first: idempotent), then record the end."""
    with read_session(ctl.engine) as session:
        jobs = runtime.active_jobs(session, ctl.study)
    ids = [job.external_id for job in jobs if job.external_id]
    unsubmitted = {runtime.job_key(ctl.study, job): job for job in jobs if not job.external_id}
    if unsubmitted:  # a job may have been submitted just before a crash, its id unrecorded
        ids += list(ctl.backend.find(list(unsubmitted)).values())
    if ids:
        ctl.backend.cancel(ids)
    now = ctl.clock.utcnow()
    reason = f"cancelled with the study (command {command.id})"
    with write_session(ctl.engine) as session:
        for job in runtime.jobs_by_id(session, [job.id for job in jobs]):
            runtime.set_job_state(session, job, "cancelled", exit_reason=reason, ended_at=now)
        trials = runtime.trials_by_id(session, {job.trial_id for job in jobs})
        for trial in trials.values():
            if trial.state in ("pending", "running"):
                runtime.set_trial_state(session, trial, "stopped", reason=reason)
        study = load_study_for_update(session, ctl.study.id)
        study.state = "cancelled"
        study.finished_at = now
        result = f"cancelled {len(ids)} job(s); the study ended"
        mark_applied(session, command.id, ctl.owner, result)
    ctl.study = study
    log.info("study %s: cancel (command %d): %s", study.name, command.id, result)
