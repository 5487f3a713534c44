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

from slurmhpo.pareto import TieBreak, pareto_order, to_keys
from slurmhpo.scheduling.rungs import RungRow
from slurmhpo.scheduling.types import SchedulingError

Vector = tuple[float | None, ...]


class ParetoRung:
    """Trials that reached one level, ranked by several objectives (see the module docstring).

    ``record`` takes the tuple of every objective's value (or None for the worst result);
    promotion quota, ``strict_quota``, promoted and withdrawn members behave as in
    :class:`~slurmhpo.scheduling.rungs.Rung`.
    """

    def __init__(
        self,
        level: int,
        eta: int,
        modes: Sequence[str],
        tie_break: TieBreak,
        *,
        strict_quota: bool = False,
    ) -> None:
        self.level = level
        self.eta = eta
        self.modes = tuple(modes)
        self.tie_break: TieBreak = tie_break
        self.strict_quota = strict_quota
        self._values: dict[int, Vector | None] = {}
        self._promoted: set[int] = set()
        self._withdrawn: set[int] = set()
        self._order: list[int] | None = None  # trial ids best first; None: to recompute
        self._rank: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._values

    @property
    def quota(self) -> int:
        """How many members may leave this rung upwards: floor(n / eta)."""
        return len(self._values) // self.eta

    @property
    def promoted(self) -> frozenset[int]:
        return frozenset(self._promoted)

    def record(self, trial_id: int, values: Vector | None) -> None:
        """Add ``trial_id`` with one value per objective (None: worst), replacing an earlier one."""
        if values is not None and len(values) != len(self.modes):
            raise SchedulingError(
                f"trial {trial_id}: {len(values)} objective values, expected {len(self.modes)}"
            )
        self._values[trial_id] = None if values is None else tuple(values)
        self._order = None

    def order(self) -> list[int]:
        """Member trial ids, best first (cached until a member is recorded)."""
        if self._order is None:
            ids = sorted(self._values)
            rows = [self._values[t] or (None,) * len(self.modes) for t in ids]
            keys = to_keys(rows, self.modes)
            self._order = [ids[i] for i in pareto_order(keys, self.tie_break)]
            self._rank = {t: r for r, t in enumerate(self._order)}
        return self._order

    def rank(self, trial_id: int) -> int:
        """0-based position of ``trial_id`` among all members (0 = best)."""
        self._require(trial_id)
        self.order()
        return self._rank[trial_id]

    def in_top(self, trial_id: int) -> bool:
        """True iff ``trial_id`` is among the best floor(n/eta) members."""
        return self.rank(trial_id) < self.quota

    def best_promotable(self) -> int | None:
        """The best member neither promoted nor withdrawn, if it ranks within the quota."""
        if self.strict_quota and len(self._promoted) >= self.quota:
            return None
        for trial_id in self.order()[: self.quota]:
            if trial_id not in self._promoted and trial_id not in self._withdrawn:
                return trial_id
        return None

    def promote(self, trial_id: int) -> None:
        """Mark ``trial_id`` as promoted: it no longer competes for promotion here."""
        self._require(trial_id)
        self._promoted.add(trial_id)

    def withdraw(self, trial_id: int) -> None:
        """Keep ``trial_id`` as a member (it still counts in n) but never promote it."""
        self._require(trial_id)
        self._withdrawn.add(trial_id)

    def _require(self, trial_id: int) -> None:
        if trial_id not in self._values:
            raise SchedulingError(f"trial {trial_id} is not a member of rung {self.level}")

    def rows(self) -> list[RungRow]:
        """Every member, best first; ``value`` is the first objective's."""
        return [
            RungRow(
                tid,
                rank,
                None if self._values[tid] is None else self._values[tid][0],  # type: ignore[index]
                tid in self._promoted,
                tid in self._withdrawn,
            )
            for rank, tid in enumerate(self.order())
        ]
