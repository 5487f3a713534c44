"""Carrying out operators' commands (pause, resume, stop, cancel, extend) inside the loop.

``slurmhpo pause|resume|stop|cancel|extend`` only insert a row in the ``commands`` table; the
controller holding the study's lease applies pending rows, oldest first, in its next cycle
(:func:`plan_commands` decides, the cycle's one write stores the result). So exactly one
process changes a driven study, no signal or socket has to reach a controller on another
login node, and a command given while no controller runs waits for the next one.

What each does to the study row (the cycle's ``fill`` reads the state):

* ``pause``: state ``paused``: no new trial or segment is submitted; running jobs go on.
* ``resume``: back to ``running`` (from ``paused`` or ``stopping``).
* ``stop``: state ``stopping``: nothing new starts; running jobs finish their segment, then
  the study ends ``finished`` as usual.
* ``cancel``: every job of the study is cancelled at once (batched scancel), jobs and running
  trials are marked so, the study ends ``cancelled`` and the controller stops.
* ``extend``: raises ``budget.max_trials`` / ``max_gpu_hours`` / ``max_wall_hours`` in the
  stored spec (never lowers them) and the controller continues with the new budget.

Crash safety: a state change and its acknowledgement (``applied_at``, ``applied_by`` = the
lease owner, ``result``) commit in one transaction, the cycle's write. ``cancel`` acts first
and acknowledges after: scancel is idempotent, so a crash in between only repeats it at the
next start.
The acknowledgement is the audit trail (the decisions table logs the scheduler's decisions
only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slurmhpo.errors import ConfigError
from slurmhpo.states import StudyState
from slurmhpo.store.cycle import PendingCommand
from slurmhpo.study import StudySpec

log = logging.getLogger("slurmhpo.controller")

ENDED_STUDY_STATES = tuple(s.value for s in StudyState if s.ended)
BUDGET_KEYS = ("max_trials", "max_gpu_hours", "max_wall_hours")
_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # kind: (states it applies in, the state it leads to)
    "pause": ((StudyState.REGISTERED, StudyState.RUNNING), StudyState.PAUSED),
    "resume": ((StudyState.PAUSED, StudyState.STOPPING), StudyState.RUNNING),
    "stop": ((StudyState.REGISTERED, StudyState.RUNNING, StudyState.PAUSED), StudyState.STOPPING),
}


@dataclass(frozen=True)
class CommandPlan:
    """What the pending commands do: the study's new state and spec, the acknowledgements to
    store, and the cancel command if one came (it ends the study; later ones wait)."""

    state: str
    spec: dict[str, Any]
    applied: list[tuple[int, str]] = field(default_factory=list)
    cancel: PendingCommand | None = None

    @property
    def changed(self) -> bool:
        return bool(self.applied) or self.cancel is not None


def plan_commands(
    commands: Sequence[PendingCommand], name: str, state: str, spec: dict[str, Any]
) -> CommandPlan:
    """Apply ``commands`` in order to the study's ``state`` and ``spec`` (pure: no I/O)."""
    applied: list[tuple[int, str]] = []
    for command in commands:
        if command.kind == "cancel":
            return CommandPlan(state, spec, applied, command)
        if command.kind == "extend":
            try:
                spec, changes = raised_budget(spec, command.args)
            except ConfigError as exc:  # the CLI checks first; a hand-written row may be bad
                result = f"refused: {exc}"
            else:
                result = "budget " + (", ".join(changes) if changes else "unchanged (not a raise)")
        else:
            state, result = _transition(command.kind, state)
        applied.append((command.id, result))
        log.info("study %s: %s (command %d): %s", name, command.kind, command.id, result)
    return CommandPlan(state, spec, applied)


def _transition(kind: str, state: str) -> tuple[str, str]:
    allowed, target = _TRANSITIONS[kind]
    if state == target:
        return state, f"no change: the study is already {target}"
    if state in allowed:
        return target, f"{state} -> {target}"
    return state, f"ignored: {kind} does not apply to a {state} study"


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
