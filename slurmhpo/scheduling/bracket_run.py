"""One run of a synchronous successive-halving bracket: which rung it fills and who goes on.

Pure bookkeeping for :mod:`slurmhpo.scheduling.sync`: it knows trial ids and values, not trial
records, and reports the trials that lost a rung so the scheduler can mark them stopped.
"""

from __future__ import annotations

from collections import deque

from slurmhpo.scheduling.brackets import BracketPlan
from slurmhpo.scheduling.rungs import Rung
from slurmhpo.scheduling.types import Mode


class BracketRun:
    """``plan.sizes[i]`` trials at ``plan.levels[i]``; rung i + 1 opens when rung i is full.

    A rung is full when every trial sent to it has arrived or failed (a failure is recorded as
    the worst value). Its best ``sizes[i + 1]`` then go on, best first; a failed trial among
    them cannot run and is entered into the next rung directly as a failure, so every rung
    keeps its planned size and a rung made only of failures closes at once.
    """

    def __init__(self, iteration: int, plan: BracketPlan, eta: int, mode: Mode) -> None:
        self.iteration = iteration
        self.plan = plan
        self.stage = 0  # index into plan.levels of the rung being filled
        self.started = 0
        self.finished = False
        self.rungs = {lv: Rung(lv, eta, mode) for lv in plan.levels}
        self._queue: deque[int] = deque()  # trials to resume into the current rung

    @property
    def level(self) -> int:
        return self.plan.levels[self.stage]

    def wants_new(self) -> bool:
        """True while the first rung still needs new trials."""
        return not self.finished and self.stage == 0 and self.started < self.plan.sizes[0]

    def pop_resume(self) -> int | None:
        """The next trial to resume into the current rung, best first, if any."""
        return self._queue.popleft() if self._queue else None

    def arrive(self, trial_id: int, value: float | None) -> list[int]:
        """Record an arrival at the current rung; returns the trials that lost a closed rung."""
        self.rungs[self.level].record(trial_id, value)
        return self._close_full_rungs()

    def fail(self, trial_id: int) -> list[int]:
        """Record a failure as the worst value at the current rung."""
        rung = self.rungs[self.level]
        rung.record(trial_id, None)
        rung.withdraw(trial_id)
        return self._close_full_rungs()

    def _close_full_rungs(self) -> list[int]:
        losers: list[int] = []
        while len(self.rungs[self.level]) >= self.plan.sizes[self.stage]:
            if self.stage + 1 == len(self.plan.levels):
                self.finished = True
                return losers
            rung = self.rungs[self.level]
            rows = rung.rows()
            keep = self.plan.sizes[self.stage + 1]
            losers.extend(row.trial_id for row in rows[keep:] if not row.withdrawn)
            self.stage += 1
            following = self.rungs[self.level]
            for row in rows[:keep]:
                if row.withdrawn:
                    following.record(row.trial_id, None)
                    following.withdraw(row.trial_id)
                else:
                    rung.promote(row.trial_id)
                    self._queue.append(row.trial_id)
        return losers
