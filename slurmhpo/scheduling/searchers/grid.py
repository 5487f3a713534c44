"""Grid search over a finite grid built from the search space, in a seeded random order.

Axes: every value of a categorical or ordinal parameter; every value of an integer parameter with
at most ``num_points`` values, else ``num_points`` evenly spaced ones (in its own linear or log
scale, ends included); ``num_points`` evenly spaced values of a float parameter (linear or log, ends
included; the midpoint when ``num_points == 1``). A conditional parameter is an axis only under the
parent values that activate it, so the grid holds no duplicate configurations.

The order is a permutation drawn from the searcher's rng, not the lexicographic order: a study
cut short by its budget then covers the whole grid coarsely instead of one corner densely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.searchers.base import BaseSearcher, config_key
from slurmhpo.scheduling.types import Mode

if TYPE_CHECKING:
    from slurmhpo.space import SearchSpace

MAX_GRID_SIZE = 100_000


def axis_values(param: Any, num_points: int) -> list[Any]:
    """The grid values of one parameter (see the module docstring), without repeats."""
    if num_points < 1:
        raise ConfigError("searcher.num_points", f"must be at least 1, got {num_points}")
    if param.cardinality is not None and (
        param.kind in ("categorical", "ordinal") or param.cardinality <= num_points
    ):
        n = param.cardinality
        units = (np.arange(n) + 0.5) / n
    elif num_points == 1:
        units = np.array([0.5])
    else:
        units = np.linspace(0.0, 1.0, num_points)
    values: list[Any] = []
    for u in units:
        value = param.from_unit(float(u))
        if value not in values:
            values.append(value)
    return values


def build_grid(space: SearchSpace, num_points: int) -> list[dict[str, Any]]:
    """Every grid configuration in lexicographic order; ConfigError if over MAX_GRID_SIZE."""
    configs: list[dict[str, Any]] = [{}]
    for param in space.params:  # parents come before their children
        values = axis_values(param, num_points)
        grown: list[dict[str, Any]] = []
        for partial in configs:
            if space.is_active(param.name, partial):
                grown.extend({**partial, param.name: v} for v in values)
            else:
                grown.append(partial)
            if len(grown) > MAX_GRID_SIZE:
                raise ConfigError(
                    "searcher.num_points",
                    f"the grid has more than {MAX_GRID_SIZE:,} configurations",
                    "lower num_points or use the random or kde searcher",
                )
        configs = grown
    return configs


class GridSearcher(BaseSearcher):
    """Suggests each grid configuration once (initial configs first), then ``None`` forever.

    Grid points equal to an initial configuration, or to a config observed before being
    suggested, are skipped.
    """

    def __init__(
        self,
        space: SearchSpace,
        mode: Mode,
        rng: np.random.Generator,
        *,
        initial_configs: Sequence[Mapping[str, Any]] = (),
        num_points: int = 5,
    ) -> None:
        super().__init__(space, mode, rng, initial_configs=initial_configs)
        grid = build_grid(space, num_points)
        self._grid = [grid[i] for i in rng.permutation(len(grid))]
        self._next = 0

    @property
    def size(self) -> int:
        """Number of grid configurations (before skipping initial or observed ones)."""
        return len(self._grid)

    def _propose(self, trial_id: int) -> dict[str, Any] | None:
        while self._next < len(self._grid):
            config = self._grid[self._next]
            self._next += 1
            if config_key(config) not in self.seen:
                return dict(config)
        return None
