"""Fill: ask the scheduler for work while the study has free slots.

Each suggestion becomes a decision (``start``, ``resume`` or ``exploit``: a new trial that
starts from another's checkpoint), the new trial row for a start or an exploit,
and a ``pending`` job row, all in the cycle's one write; the job is submitted only after that
write commits (a crash in between leaves a pending row the next controller submits or
re-adopts, never a job nobody knows of).
"""

from __future__ import annotations

from dataclasses import dataclass

from slurmhpo.scheduling.base import Scheduler, TrialStatus
from slurmhpo.scheduling.history import Suggested
from slurmhpo.scheduling.types import ExploitTrial, ResumeTrial, StartTrial
from slurmhpo.states import StudyState, TrialState
from slurmhpo.store.cycle import CycleWrite, NewDecision, NewJob, NewTrial
from slurmhpo.study import StudySpec


@dataclass(frozen=True)
class Filled:
    more: bool  # False once the scheduler had nothing more to give (or may not give)
    resumed: frozenset[int]  # paused trials resumed in this cycle
    retired: frozenset[int]  # paused trials the scheduler now calls stopped


def fill(
    scheduler: Scheduler,
    spec: StudySpec,
    write: CycleWrite,
    *,
    study_state: str,
    budget_spent: str | None,
    busy: int,
    started: int,
    paused: frozenset[int],
) -> Filled:
    """Suggestions for the free slots (``max_concurrent - busy``), added to ``write``.

    ``started`` counts the trials the study has (against ``max_trials``); ``paused`` are the
    trial numbers stored as paused.
    """
    nothing = frozenset[int]()
    if budget_spent is not None or study_state == StudyState.STOPPING:
        return Filled(False, nothing, nothing)
    if study_state == StudyState.PAUSED:
        return Filled(True, nothing, nothing)  # nothing new until `slurmhpo resume`
    # Synchronous schedulers close a rung by stopping its paused losers: mirror that.
    retired = frozenset(n for n in paused if scheduler.trial_status(n) is TrialStatus.STOPPED)
    for number in sorted(retired):
        write.trial_states[number] = (TrialState.STOPPED, None)
    resumed: set[int] = set()
    limit = spec.budget.max_trials
    more = True
    next_number = _next_number(scheduler)  # once: scanning every trial id per slot is O(N^2)
    while busy < spec.budget.max_concurrent:
        allow_new = limit is None or started < limit
        suggestion = scheduler.suggest(next_number, allow_new=allow_new)
        if suggestion is None:
            more = False
            break
        number = suggestion.trial_id
        reason = None
        if isinstance(suggestion, ResumeTrial):
            write.trial_states[number] = (TrialState.RUNNING, None)
            resumed.add(number)
            kind, start = "resume", suggestion.start
        else:
            bracket = suggestion.bracket if isinstance(suggestion, StartTrial) else 0
            write.new_trials.append(NewTrial(number, suggestion.config, bracket))
            kind, start = "start", 0
            if isinstance(suggestion, ExploitTrial):  # from a copy of a donor's checkpoint
                kind, start = "exploit", suggestion.start
                reason = (
                    f"replaces trial {suggestion.replaces}; starts from trial "
                    f"{suggestion.donor}'s checkpoint at {suggestion.start}"
                )
            started += 1
            next_number = max(next_number, number + 1)
        payload = Suggested(suggestion).to_dict()
        write.decisions.append(NewDecision(kind, payload, number, reason))
        write.new_jobs.append(NewJob(number, start, suggestion.target, attempt=0))
        busy += 1
    return Filled(more, frozenset(resumed), retired)


def _next_number(scheduler: Scheduler) -> int:
    """The number the next new trial gets: one past the scheduler's highest."""
    trials = scheduler.trial_ids()
    return max(trials) + 1 if trials else 0
