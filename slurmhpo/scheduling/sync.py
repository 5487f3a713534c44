"""Synchronous successive halving and Hyperband, as in the Hyperband and BOHB papers.

A bracket run (:class:`~slurmhpo.scheduling.bracket_run.BracketRun`) starts ``sizes[0]``
trials, each trained to the bracket's first level where it pauses. A rung is complete when every
trial sent to it has reported there or failed (a failure counts as the worst value). Then the
best ``sizes[i + 1]`` are resumed to the next level, best first; the rest stay paused for good
(their status becomes STOPPED). After the top rung (r_max) the run is finished.

Hyperband runs brackets 0, 1, ..., s_max (most aggressive first, the paper's s = s_max..0) and
repeats; successive halving repeats bracket 0 (or the bracket it was given).

``overlap=False`` (the textbook algorithm): one run at a time; while a rung waits,
:meth:`suggest` returns None and workers stay idle. ``overlap=True`` (what HpBandSter, the BOHB
paper's implementation, does): when no open run has a job to give, the next run is opened, so
workers never idle; open runs are served oldest first, so each still completes as planned.

Known gap: if the searcher runs out (a finite grid) before a run's first rung is full, the rung
waits forever; use an asynchronous scheduler with grid search.
"""

from __future__ import annotations

import numpy as np

from slurmhpo.scheduling.base import Scheduler, Searcher, TrialRecord, TrialStatus
from slurmhpo.scheduling.bracket_run import BracketRun
from slurmhpo.scheduling.brackets import bracket_plan
from slurmhpo.scheduling.rungs import RungPlacement, RungRow, rung_levels
from slurmhpo.scheduling.types import Action, Mode, SchedulingError, Suggestion


class SyncHyperband(Scheduler):
    """Synchronous Hyperband over ``brackets`` (default: all, 0..s_max), in that order.

    ``rung_placement``: see :func:`~slurmhpo.scheduling.rungs.rung_levels`; ``"from_max"`` is
    the Hyperband paper's and HpBandSter's ladder.
    """

    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        eta: int,
        rng: np.random.Generator,
        *,
        brackets: tuple[int, ...] | None = None,
        overlap: bool = False,
        rung_placement: RungPlacement = "from_min",
    ) -> None:
        super().__init__(searcher, mode, r_min, r_max, rng)
        self.levels = rung_levels(r_min, r_max, eta, rung_placement)
        self.eta = eta
        self.overlap = overlap
        order = tuple(range(len(self.levels))) if brackets is None else tuple(brackets)
        if not order or any(not 0 <= b < len(self.levels) for b in order):
            raise SchedulingError(f"brackets must lie in 0..{len(self.levels) - 1}, got {order}")
        self.plans = [bracket_plan(self.levels, b, eta) for b in order]
        self._runs: dict[int, BracketRun] = {}  # every run ever opened, by iteration
        self._active: list[BracketRun] = []  # open runs, oldest first
        self._run_of: dict[int, BracketRun] = {}

    @property
    def iteration(self) -> int:
        """How many bracket runs were opened so far."""
        return len(self._runs)

    # ---- suggest --------------------------------------------------------------------------
    def suggest(self, trial_id: int, *, allow_new: bool = True) -> Suggestion | None:
        for run in self._active:
            waiting = run.pop_resume()
            if waiting is not None:
                return self._resume(self._trials[waiting], run.level)
        filling = next((r for r in self._active if r.wants_new()), None)
        if filling is None and self._active and not self.overlap:
            return None  # waiting for a rung to complete: workers idle
        config = self._ask(trial_id, allow_new)
        if config is None:
            return None
        run = self._open_run() if filling is None else filling
        run.started += 1
        self._run_of[trial_id] = run
        return self._start(trial_id, run.level, run.plan.bracket, config)

    def _open_run(self) -> BracketRun:
        iteration = len(self._runs)
        plan = self.plans[iteration % len(self.plans)]
        run = BracketRun(iteration, plan, self.eta, self.mode)
        self._runs[iteration] = run
        self._active.append(run)
        return run

    # ---- results --------------------------------------------------------------------------
    def _observes(self, rec: TrialRecord, resource: int) -> bool:
        return resource in self.levels[rec.bracket :]

    def _decide(self, rec: TrialRecord, resource: int, value: float | None) -> Action:
        if resource != rec.target:
            if resource > rec.target:
                raise SchedulingError(
                    f"trial {rec.trial_id} reported {resource} past its target {rec.target}"
                )
            return Action.CONTINUE
        rec.reached = resource
        action = Action.COMPLETE if resource == self.r_max else Action.PAUSE
        rec.status = TrialStatus.PAUSED if action is Action.PAUSE else TrialStatus.COMPLETE
        run = self._run_of[rec.trial_id]
        self._settle(run, run.arrive(rec.trial_id, value))
        return action

    def _on_failed(self, rec: TrialRecord) -> None:
        run = self._run_of[rec.trial_id]
        self._settle(run, run.fail(rec.trial_id))

    def _settle(self, run: BracketRun, losers: list[int]) -> None:
        for trial_id in losers:
            if self._trials[trial_id].status is TrialStatus.PAUSED:
                self._trials[trial_id].status = TrialStatus.STOPPED
        if run.finished:
            self._active.remove(run)

    def rung_table(self) -> dict[int, dict[int, list[RungRow]]]:
        """iteration -> level -> members (keyed by iteration: a bracket number repeats)."""
        return {it: {lv: r.rows() for lv, r in run.rungs.items()} for it, run in self._runs.items()}


class SyncSuccessiveHalving(SyncHyperband):
    """Synchronous successive halving: bracket ``bracket`` (default 0, from r_min), repeated."""

    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        eta: int,
        rng: np.random.Generator,
        *,
        bracket: int = 0,
        overlap: bool = False,
        rung_placement: RungPlacement = "from_min",
    ) -> None:
        super().__init__(
            searcher, mode, r_min, r_max, eta, rng,
            brackets=(bracket,), overlap=overlap, rung_placement=rung_placement,
        )  # fmt: skip
