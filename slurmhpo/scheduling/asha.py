"""Asynchronous successive halving (ASHA) and asynchronous Hyperband, both variants.

One class serves both: asynchronous Hyperband is a set of independent ASHA brackets (bracket
``b`` starts at the b-th rung level, see :mod:`slurmhpo.scheduling.brackets`) and a new trial's
bracket is drawn from the scheduler's rng with Hyperband's proportions; ASHA is the case of a
single bracket (no draw).

*stopping* (start-and-stop): a new trial is started with target r_max. At each rung level of its
bracket it continues iff it ranks within the best floor(n/eta) of the n trials recorded at that
rung so far (itself included); else it is stopped. While a rung holds fewer than eta trials
(floor(n/eta) = 0) every arrival continues: there is no evidence yet to rank against, and
stopping there would stop the first trials of every study. This follows the ASHA paper's rule
that a rung promotes nobody until it has eta members, turned into a grace for the stopping form.

*promotion* (pause-and-resume, ASHA paper Algorithm 2): every job trains to the next rung level
of its bracket and pauses there. When a worker is free, the best not-yet-promoted trial of the
highest rung (over all brackets) that has one within its best floor(n/eta) is resumed to the
next level; otherwise a new trial starts at its bracket's first level. A trial arriving at r_max
is complete.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from slurmhpo.scheduling.base import Scheduler, Searcher, TrialRecord
from slurmhpo.scheduling.brackets import bracket_probabilities
from slurmhpo.scheduling.rungs import Rung, RungPlacement, RungRow, rung_levels
from slurmhpo.scheduling.types import Action, Mode, SchedulingError, Suggestion

Variant = Literal["stopping", "promotion"]


class AsyncHyperband(Scheduler):
    """ASHA brackets 0..num_brackets-1 over ``rung_levels(r_min, r_max, eta, rung_placement)``.

    ``num_brackets=None`` uses every bracket (one per rung level, Hyperband's s_max + 1);
    ``num_brackets=1`` is plain ASHA. ``strict_quota`` (promotion variant): see
    :class:`~slurmhpo.scheduling.rungs.Rung`; False (the default) is the ASHA paper's rule.
    ``rung_placement``: see :func:`~slurmhpo.scheduling.rungs.rung_levels`.
    """

    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        eta: int,
        rng: np.random.Generator,
        *,
        variant: Variant = "promotion",
        num_brackets: int | None = None,
        strict_quota: bool = False,
        rung_placement: RungPlacement = "from_min",
    ) -> None:
        super().__init__(searcher, mode, r_min, r_max, rng)
        if variant not in ("stopping", "promotion"):
            raise SchedulingError(f"variant must be 'stopping' or 'promotion', got {variant!r}")
        self.levels = rung_levels(r_min, r_max, eta, rung_placement)
        self.eta = eta
        self.variant: Variant = variant
        self.strict_quota = strict_quota
        count = len(self.levels) if num_brackets is None else num_brackets
        if not 1 <= count <= len(self.levels):
            raise SchedulingError(f"num_brackets must be in 1..{len(self.levels)}, got {count}")
        self._probs = bracket_probabilities(count, eta)
        # bracket -> level -> rung; each bracket holds its own rungs (its own ASHA).
        self._rungs: list[dict[int, Rung]] = [
            {lv: self._make_rung(lv) for lv in self.levels[b:]} for b in range(count)
        ]
        # Rungs that can promote, highest level first, ties by bracket: the promotion scan order.
        self._scan = sorted(
            ((lv, b) for b in range(count) for lv in self.levels[b:-1]),
            key=lambda item: (-item[0], item[1]),
        )

    def _make_rung(self, level: int) -> Rung:
        """The rung at ``level``; MO-ASHA puts a Pareto-ranked rung here."""
        return Rung(level, self.eta, self.mode, strict_quota=self.strict_quota)

    @property
    def num_brackets(self) -> int:
        return len(self._rungs)

    # ---- suggest --------------------------------------------------------------------------
    def suggest(self, trial_id: int, *, allow_new: bool = True) -> Suggestion | None:
        if self.variant == "promotion":
            resumed = self._promote()
            if resumed is not None:
                return resumed
        config = self._ask(trial_id, allow_new)
        if config is None:
            return None
        bracket = self._draw_bracket()
        first = self.levels[bracket]
        target = self.r_max if self.variant == "stopping" else first
        return self._start(trial_id, target, bracket, config)

    def _draw_bracket(self) -> int:
        if self.num_brackets == 1:
            return 0  # plain ASHA: no draw, so its rng stream is never touched
        return int(self.rng.choice(self.num_brackets, p=self._probs))

    def _promote(self) -> Suggestion | None:
        """Resume the best promotable trial of the highest rung that has one (O(rungs log n))."""
        for level, bracket in self._scan:
            rung = self._rungs[bracket][level]
            trial_id = rung.best_promotable()
            if trial_id is None:
                continue
            rung.promote(trial_id)
            return self._resume(self._trials[trial_id], self._next_level(level))
        return None

    def _next_level(self, level: int) -> int:
        return self.levels[self.levels.index(level) + 1]

    # ---- results --------------------------------------------------------------------------
    def _observes(self, rec: TrialRecord, resource: int) -> bool:
        return resource in self._rungs[rec.bracket]

    def _decide(self, rec: TrialRecord, resource: int, value: float | None) -> Action:
        return self._decide_at_rung(rec, resource, value)

    def _decide_at_rung(self, rec: TrialRecord, resource: int, value: Any) -> Action:
        """The decision once ``value`` (what the rung ranks by) is known."""
        rung = self._rungs[rec.bracket].get(resource)
        if rung is None:
            return Action.CONTINUE  # not a rung level of this trial's bracket
        rung.record(rec.trial_id, value)
        rec.reached = resource
        if resource == self.r_max:
            return Action.COMPLETE
        if self.variant == "promotion":
            if resource != rec.target:
                raise SchedulingError(
                    f"trial {rec.trial_id} reached rung {resource} but its target is {rec.target}"
                )
            return Action.PAUSE
        if len(rung) < self.eta or rung.in_top(rec.trial_id):
            return Action.CONTINUE
        rung.withdraw(rec.trial_id)
        return Action.STOP

    def _on_failed(self, rec: TrialRecord) -> None:
        """Record the failure as the worst result at the next rung level it had not reached."""
        rungs = self._rungs[rec.bracket]
        for level in self.levels[rec.bracket :]:
            if level > rec.reached:
                rungs[level].record(rec.trial_id, None)
                rungs[level].withdraw(rec.trial_id)
                return

    def rung_table(self) -> dict[int, dict[int, list[RungRow]]]:
        return {
            b: {lv: rung.rows() for lv, rung in rungs.items()}
            for b, rungs in enumerate(self._rungs)
        }


class ASHA(AsyncHyperband):
    """Single-bracket asynchronous successive halving (Li et al. 2018)."""

    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        eta: int,
        rng: np.random.Generator,
        *,
        variant: Variant = "promotion",
        strict_quota: bool = False,
        rung_placement: RungPlacement = "from_min",
    ) -> None:
        super().__init__(
            searcher, mode, r_min, r_max, eta, rng,
            variant=variant, num_brackets=1, strict_quota=strict_quota,
            rung_placement=rung_placement,
        )  # fmt: skip
