"""Rung levels and the rung: the side-effect-free arithmetic of successive halving.

A rung is the set of trials that reached one resource level, ordered by their metric. Every
decision of ASHA and Hyperband is a question to a rung ("is this trial in the top 1/eta?", "which
is the best trial not promoted yet, if it is in the top floor(n/eta)?"). Both are answered in
O(log n) here, so a decision does not get slower as a study grows: members are kept in a sorted
list and, separately, the members that may still be promoted are kept in a second sorted list.
The best promotable trial is the head of the second list; it is eligible iff its position in the
first list (a bisection) is below floor(n/eta).

Ties in the metric are broken by trial id (earlier trial first), so ranks never depend on the
order in which results arrived and replays are exact.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.types import Mode, SchedulingError, ranking_key


def rung_levels(r_min: int, r_max: int, eta: int) -> list[int]:
    """Resource levels r_min * eta**k below r_max, then r_max itself (always a rung).

    ``rung_levels(1, 52, 3) == [1, 3, 9, 27, 52]``; ``rung_levels(1, 81, 3)`` ends at 81 once.
    Raises :class:`ConfigError` for r_min < 1, r_min > r_max or eta < 2 (an eta of 1 would never
    halve anything and loop forever).
    """
    if isinstance(r_min, bool) or not isinstance(r_min, int) or r_min < 1:
        raise ConfigError("resource.min", f"must be an integer >= 1, got {r_min!r}")
    if isinstance(r_max, bool) or not isinstance(r_max, int) or r_max < r_min:
        raise ConfigError(
            "resource.max", f"must be an integer >= resource.min ({r_min}), got {r_max!r}"
        )
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise ConfigError("scheduler.eta", f"must be an integer >= 2, got {eta!r}", "use 3")
    levels = []
    level = r_min
    while level < r_max:
        levels.append(level)
        level *= eta
    levels.append(r_max)
    return levels


@dataclass(frozen=True)
class RungRow:
    """One member of a rung as the CLI shows it: rank 0 is the best."""

    trial_id: int
    rank: int
    value: float | None
    promoted: bool
    withdrawn: bool


class Rung:
    """Trials that reached one resource level, sorted best first (``ranking_key``, then id).

    Contract: each trial is recorded at most once per rung except through :meth:`record` again
    (a replacement); promoted and withdrawn trials stay members, because the promotion quota
    floor(n/eta) counts every trial that ever reached the rung, as in the ASHA paper.

    ``strict_quota``: the ASHA paper (and Syne Tune) promote the best unpromoted member whenever
    it ranks in the top floor(n/eta); a late arrival that beats an already promoted trial is
    promoted too, so a rung may promote more than floor(n/eta) of its members over time (the
    paper's accepted "mispromotions"). With ``strict_quota=True`` a rung never promotes more
    than floor(n/eta) in total, which gives each rung exactly successive halving's share of the
    budget; a late star then waits until the quota grows (at most eta more arrivals).
    """

    def __init__(self, level: int, eta: int, mode: Mode, *, strict_quota: bool = False) -> None:
        self.level = level
        self.eta = eta
        self.mode = mode
        self.strict_quota = strict_quota
        self._sorted: list[tuple[float, int]] = []  # (key, trial_id) of every member
        self._open: list[tuple[float, int]] = []  # members that may still be promoted
        self._key: dict[int, float] = {}
        self._value: dict[int, float | None] = {}
        self._promoted: set[int] = set()
        self._withdrawn: set[int] = set()

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._key

    @property
    def quota(self) -> int:
        """How many members may leave this rung upwards: floor(n / eta)."""
        return len(self._sorted) // self.eta

    @property
    def promoted(self) -> frozenset[int]:
        return frozenset(self._promoted)

    def record(self, trial_id: int, value: float | None) -> None:
        """Add ``trial_id`` with ``value`` (NaN/inf/None rank worst), replacing an earlier value."""
        if trial_id in self._key:
            self._remove(trial_id)
        entry = (ranking_key(value, self.mode), trial_id)
        self._key[trial_id] = entry[0]
        self._value[trial_id] = value
        bisect.insort(self._sorted, entry)
        if trial_id not in self._promoted and trial_id not in self._withdrawn:
            bisect.insort(self._open, entry)

    def _remove(self, trial_id: int) -> None:
        entry = (self._key[trial_id], trial_id)
        del self._sorted[bisect.bisect_left(self._sorted, entry)]
        pos = bisect.bisect_left(self._open, entry)
        if pos < len(self._open) and self._open[pos] == entry:
            del self._open[pos]

    def rank(self, trial_id: int) -> int:
        """0-based position of ``trial_id`` among all members (0 = best)."""
        self._require(trial_id)
        return bisect.bisect_left(self._sorted, (self._key[trial_id], trial_id))

    def in_top(self, trial_id: int) -> bool:
        """True iff ``trial_id`` is among the best floor(n/eta) members."""
        return self.rank(trial_id) < self.quota

    def best_promotable(self) -> int | None:
        """The best member neither promoted nor withdrawn, if it ranks within the quota."""
        if not self._open:
            return None
        if self.strict_quota and len(self._promoted) >= self.quota:
            return None
        head = self._open[0]
        if bisect.bisect_left(self._sorted, head) < self.quota:
            return head[1]
        return None

    def promote(self, trial_id: int) -> None:
        """Mark ``trial_id`` as promoted: it no longer competes for promotion here."""
        self._close(trial_id)
        self._promoted.add(trial_id)

    def withdraw(self, trial_id: int) -> None:
        """Keep ``trial_id`` as a member (it still counts in n) but never promote it.

        For trials that were stopped or failed: they hold their place in the ranking, which is
        the honest record of what they reported, but cannot be resumed.
        """
        self._close(trial_id)
        self._withdrawn.add(trial_id)

    def _close(self, trial_id: int) -> None:
        self._require(trial_id)
        entry = (self._key[trial_id], trial_id)
        pos = bisect.bisect_left(self._open, entry)
        if pos < len(self._open) and self._open[pos] == entry:
            del self._open[pos]

    def _require(self, trial_id: int) -> None:
        if trial_id not in self._key:
            raise SchedulingError(f"trial {trial_id} is not a member of rung {self.level}")

    def rows(self) -> list[RungRow]:
        """Every member, best first, for inspection (O(n): for people, not for decisions)."""
        return [
            RungRow(
                tid,
                rank,
                self._value[tid],
                tid in self._promoted,
                tid in self._withdrawn,
            )
            for rank, (_, tid) in enumerate(self._sorted)
        ]
