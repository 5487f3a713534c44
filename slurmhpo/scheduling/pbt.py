"""Population-based training (PBT), asynchronous (Jaderberg et al. 2017).

A population of ``population_size`` trials trains in segments of ``perturbation_interval``
resource units; each segment is one job that pauses at its boundary (``I, 2I, ...``, and r_max
last). At a boundary r the trial is ranked among every trial that has reported r so far (its
value at r, ``ranking_key``, ties by trial id), as ASHA ranks a rung: comparing values at the
same resource keeps a young trial from losing to an older one only because it trained less.
With n such trials and k = floor(n * quantile_fraction):

* in the bottom k (*exploit*): the trial stops, and a NEW trial takes its place: its config is
  a donor's, explored (:mod:`~slurmhpo.scheduling.explore`), and it starts at r from a copy of
  the donor's checkpoint at r. The donor is drawn uniformly from the top k at r (the paper's
  truncation selection). The new trial is an :class:`~slurmhpo.scheduling.types.ExploitTrial`
  in the history: donor, resource and the trial it replaces are the lineage;
* otherwise it pauses and is resumed to its next boundary.

While k = 0 (fewer than 1 / quantile_fraction trials at r) everybody continues: there is
nothing yet to rank against, as in ASHA's grace. Asynchrony follows Syne Tune's
``PopulationBasedTraining``: a trial is judged when it reaches a boundary, against the trials
that reached it before, with no waiting for a generation.

Order of work (one first-in first-out queue): the population's first ``population_size``
starts, then resumes and exploits in the order their boundaries were reached. Without
``allow_new`` the first queued resume is given (an exploit creates a trial, as a start does).
The searcher is asked only for the population's first configurations.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from slurmhpo.scheduling.base import Scheduler, Searcher, TrialRecord
from slurmhpo.scheduling.explore import explore
from slurmhpo.scheduling.rungs import Rung, RungRow
from slurmhpo.scheduling.types import (
    Action,
    ExploitTrial,
    Mode,
    SchedulingError,
    Suggestion,
)

if TYPE_CHECKING:
    from slurmhpo.space import SearchSpace


@dataclass(frozen=True)
class _Resume:
    trial_id: int


@dataclass(frozen=True)
class _Exploit:
    replaces: int
    donor: int
    level: int


class PopulationBasedTraining(Scheduler):
    """Asynchronous PBT over boundaries ``perturbation_interval * k`` and r_max.

    ``quantile_fraction`` in (0, 0.5]: the bottom and top fractions never overlap.
    ``resample_probability`` in [0, 1]: see :func:`~slurmhpo.scheduling.explore.explore`.
    """

    copies_checkpoints = True

    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        rng: np.random.Generator,
        *,
        space: SearchSpace,
        population_size: int,
        perturbation_interval: int,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
    ) -> None:
        super().__init__(searcher, mode, r_min, r_max, rng)
        if population_size < 2:
            raise SchedulingError(f"population_size must be >= 2, got {population_size}")
        if not 1 <= perturbation_interval < r_max:
            raise SchedulingError(
                f"perturbation_interval must be in 1..{r_max - 1}, got {perturbation_interval}"
            )
        if not 0.0 < quantile_fraction <= 0.5:
            raise SchedulingError(f"quantile_fraction must be in (0, 0.5], got {quantile_fraction}")
        if not 0.0 <= resample_probability <= 1.0:
            raise SchedulingError(
                f"resample_probability must be in [0, 1], got {resample_probability}"
            )
        self.space = space
        self.population_size = population_size
        self.interval = perturbation_interval
        self.quantile_fraction = quantile_fraction
        self.resample_probability = resample_probability
        self.levels = [*range(perturbation_interval, r_max, perturbation_interval), r_max]
        self._rungs = {lv: Rung(lv, 2, mode) for lv in self.levels}
        self._queue: deque[_Resume | _Exploit] = deque()
        self._fresh = 0  # population members started from scratch so far
        self._sources: dict[int, tuple[int, int]] = {}  # exploiting trial -> (donor, level)

    # ---- suggest --------------------------------------------------------------------------
    def suggest(self, trial_id: int, *, allow_new: bool = True) -> Suggestion | None:
        if self._fresh < self.population_size:
            config = self._ask(trial_id, allow_new)
            if config is not None:
                self._fresh += 1
                return self._start(trial_id, self.levels[0], 0, config)
        for index, item in enumerate(self._queue):
            if isinstance(item, _Resume):
                del self._queue[index]
                rec = self._trials[item.trial_id]
                self._rungs[rec.reached].promote(rec.trial_id)
                return self._resume(rec, self._next_level(rec.reached))
            if allow_new:
                del self._queue[index]
                return self._exploit(trial_id, item)
        return None

    def _exploit(self, trial_id: int, item: _Exploit) -> ExploitTrial:
        if isinstance(trial_id, bool) or not isinstance(trial_id, int):
            raise SchedulingError(f"trial_id must be an int, got {trial_id!r}")
        if trial_id in self._trials:
            raise SchedulingError(f"trial id {trial_id} is already used; pass a new one")
        donor = self._trials[item.donor]
        config = explore(
            self.space, donor.config, self.rng, resample_probability=self.resample_probability
        )
        target = self._next_level(item.level)
        rec = TrialRecord(trial_id, config, 0, target, reached=item.level)
        rec.last_resource = item.level
        self._trials[trial_id] = rec
        self._sources[trial_id] = (item.donor, item.level)
        return ExploitTrial(trial_id, dict(config), item.donor, item.replaces, item.level, target)

    def _next_level(self, level: int) -> int:
        return self.levels[self.levels.index(level) + 1]

    def checkpoint_source(self, trial_id: int) -> tuple[int, int] | None:
        return self._sources.get(trial_id)

    # ---- results --------------------------------------------------------------------------
    def _observes(self, rec: TrialRecord, resource: int) -> bool:
        return resource in self._rungs

    def _decide(self, rec: TrialRecord, resource: int, value: float | None) -> Action:
        rung = self._rungs.get(resource)
        if rung is None:
            return Action.CONTINUE  # inside a segment
        rung.record(rec.trial_id, value)
        rec.reached = resource
        if resource == self.r_max:
            return Action.COMPLETE
        if resource != rec.target:
            raise SchedulingError(
                f"trial {rec.trial_id} reached boundary {resource} but its target is {rec.target}"
            )
        count = int(len(rung) * self.quantile_fraction)
        if count and rung.rank(rec.trial_id) >= len(rung) - count:
            top = rung.best(count)
            donor = top[int(self.rng.integers(count))]
            rung.withdraw(rec.trial_id)
            self._queue.append(_Exploit(rec.trial_id, donor, resource))
            return Action.STOP
        self._queue.append(_Resume(rec.trial_id))
        return Action.PAUSE

    def _on_failed(self, rec: TrialRecord) -> None:
        """Record the failure as the worst result at the boundary it was running towards."""
        rung = self._rungs[rec.target]
        rung.record(rec.trial_id, None)
        rung.withdraw(rec.trial_id)

    def rung_table(self) -> dict[int, dict[int, list[RungRow]]]:
        return {0: {lv: rung.rows() for lv, rung in self._rungs.items()}}
