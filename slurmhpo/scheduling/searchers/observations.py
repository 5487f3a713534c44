"""Per-resource observation tables for model-based searchers, in growing numpy buffers.

Appending is amortised O(d); a table exposes its rows as array views, so fitting a model never
converts Python lists. Each table has a ``version`` that changes with every write, so a model
fitted on it can be reused until new data arrives at that resource.
"""

from __future__ import annotations

import numpy as np


class BudgetTable:
    """Unit-cube vectors and losses (smaller is better) of the trials observed at one resource.

    A trial observed twice at the same resource keeps its latest value (a resumed trial may
    report again the level it was paused at). Each row also says whether the result met the
    study's outcome constraints; ``infeasible`` counts those that did not, so a study without
    constraints (always 0) takes exactly the paths it took before they existed.
    """

    def __init__(self, dim: int, capacity: int = 64) -> None:
        self._x = np.empty((capacity, dim))
        self._loss = np.empty(capacity)
        self._feasible = np.ones(capacity, dtype=bool)
        self.rows: dict[int, int] = {}
        self.version = 0
        self.infeasible = 0

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def vectors(self) -> np.ndarray:
        """``(n, d)`` view of the stored vectors (NaN where a parameter is inactive)."""
        return self._x[: len(self.rows)]

    @property
    def losses(self) -> np.ndarray:
        """``(n,)`` view of the stored losses (+inf for failed or bad values)."""
        return self._loss[: len(self.rows)]

    @property
    def feasible(self) -> np.ndarray:
        """``(n,)`` view: whether each stored result met the outcome constraints."""
        return self._feasible[: len(self.rows)]

    def add(self, trial_id: int, vector: np.ndarray, loss: float, feasible: bool = True) -> None:
        row = self.rows.get(trial_id)
        if row is None:
            row = len(self.rows)
            if row == self._loss.size:
                self._grow()
            self.rows[trial_id] = row
        elif not self._feasible[row]:
            self.infeasible -= 1
        self._x[row] = vector
        self._loss[row] = loss
        self._feasible[row] = feasible
        self.infeasible += not feasible
        self.version += 1

    def set_losses(self, losses: np.ndarray) -> None:
        """Replace every row's loss (in row order), e.g. by a new scalarisation of several
        objectives; a model fitted on the old losses is out of date after this."""
        self._loss[: len(self.rows)] = losses
        self.version += 1

    def _grow(self) -> None:
        x = np.empty((2 * self._x.shape[0], self._x.shape[1]))
        x[: self._x.shape[0]] = self._x
        loss = np.empty(2 * self._loss.size)
        loss[: self._loss.size] = self._loss
        feasible = np.ones(2 * self._feasible.size, dtype=bool)
        feasible[: self._feasible.size] = self._feasible
        self._x, self._loss, self._feasible = x, loss, feasible


class ObservationStore:
    """All observations of a searcher, one :class:`BudgetTable` per resource level."""

    def __init__(self, dim: int) -> None:
        self._dim = dim
        self.tables: dict[int, BudgetTable] = {}

    def add(
        self, resource: int, trial_id: int, vector: np.ndarray, loss: float, feasible: bool = True
    ) -> None:
        table = self.tables.get(resource)
        if table is None:
            table = self.tables[resource] = BudgetTable(self._dim)
        table.add(trial_id, vector, loss, feasible)

    def resources_descending(self) -> list[int]:
        return sorted(self.tables, reverse=True)
