"""Hyperband bracket arithmetic (Li et al. 2018), free of side effects.

Numbering, used by every scheduler in this package: bracket ``b`` starts at the b-th rung level,
``rung_levels(r_min, r_max, eta, placement)[b]``, and climbs the remaining levels up to r_max.
Bracket 0 is the most aggressive one (most configurations, smallest first budget), like the
Hyperband paper's s = s_max; the paper's s is ``s_max - b``, and ``s_max = len(levels) - 1``.
When r_max is not r_min * eta**k the ladder decides what that means: "from_min" (1, 3, 9, 27,
52) keeps a short top step and so one bracket more than the paper, whose bracket 0 then starts
eta times as many trials (81 at epoch 1); "from_max" (2, 6, 17, 52) is the paper's own
s_max = floor(log_eta(r_max / r_min)) (27 trials at epoch 2, as HpBandSter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from slurmhpo.scheduling.types import SchedulingError


@dataclass(frozen=True)
class BracketPlan:
    """One synchronous successive-halving bracket: ``sizes[i]`` trials run to ``levels[i]``."""

    bracket: int
    levels: tuple[int, ...]
    sizes: tuple[int, ...]


def paper_n(bracket: int, s_max: int, eta: int) -> float:
    """Hyperband's initial number of configurations of a bracket, before rounding up.

    n = (s_max + 1) / (s + 1) * eta**s with the paper's s = s_max - bracket: every bracket gets
    about the same total budget, so aggressive brackets try many more configurations.
    """
    s = s_max - bracket
    return (s_max + 1) / (s + 1) * eta**s


def bracket_plan(levels: list[int], bracket: int, eta: int) -> BracketPlan:
    """Sizes of bracket ``bracket``: n = ceil(paper_n), then floor(n / eta**i) at rung i.

    For r_min=1, r_max=81, eta=3 the first sizes are 81, 34, 15, 8, 5 for brackets 0..4.
    """
    s_max = len(levels) - 1
    if not 0 <= bracket <= s_max:
        raise SchedulingError(f"bracket {bracket} outside 0..{s_max}")
    n = math.ceil(paper_n(bracket, s_max, eta) - 1e-9)
    own = tuple(levels[bracket:])
    sizes = tuple(n // eta**i for i in range(len(own)))
    return BracketPlan(bracket, own, sizes)


def bracket_probabilities(num_brackets: int, eta: int) -> np.ndarray:
    """How often asynchronous Hyperband puts a new trial into each bracket.

    Proportional to the unrounded number of configurations synchronous Hyperband starts in that
    bracket (``paper_n``), so in the long run each bracket gets a similar share of the budget, as
    in Li et al. 2018 and Syne Tune's asynchronous Hyperband.
    """
    if num_brackets < 1:
        raise SchedulingError(f"need at least one bracket, got {num_brackets}")
    s_max = num_brackets - 1
    weights = np.array([paper_n(b, s_max, eta) for b in range(num_brackets)], dtype=float)
    return weights / weights.sum()
