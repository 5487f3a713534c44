"""Hyperband bracket sizes (the paper's table) and asynchronous bracket proportions."""

from __future__ import annotations

import numpy as np
import pytest
from sched_helpers import FakeSearcher

from slurmhpo.scheduling.asha import AsyncHyperband
from slurmhpo.scheduling.brackets import bracket_plan, bracket_probabilities
from slurmhpo.scheduling.rungs import rung_levels
from slurmhpo.scheduling.types import SchedulingError, StartTrial


def test_hyperband_paper_table_r81_eta3() -> None:
    """Li et al. 2018, Table 1: R = 81, eta = 3, s_max = 4."""
    levels = rung_levels(1, 81, 3)
    plans = [bracket_plan(levels, b, 3) for b in range(5)]
    assert [p.sizes[0] for p in plans] == [81, 34, 15, 8, 5]
    assert [p.levels[0] for p in plans] == [1, 3, 9, 27, 81]
    assert plans[0].sizes == (81, 27, 9, 3, 1)
    assert plans[1].sizes == (34, 11, 3, 1) and plans[1].levels == (3, 9, 27, 81)
    assert plans[2].sizes == (15, 5, 1)
    assert plans[3].sizes == (8, 2)
    assert plans[4].sizes == (5,) and plans[4].levels == (81,)


def test_lcbench_brackets_keep_r_max_52_as_the_top_rung() -> None:
    levels = rung_levels(1, 52, 3)
    assert bracket_plan(levels, 0, 3).levels == (1, 3, 9, 27, 52)
    assert bracket_plan(levels, 0, 3).sizes == (81, 27, 9, 3, 1)
    assert bracket_plan(levels, 3, 3).levels == (27, 52)


def test_from_max_brackets_are_hpbandsters_for_r_max_52() -> None:
    """HpBandSter's BOHB(min 1, max 52, eta 3): s_max = 3, budgets 1.93, 5.78, 17.33, 52
    (2, 6, 17, 52 rounded) and n = floor(4 / (s + 1) * 3**s): 27, 12, 6, 4 configurations.
    The from_min ladder instead has five brackets and starts 81 trials at epoch 1."""
    levels = rung_levels(1, 52, 3, "from_max")
    plans = [bracket_plan(levels, b, 3) for b in range(4)]
    assert plans[0].levels == (2, 6, 17, 52) and plans[0].sizes == (27, 9, 3, 1)
    assert plans[1].levels == (6, 17, 52) and plans[1].sizes == (12, 4, 1)
    assert plans[2].levels == (17, 52) and plans[2].sizes == (6, 2)
    assert plans[3].levels == (52,) and plans[3].sizes == (4,)


def test_bracket_out_of_range() -> None:
    with pytest.raises(SchedulingError):
        bracket_plan([1, 3, 9], 3, 3)


def test_bracket_probabilities_follow_hyperband_counts() -> None:
    probs = bracket_probabilities(5, 3)
    weights = np.array([81, 33.75, 15, 7.5, 5])  # 5/(s+1) * 3**s for s = 4..0
    np.testing.assert_allclose(probs, weights / weights.sum())
    assert bracket_probabilities(1, 3).tolist() == [1.0]


def test_async_hyperband_draws_brackets_in_those_proportions() -> None:
    draws = 20_000
    sched = AsyncHyperband(
        FakeSearcher(np.random.default_rng(0)), "max", 1, 52, 3, np.random.default_rng(1)
    )
    brackets = []
    for trial_id in range(draws):
        s = sched.suggest(trial_id)
        assert isinstance(s, StartTrial)
        assert s.target == rung_levels(1, 52, 3)[s.bracket], "promotion: first rung of bracket"
        brackets.append(s.bracket)
    freq = np.bincount(brackets, minlength=5) / draws
    # binomial standard error <= 0.0036 here; 0.015 is a generous (> 4 sigma) tolerance
    np.testing.assert_allclose(freq, bracket_probabilities(5, 3), atol=0.015)
