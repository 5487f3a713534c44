"""FIFO: no early stopping, every trial trains to r_max (the random-search baseline's shape).

Every trial starts with target r_max and is answered CONTINUE until it reports at r_max, which
completes it. It is the reference the multi-fidelity schedulers must beat, and the scheduler to
use with a searcher alone (grid search, known-good configurations).
"""

from __future__ import annotations

import numpy as np

from slurmhpo.scheduling.base import Scheduler, Searcher, TrialRecord
from slurmhpo.scheduling.rungs import RungRow
from slurmhpo.scheduling.types import Action, Mode, SchedulingError, Suggestion


class FIFOScheduler(Scheduler):
    """Start a new trial whenever a worker is free; run it to r_max."""

    def __init__(
        self, searcher: Searcher, mode: Mode, r_min: int, r_max: int, rng: np.random.Generator
    ) -> None:
        if isinstance(r_min, bool) or not isinstance(r_min, int) or not 1 <= r_min <= r_max:
            raise SchedulingError(f"need 1 <= r_min <= r_max, got {r_min}, {r_max}")
        super().__init__(searcher, mode, r_min, r_max, rng)

    def suggest(self, trial_id: int, *, allow_new: bool = True) -> Suggestion | None:
        config = self._ask(trial_id, allow_new)
        if config is None:
            return None
        return self._start(trial_id, self.r_max, 0, config)

    def _decide(self, rec: TrialRecord, resource: int, value: float | None) -> Action:
        if resource == self.r_max:
            rec.reached = resource
            return Action.COMPLETE
        return Action.CONTINUE

    def _on_failed(self, rec: TrialRecord) -> None:
        """Nothing to rank: a failed trial only leaves the searcher's pending set."""

    def rung_table(self) -> dict[int, dict[int, list[RungRow]]]:
        return {}
