"""A rung ranked by several objectives: MO-ASHA's replacement of the scalar rung.

Same questions as :class:`~slurmhpo.scheduling.rungs.Rung` ("is this trial in the top
floor(n/eta)?", "which is the best trial not promoted yet?"), answered with a Pareto ranking
(:func:`slurmhpo.pareto.pareto_order`: non-dominated fronts, then the tie-break) instead of a
sort by one value. A member's place depends on every other member (a new arrival can move a
trial to another front, or change crowding distances), so the ranking is recomputed when the
members change, in O(n^2 m) numpy work, and cached until the next change.

Members without a usable vector (a failed trial, an infeasible result, a missing or
non-finite objective) rank after every other one, by trial id, as NaN does in a scalar rung.
Rows are kept in trial-id order so that ranks never depend on the order results arrived in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slurmhpo.pareto import TieBreak, pareto_order, to_keys
from slurmhpo.scheduling.rungs import Rung, RungRow
from slurmhpo.scheduling.types import Mode, SchedulingError

Vector = tuple[float | None, ...]


class ParetoRung(Rung):
    """Trials that reached one level, ranked by several objectives (see the module docstring).

    ``record`` takes the tuple of every objective's value (or None for the worst result);
    promotion quota, ``strict_quota``, promoted and withdrawn members behave as in
    :class:`~slurmhpo.scheduling.rungs.Rung`, whose bookkeeping of them it inherits.
    """

    def __init__(
        self,
        level: int,
        eta: int,
        modes: Sequence[Mode],
        tie_break: TieBreak,
        *,
        strict_quota: bool = False,
    ) -> None:
        super().__init__(level, eta, modes[0], strict_quota=strict_quota)
        self.modes = tuple(modes)
        self.tie_break: TieBreak = tie_break
        self._vectors: dict[int, Vector | None] = {}
        self._order: list[int] | None = None  # trial ids best first; None: to recompute
        self._rank: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._vectors

    def record(self, trial_id: int, value: Any) -> None:
        """Add ``trial_id`` with one value per objective (None: worst), replacing an earlier one."""
        if value is not None and len(value) != len(self.modes):
            raise SchedulingError(
                f"trial {trial_id}: {len(value)} objective values, expected {len(self.modes)}"
            )
        self._vectors[trial_id] = None if value is None else tuple(value)
        self._order = None

    def order(self) -> list[int]:
        """Member trial ids, best first (cached until a member is recorded)."""
        if self._order is None:
            ids = sorted(self._vectors)
            rows = [self._vectors[t] or (None,) * len(self.modes) for t in ids]
            keys = to_keys(rows, self.modes)
            self._order = [ids[i] for i in pareto_order(keys, self.tie_break)]
            self._rank = {t: r for r, t in enumerate(self._order)}
        return self._order

    def rank(self, trial_id: int) -> int:
        """0-based position of ``trial_id`` among all members (0 = best)."""
        self._require(trial_id)
        self.order()
        return self._rank[trial_id]

    def best_promotable(self) -> int | None:
        """The best member neither promoted nor withdrawn, if it ranks within the quota."""
        if self.strict_quota and len(self._promoted) >= self.quota:
            return None
        for trial_id in self.order()[: self.quota]:
            if trial_id not in self._promoted and trial_id not in self._withdrawn:
                return trial_id
        return None

    def _close(self, trial_id: int) -> None:
        self._require(trial_id)  # no list of open members to update: the order is recomputed

    def _require(self, trial_id: int) -> None:
        if trial_id not in self._vectors:
            raise SchedulingError(f"trial {trial_id} is not a member of rung {self.level}")

    def rows(self) -> list[RungRow]:
        """Every member, best first; ``value`` is the first objective's."""
        rows = []
        for rank, tid in enumerate(self.order()):
            vector = self._vectors[tid]
            first = None if vector is None else vector[0]
            rows.append(RungRow(tid, rank, first, tid in self._promoted, tid in self._withdrawn))
        return rows
