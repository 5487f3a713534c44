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
from typing import Literal

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.types import Mode, SchedulingError, ranking_key

RungPlacement = Literal["from_min", "from_max"]
RUNG_PLACEMENTS: tuple[RungPlacement, ...] = ("from_min", "from_max")


def rung_levels(
    r_min: int, r_max: int, eta: int, placement: RungPlacement = "from_min"
) -> list[int]:
    """The rung levels of a successive-halving ladder, lowest first; r_max is always the last.

    ``placement="from_min"`` (the ASHA paper, Syne Tune): r_min * eta**k below r_max, then
    r_max itself, so ``rung_levels(1, 52, 3) == [1, 3, 9, 27, 52]``. When r_max is not
    r_min * eta**k the top step is smaller than eta (27 -> 52).

    ``placement="from_max"`` (the Hyperband paper, HpBandSter, DEHB): r_max * eta**-k for
    k = s_max..0, rounded to the nearest integer, with s_max the largest k such that
    r_min * eta**k <= r_max; ``rung_levels(1, 52, 3, "from_max") == [2, 6, 17, 52]``. Every
    step is eta (up to rounding) and the ladder has one rung fewer whenever r_max is not
    r_min * eta**k: the first rung is then above r_min, so the cheapest judgement is made on
    more training. Both placements agree when r_max = r_min * eta**k.

    Raises :class:`ConfigError` for r_min < 1, r_min > r_max, eta < 2 (an eta of 1 would never
    halve anything and loop forever) or an unknown placement.
    """
    _check_ladder(r_min, r_max, eta)
    if placement == "from_min":
        return _levels_from_min(r_min, r_max, eta)
    if placement == "from_max":
        return _levels_from_max(r_min, r_max, eta)
    raise ConfigError(
        "scheduler.rung_levels",
        f"must be one of {list(RUNG_PLACEMENTS)}, got {placement!r}",
        'use "from_min" (r_min * eta^k) or "from_max" (r_max * eta^-k)',
    )


def _check_ladder(r_min: int, r_max: int, eta: int) -> None:
    """Refuse a ladder that cannot be built, naming the study-file field to fix."""
    if isinstance(r_min, bool) or not isinstance(r_min, int) or r_min < 1:
        raise ConfigError("resource.min", f"must be an integer >= 1, got {r_min!r}")
    if isinstance(r_max, bool) or not isinstance(r_max, int) or r_max < r_min:
        raise ConfigError(
            "resource.max", f"must be an integer >= resource.min ({r_min}), got {r_max!r}"
        )
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise ConfigError("scheduler.eta", f"must be an integer >= 2, got {eta!r}", "use 3")


def _levels_from_min(r_min: int, r_max: int, eta: int) -> list[int]:
    """r_min * eta**k while below r_max, then r_max (a short last step is kept, not dropped)."""
    levels = []
    level = r_min
    while level < r_max:
        levels.append(level)
        level *= eta
    levels.append(r_max)
    return levels


def _levels_from_max(r_min: int, r_max: int, eta: int) -> list[int]:
    """r_max / eta**k rounded half up, in exact integer arithmetic (no float surprises).

    Rounding cannot fall below r_min (r_max / eta**s_max >= r_min, an integer) and keeps the
    levels strictly increasing: consecutive exact values x and eta * x with x >= 1 are at
    least 1 apart, and neither rounds past the other.
    """
    s_max = 0
    while r_min * eta ** (s_max + 1) <= r_max:
        s_max += 1
    return [(2 * r_max + eta**k) // (2 * eta**k) for k in range(s_max, -1, -1)]


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
        return len(self) // self.eta

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

    def best(self, count: int) -> list[int]:
        """The ``count`` best members, best first (O(count))."""
        return [trial_id for _, trial_id in self._sorted[:count]]

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
