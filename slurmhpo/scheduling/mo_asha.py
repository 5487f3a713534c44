"""MO-ASHA: asynchronous successive halving that ranks each rung by several objectives.

Schmucker, Donini, Zafar, Salinas and Archambeau, "Multi-objective asynchronous successive
halving" (2021). Everything is ASHA (:mod:`slurmhpo.scheduling.asha`: the same rung levels,
brackets, variants, quota floor(n/eta) and promotion scan); only the order within a rung
changes: instead of sorting by one value, a rung sorts its members by non-dominated front and,
within a front, by a tie-break ("nsga2": crowding distance, "epsnet": a greedy epsilon-net),
see :mod:`slurmhpo.pareto` and :class:`~slurmhpo.scheduling.pareto_rung.ParetoRung`.

Each result must come with ``values``, one per objective in the study file's order; an
infeasible result (an outcome constraint broken) or a failure ranks last, as in ASHA. The
single-objective schedulers are untouched: this is a subclass that swaps the rung, so no
single-objective decision can change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slurmhpo.pareto import TIE_BREAKS, TieBreak
from slurmhpo.scheduling.asha import AsyncHyperband, Variant
from slurmhpo.scheduling.base import Searcher, TrialRecord
from slurmhpo.scheduling.pareto_rung import ParetoRung
from slurmhpo.scheduling.rungs import Rung, RungPlacement
from slurmhpo.scheduling.types import Action, Mode, SchedulingError


class MOAsyncHyperband(AsyncHyperband):
    """ASHA (``num_brackets=1``, the default) or asynchronous Hyperband with Pareto rungs.

    ``modes``: "min"/"max" of each objective (at least two); ``tie_break``: "nsga2" or
    "epsnet". Other arguments as :class:`~slurmhpo.scheduling.asha.AsyncHyperband`.
    """

    def __init__(
        self,
        searcher: Searcher,
        modes: Sequence[Mode],
        r_min: int,
        r_max: int,
        eta: int,
        rng: np.random.Generator,
        *,
        variant: Variant = "promotion",
        num_brackets: int | None = 1,
        strict_quota: bool = False,
        rung_placement: RungPlacement = "from_min",
        tie_break: TieBreak = "nsga2",
    ) -> None:
        if len(modes) < 2 or any(m not in ("min", "max") for m in modes):
            raise SchedulingError(f"modes must be two or more of 'min'/'max', got {modes!r}")
        if tie_break not in TIE_BREAKS:
            raise SchedulingError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
        self.modes: tuple[Mode, ...] = tuple(modes)
        self.tie_break: TieBreak = tie_break
        super().__init__(
            searcher, self.modes[0], r_min, r_max, eta, rng,
            variant=variant, num_brackets=num_brackets, strict_quota=strict_quota,
            rung_placement=rung_placement,
        )  # fmt: skip

    def _make_rung(self, level: int) -> Rung:
        return ParetoRung(
            level, self.eta, self.modes, self.tie_break, strict_quota=self.strict_quota
        )

    def _check_values(self, trial_id: int, values: tuple[float | None, ...] | None) -> None:
        if values is None or len(values) != len(self.modes):
            got = "none" if values is None else str(len(values))
            raise SchedulingError(
                f"trial {trial_id}: a multi-objective scheduler needs {len(self.modes)} "
                f"objective values with each result, got {got}"
            )

    def _decide_result(
        self,
        rec: TrialRecord,
        resource: int,
        value: float | None,
        values: tuple[float | None, ...] | None,
    ) -> Action:
        return self._decide_at_rung(rec, resource, values)
