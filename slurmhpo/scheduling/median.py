"""The median stopping rule (Golovin et al. 2017, Google Vizier), as a scheduler.

Rule, exactly: when trial i reports at resource r, with r >= ``grace`` and r < r_max, let A(r)
be the running averages at r of every other trial that reported at r (the mean of all values it
reported at resources <= r, compared through ``ranking_key`` so min and max modes are alike and
NaN/inf/None count as worst). If A(r) has at least ``min_trials`` entries and i's best value so
far is strictly worse than the median of A(r), trial i is stopped; else it continues. Trials
reach r_max and complete otherwise. Other trials count whether they are running or finished
(Vizier uses completed trials only; counting running ones lets the rule act from the first wave
of an asynchronous study). Results are compared only at resources where others reported, so
trials should report at the same resources (every epoch, typically).

Each decision is O(log n): running averages are kept in one sorted list per resource.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from slurmhpo.scheduling.base import Scheduler, Searcher, TrialRecord
from slurmhpo.scheduling.rungs import RungRow
from slurmhpo.scheduling.types import Action, Mode, SchedulingError, Suggestion, ranking_key


@dataclass
class _Running:
    total: float = 0.0
    count: int = 0
    best: float = math.inf


class MedianStoppingScheduler(Scheduler):
    """Stop trials whose best so far is worse than the median of the others' running averages."""

    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        rng: np.random.Generator,
        *,
        grace: int | None = None,
        min_trials: int = 3,
    ) -> None:
        if isinstance(r_min, bool) or not isinstance(r_min, int) or not 1 <= r_min <= r_max:
            raise SchedulingError(f"need 1 <= r_min <= r_max, got {r_min}, {r_max}")
        super().__init__(searcher, mode, r_min, r_max, rng)
        self.grace = r_min if grace is None else grace
        if min_trials < 1:
            raise SchedulingError(f"min_trials must be >= 1, got {min_trials}")
        self.min_trials = min_trials
        self._running: dict[int, _Running] = {}
        self._averages: dict[int, list[tuple[float, int]]] = {}  # resource -> sorted (avg, id)

    def suggest(self, trial_id: int, *, allow_new: bool = True) -> Suggestion | None:
        config = self._ask(trial_id, allow_new)
        if config is None:
            return None
        self._running[trial_id] = _Running()
        return self._start(trial_id, self.r_max, 0, config)

    def median_at(self, resource: int) -> float | None:
        """Median running average (as a ranking key) of trials that reported at ``resource``."""
        values = self._averages.get(resource, [])
        if not values:
            return None
        mid = len(values) // 2
        if len(values) % 2:
            return values[mid][0]
        return (values[mid - 1][0] + values[mid][0]) / 2

    def _decide(self, rec: TrialRecord, resource: int, value: float | None) -> Action:
        key = ranking_key(value, self.mode)
        run = self._running[rec.trial_id]
        run.total += key
        run.count += 1
        run.best = min(run.best, key)
        action = self._judge(run.best, resource)
        bisect.insort(
            self._averages.setdefault(resource, []), (run.total / run.count, rec.trial_id)
        )
        if resource == self.r_max:
            rec.reached = resource
            return Action.COMPLETE
        return action

    def _judge(self, best: float, resource: int) -> Action:
        others = self._averages.get(resource, [])
        if resource < self.grace or len(others) < self.min_trials:
            return Action.CONTINUE
        median = self.median_at(resource)
        return Action.STOP if median is not None and best > median else Action.CONTINUE

    def _on_failed(self, rec: TrialRecord) -> None:
        """Its reported averages stay in the record; nothing else to book."""

    def rung_table(self) -> dict[int, dict[int, list[RungRow]]]:
        return {}
