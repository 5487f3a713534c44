"""BOHB's KDE searcher for several objectives, by random scalarisation.

Paria, Kandasamy and Poczos, "A flexible framework for multi-objective Bayesian optimization
using random scalarizations" (UAI 2019): instead of one model of the Pareto front, each
suggestion draws a weight vector w from the simplex (Dirichlet(1, ..., 1), uniform) and
optimises the Chebyshev scalarisation

    s_w(y) = max_k w_k * (y_k - low_k) / (high_k - low_k)

of the objectives (all turned into losses, smaller better), normalised by the lowest and
highest finite value of each objective among the results at that resource. Over many
suggestions the weights sweep the trade-offs, so the searcher spreads its trials along the
front instead of converging to one point of it; the Chebyshev form (rather than a weighted
sum) can reach points on concave parts of a front.

Here the "optimiser" is BOHB's good/bad KDE split (:mod:`.kde`): before each model-based
suggestion every per-resource table's losses are replaced by s_w of its results, and the KDE
picks as usual. Results with a missing or non-finite objective, infeasible ones and failures
get loss +inf, as in the single-objective searcher. The weights come from the searcher's own
rng, drawn once per suggestion, so a replay of the same calls draws the same weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from slurmhpo.pareto import to_keys
from slurmhpo.scheduling.searchers.kde import KDESearcher, KDESettings
from slurmhpo.scheduling.types import Mode, SchedulingError

if TYPE_CHECKING:
    from slurmhpo.space import SearchSpace


def chebyshev(keys: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """s_w of each row of ``keys`` (smaller better), normalised over the finite rows; rows
    with a non-finite objective get +inf."""
    finite = np.all(np.isfinite(keys), axis=1)
    out = np.full(keys.shape[0], np.inf)
    if not finite.any():
        return out
    low = keys[finite].min(axis=0)
    span = keys[finite].max(axis=0) - low
    scaled = (keys[finite] - low) / np.where(span > 0, span, 1.0)
    out[finite] = np.max(weights[None, :] * scaled, axis=1)
    return out


class ScalarizedKDESearcher(KDESearcher):
    """KDE searcher on a fresh random Chebyshev scalarisation per suggestion (see above).

    ``modes``: the mode of every objective (two or more); ``observe`` must get ``values``.
    """

    def __init__(
        self,
        space: SearchSpace,
        modes: Sequence[Mode],
        rng: np.random.Generator,
        *,
        initial_configs: Sequence[Mapping[str, Any]] = (),
        settings: KDESettings | None = None,
    ) -> None:
        super().__init__(space, modes[0], rng, initial_configs=initial_configs, settings=settings)
        self.modes = tuple(modes)
        self._keys: dict[int, dict[int, np.ndarray]] = {}  # resource -> trial -> key vector
        self.weights: np.ndarray | None = None  # the last suggestion's weights

    def observe(
        self,
        trial_id: int,
        config: dict[str, Any],
        resource: int,
        value: float | None,
        *,
        feasible: bool = True,
        values: tuple[float | None, ...] | None = None,
    ) -> None:
        """Keep every objective of the result (a failure or infeasible result: all worst)."""
        if values is None or len(values) != len(self.modes):
            raise SchedulingError(
                f"trial {trial_id}: the mo_kde searcher needs {len(self.modes)} objective values"
            )
        row = values if feasible else (None,) * len(self.modes)
        self._keys.setdefault(int(resource), {})[trial_id] = to_keys([row], self.modes)[0]
        super().observe(trial_id, config, resource, value, feasible=feasible)

    def _propose(self, trial_id: int) -> dict[str, Any] | None:
        self.weights = self.rng.dirichlet(np.ones(len(self.modes)))
        for resource, table in self.store.tables.items():
            keys = self._keys.get(resource, {})
            order = sorted(table.rows, key=table.rows.__getitem__)  # trial ids by row
            rows = np.array([keys[t] for t in order]).reshape(len(order), len(self.modes))
            table.set_losses(chebyshev(rows, self.weights))
        return super()._propose(trial_id)
