"""The scheduler interface and the trial bookkeeping every scheduler shares.

The scheduler decides, the controller acts. Its inputs are narrow and read-only: a trial id, a
resource level and a metric value; it never sees the controller, the store or a backend. Its
state is a pure function of the sequence of calls it received (and its seed), which is what lets
:mod:`slurmhpo.scheduling.history` rebuild it after a controller restart.

Call contract (the controller's side):

* ``suggest(trial_id)`` when a worker is free; ``trial_id`` is the id a NEW trial would get.
  ``None`` means nothing to run now; it leaves the scheduler (and its rng) untouched, so it
  need not be recorded. ``allow_new=False`` (the study may start no more trials) asks for a
  resume only. A :class:`ResumeTrial` never depends on ``trial_id``, and a resume given with
  ``allow_new=True`` is also the one given with ``allow_new=False`` (replay passes False for
  recorded resumes, see :mod:`~slurmhpo.scheduling.history`). Most schedulers look for a resume
  before they consider a new trial; population-based training starts its population first.
* ``on_result(trial_id, resource, value)`` for every result, in the order the trial produced
  them; resources must be integers in 1..r_max. The answer says what the trial does next:
  CONTINUE, PAUSE (at its target, keep the checkpoint), STOP (kill it) or COMPLETE (it reached
  its final target). A trial must report at every rung level it passes (reporting every epoch
  does that); a repeated or older resource is ignored (CONTINUE). Results of a trial that is
  no longer running (a late line after STOP, PAUSE, COMPLETE) are ignored and answered with the
  same action again.
  ``feasible=False`` says the result broke an outcome constraint (:mod:`slurmhpo.constraints`):
  it ranks as the worst value wherever the scheduler ranks (exactly as NaN does), and the
  searcher is told so, to keep it out of its model of good points.
  ``values`` (studies with several objectives only): every objective's value, ``value`` being
  the first; a multi-objective scheduler (MO-ASHA) ranks by them and refuses a result without
  them, the others ignore them; the searcher receives them as they are.
* ``on_error(trial_id)`` when a running trial's job failed (or ended before reaching its
  target). The trial counts as the worst result at the rung it was running towards (the first
  rung level it had not reached), so rungs waiting for it can complete. Errors for trials that
  are not running (e.g. a job killed after STOP) are ignored.

Every scheduler calls ``searcher.on_trial_end`` when a trial pauses, stops, fails or completes,
so the searcher's pending set only holds trials that are training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import numpy as np

from slurmhpo.scheduling.rungs import RungRow
from slurmhpo.scheduling.types import (
    Action,
    Mode,
    ResumeTrial,
    SchedulingError,
    StartTrial,
    Suggestion,
    WarmObservation,
)


class Searcher(Protocol):
    """What a scheduler needs from a searcher (see :mod:`slurmhpo.scheduling.searchers`)."""

    def suggest(self, trial_id: int) -> dict[str, Any] | None: ...

    def observe(
        self,
        trial_id: int,
        config: dict[str, Any],
        resource: int,
        value: float | None,
        *,
        feasible: bool = True,
        values: tuple[float | None, ...] | None = None,
    ) -> None: ...

    def on_trial_end(self, trial_id: int) -> None: ...


class TrialStatus(str, Enum):
    RUNNING = "running"
    PAUSED = "paused"  # at a rung, checkpoint kept; may be resumed
    STOPPED = "stopped"
    FAILED = "failed"
    COMPLETE = "complete"


_FINAL_ACTION = {
    TrialStatus.PAUSED: Action.PAUSE,
    TrialStatus.STOPPED: Action.STOP,
    TrialStatus.FAILED: Action.STOP,
    TrialStatus.COMPLETE: Action.COMPLETE,
}
_STATUS_OF = {
    Action.PAUSE: TrialStatus.PAUSED,
    Action.STOP: TrialStatus.STOPPED,
    Action.COMPLETE: TrialStatus.COMPLETE,
}


@dataclass
class TrialRecord:
    """What a scheduler remembers about one trial (``reached``: highest rung level, 0 = none)."""

    trial_id: int
    config: dict[str, Any]
    bracket: int
    target: int
    status: TrialStatus = TrialStatus.RUNNING
    reached: int = 0
    last_resource: int = 0


class Scheduler(ABC):
    """Base of every scheduler: validation, trial records and searcher bookkeeping.

    Subclasses implement :meth:`suggest`, :meth:`_decide` (a result of a running trial at a new
    resource) and :meth:`_on_failed`; they call :meth:`_start` and :meth:`_resume` to create
    suggestions so that records stay consistent.
    """

    def __init__(
        self, searcher: Searcher, mode: Mode, r_min: int, r_max: int, rng: np.random.Generator
    ) -> None:
        if mode not in ("min", "max"):
            raise SchedulingError(f"mode must be 'min' or 'max', got {mode!r}")
        self.searcher = searcher
        self.mode: Mode = mode
        self.r_min = r_min
        self.r_max = r_max
        self.rng = rng
        self._trials: dict[int, TrialRecord] = {}

    # ---- the interface -------------------------------------------------------------------
    @abstractmethod
    def suggest(self, trial_id: int, *, allow_new: bool = True) -> Suggestion | None:
        """The next job for a free worker, or None (state and rng untouched).

        ``allow_new=False`` (e.g. the study's max_trials is reached) asks for a resume only.
        """

    def on_result(
        self,
        trial_id: int,
        resource: int,
        value: float | None,
        *,
        feasible: bool = True,
        values: tuple[float | None, ...] | None = None,
    ) -> Action:
        """Record a result and say what the trial does next (see the module docstring).

        An infeasible result reaches the rungs as ``None`` (the worst value), so every rung
        scheduler ranks it last without knowing about constraints; the searcher gets the
        value with ``feasible=False``.

        ``values``: in a study with several objectives, every objective's value in the study
        file's order (``value`` is the first); None in a single-objective study. The searcher
        gets them as they are; a multi-objective scheduler ranks by them
        (:meth:`_check_values`, :meth:`_decide_result`), the others by ``value``.
        """
        rec = self._record(trial_id)
        if isinstance(resource, bool) or not isinstance(resource, int):
            raise SchedulingError(f"resource must be an int, got {resource!r}")
        if not 1 <= resource <= self.r_max:
            raise SchedulingError(f"resource {resource} outside 1..{self.r_max}")
        if rec.status is not TrialStatus.RUNNING:
            return _FINAL_ACTION[rec.status]
        if resource <= rec.last_resource:
            return Action.CONTINUE
        self._check_values(trial_id, values)
        rec.last_resource = resource
        if self._observes(rec, resource):
            if values is None:  # the call single-objective searchers have always had
                self.searcher.observe(trial_id, rec.config, resource, value, feasible=feasible)
            else:
                self.searcher.observe(
                    trial_id, rec.config, resource, value, feasible=feasible, values=values
                )
        if feasible:
            action = self._decide_result(rec, resource, value, values)
        else:
            action = self._decide_result(rec, resource, None, None)
        if action is not Action.CONTINUE:
            if rec.status is TrialStatus.RUNNING:  # _decide may have settled it already
                rec.status = _STATUS_OF[action]
            self.searcher.on_trial_end(trial_id)
        return action

    def warm_start(self, observations: Sequence[WarmObservation]) -> None:
        """Feed results of earlier studies to the searcher's model, before the first trial.

        They reach the searcher only: no trial record, no rung, nothing the budget counts, so
        the scheduler decides on this study's own results as if they were not there. A
        searcher without a model (``warm_start`` method) cannot take them.
        """
        if self._trials:
            raise SchedulingError("a warm start must come before the first trial")
        feed = getattr(self.searcher, "warm_start", None)
        if feed is None:
            raise SchedulingError(f"the {type(self.searcher).__name__} has no model to warm-start")
        feed(observations)

    def on_error(self, trial_id: int) -> None:
        """A running trial failed: it counts as worst at the rung it was running towards."""
        rec = self._record(trial_id)
        if rec.status is not TrialStatus.RUNNING:
            return
        rec.status = TrialStatus.FAILED
        self._on_failed(rec)
        self.searcher.on_trial_end(trial_id)

    @abstractmethod
    def rung_table(self) -> dict[int, dict[int, list[RungRow]]]:
        """bracket -> rung level -> members best first, for inspection (O(n))."""

    def decision_reason(self, trial_id: int) -> str | None:
        """Why the last result of ``trial_id`` was answered as it was, for the audit log's
        ``reason`` column; None when there is nothing to say beyond the action. Not state:
        a replay need not (and does not) compare it."""
        return None

    def trial_status(self, trial_id: int) -> TrialStatus:
        """Where the scheduler thinks ``trial_id`` is (the controller may cross-check)."""
        return self._record(trial_id).status

    def trial_ids(self) -> list[int]:
        """Every trial this scheduler started, in start order."""
        return list(self._trials)

    # Whether a trial may start from another trial's checkpoint (:meth:`checkpoint_source`);
    # the controller then keeps each trial's checkpoint at the start of every later segment.
    copies_checkpoints: bool = False

    def checkpoint_source(self, trial_id: int) -> tuple[int, int] | None:
        """``(donor, resource)`` when ``trial_id`` starts from a copy of the donor's checkpoint
        at ``resource`` (population-based training); None for every other trial."""
        return None

    # ---- for subclasses ------------------------------------------------------------------
    @abstractmethod
    def _decide(self, rec: TrialRecord, resource: int, value: float | None) -> Action:
        """Decision for a running trial's result at a resource it had not reported before."""

    def _check_values(  # noqa: B027 (an optional hook, empty on purpose)
        self, trial_id: int, values: tuple[float | None, ...] | None
    ) -> None:
        """Refuse ``values`` this scheduler cannot rank; single-objective ones take any."""

    def _decide_result(
        self,
        rec: TrialRecord,
        resource: int,
        value: float | None,
        values: tuple[float | None, ...] | None,
    ) -> Action:
        """:meth:`_decide` on the first objective; multi-objective schedulers override this
        to rank by ``values`` (None, like ``value``, when the result is infeasible)."""
        return self._decide(rec, resource, value)

    @abstractmethod
    def _on_failed(self, rec: TrialRecord) -> None:
        """Book the failure of ``rec`` (status is already FAILED)."""

    def _observes(self, rec: TrialRecord, resource: int) -> bool:
        """Whether the searcher sees this result; rung schedulers pass only rung levels."""
        return True

    def _record(self, trial_id: int) -> TrialRecord:
        rec = self._trials.get(trial_id)
        if rec is None:
            raise SchedulingError(f"trial {trial_id} was never started by this scheduler")
        return rec

    def _start(
        self, trial_id: int, target: int, bracket: int, config: dict[str, Any]
    ) -> StartTrial:
        """Book a new trial with a config the searcher already gave (see :meth:`_ask`)."""
        rec = TrialRecord(trial_id, config, bracket, target)
        self._trials[trial_id] = rec
        return StartTrial(trial_id, dict(config), target, bracket)

    def _ask(self, trial_id: int, allow_new: bool = True) -> dict[str, Any] | None:
        """The searcher's config for new trial ``trial_id`` (None: it has nothing left).

        Returns None without asking when ``allow_new`` is False, so a refusal touches nothing.
        """
        if not allow_new:
            return None
        if isinstance(trial_id, bool) or not isinstance(trial_id, int):
            raise SchedulingError(f"trial_id must be an int, got {trial_id!r}")
        if trial_id in self._trials:
            raise SchedulingError(f"trial id {trial_id} is already used; pass a new one")
        return self.searcher.suggest(trial_id)

    def _resume(self, rec: TrialRecord, target: int) -> ResumeTrial:
        """Resume a paused trial from the last rung it reached up to ``target``."""
        if rec.status is not TrialStatus.PAUSED:
            raise SchedulingError(f"trial {rec.trial_id} is {rec.status.value}, not paused")
        rec.status = TrialStatus.RUNNING
        rec.target = target
        return ResumeTrial(rec.trial_id, rec.reached, target)
