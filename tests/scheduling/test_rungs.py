"""Rung levels and the Rung structure, by hand."""

from __future__ import annotations

import math

import pytest

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.rungs import Rung, rung_levels
from slurmhpo.scheduling.types import SchedulingError


@pytest.mark.parametrize(
    ("r_min", "r_max", "eta", "levels"),
    [
        (1, 52, 3, [1, 3, 9, 27, 52]),
        (1, 81, 3, [1, 3, 9, 27, 81]),
        (1, 27, 3, [1, 3, 9, 27]),
        (2, 100, 4, [2, 8, 32, 100]),
        (5, 5, 3, [5]),
        (1, 10, 2, [1, 2, 4, 8, 10]),
    ],
)
def test_rung_levels(r_min: int, r_max: int, eta: int, levels: list[int]) -> None:
    assert rung_levels(r_min, r_max, eta) == levels


@pytest.mark.parametrize(
    ("r_min", "r_max", "eta", "levels"),
    [
        (1, 52, 3, [2, 6, 17, 52]),  # HpBandSter's 1.93, 5.78, 17.33, 52 rounded (PEERS.md)
        (1, 81, 3, [1, 3, 9, 27, 81]),  # r_max = r_min * eta^4: both placements agree
        (1, 27, 3, [1, 3, 9, 27]),
        (2, 52, 3, [6, 17, 52]),  # 2 * 27 > 52: s_max = 2, so 52/9 = 5.78 -> 6 comes first
        (2, 100, 4, [6, 25, 100]),  # 100/16 = 6.25 -> 6, 100/4 = 25
        (5, 5, 3, [5]),
        (1, 10, 2, [1, 3, 5, 10]),  # 10/8 = 1.25, 10/4 = 2.5 (halves round up), 10/2
        (1, 2, 2, [1, 2]),
    ],
)
def test_rung_levels_from_max(r_min: int, r_max: int, eta: int, levels: list[int]) -> None:
    assert rung_levels(r_min, r_max, eta, "from_max") == levels


@pytest.mark.parametrize("eta", [2, 3, 4, 5])
@pytest.mark.parametrize("r_min", [1, 2, 3, 7])
def test_from_max_ladders_are_well_formed(r_min: int, eta: int) -> None:
    """For every r_max: increasing, within [r_min, r_max], ending at r_max, each level the
    nearest integer to r_max / eta^k, and the same ladder as from_min when r_max is
    r_min * eta^k, else one rung fewer (from_min's short top step is not taken)."""
    for r_max in range(r_min, 400):
        levels = rung_levels(r_min, r_max, eta, "from_max")
        from_min = rung_levels(r_min, r_max, eta, "from_min")
        assert levels == sorted(set(levels)) and levels[-1] == r_max and levels[0] >= r_min
        if any(r_min * eta**k == r_max for k in range(len(from_min))):
            assert levels == from_min
        else:
            assert len(levels) == len(from_min) - 1
        for k, level in enumerate(reversed(levels)):
            assert abs(level - r_max / eta**k) <= 0.5


def test_unknown_placement_names_the_field_and_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        rung_levels(1, 52, 3, "from_middle")  # type: ignore[arg-type]
    assert info.value.field == "scheduler.rung_levels"
    assert info.value.fix is not None and "from_max" in info.value.fix


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0, 10, 3), "resource.min"),
        ((5, 4, 3), "resource.max"),
        ((1, 10, 1), "scheduler.eta"),
        ((1, 10, 2.5), "scheduler.eta"),
        ((True, 10, 3), "resource.min"),
    ],
)
def test_rung_levels_refuses_bad_input(args: tuple, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        rung_levels(*args)
    assert info.value.field == field


def make(values: dict[int, float | None], mode: str = "min", eta: int = 3) -> Rung:
    rung = Rung(1, eta, mode)  # type: ignore[arg-type]
    for trial_id, value in values.items():
        rung.record(trial_id, value)
    return rung


def test_rank_respects_mode_and_puts_bad_values_last() -> None:
    values = {0: 0.5, 1: math.nan, 2: 0.1, 3: None, 4: math.inf, 5: 0.9}
    low = make(values, "min")
    assert [low.rank(t) for t in (2, 0, 5)] == [0, 1, 2]
    assert {low.rank(t) for t in (1, 3, 4)} == {3, 4, 5}
    high = make(values, "max")
    assert [high.rank(t) for t in (5, 0, 2)] == [0, 1, 2]
    assert high.rank(4) >= 3, "+inf is a bad value even when maximising"


def test_ties_are_broken_by_trial_id_whatever_the_arrival_order() -> None:
    rung = make({7: 0.2, 3: 0.2, 5: 0.2})
    assert [row.trial_id for row in rung.rows()] == [3, 5, 7]


def test_quota_and_in_top() -> None:
    rung = make({0: 0.4, 1: 0.3})
    assert rung.quota == 0 and not rung.in_top(1)
    rung.record(2, 0.1)
    assert rung.quota == 1 and rung.in_top(2) and not rung.in_top(1)
    for i, v in enumerate([0.9, 0.8, 0.05], start=3):
        rung.record(i, v)
    assert rung.quota == 2
    assert [t for t in range(6) if rung.in_top(t)] == [2, 5]


def test_best_promotable_skips_promoted_and_withdrawn_and_respects_quota() -> None:
    rung = make({0: 0.1, 1: 0.2, 2: 0.3, 3: 0.4, 4: 0.5, 5: 0.6})  # quota 2
    assert rung.best_promotable() == 0
    rung.promote(0)
    assert rung.best_promotable() == 1
    rung.withdraw(1)
    assert rung.best_promotable() is None, "trial 2 ranks third: outside the quota of 2"
    rung.record(6, 0.7)
    rung.record(7, 0.8)
    rung.record(8, 0.9)  # n = 9, quota 3
    assert rung.best_promotable() == 2
    assert rung.promoted == {0}
    assert [r.trial_id for r in rung.rows() if r.withdrawn] == [1]


def test_record_again_replaces_the_value() -> None:
    rung = make({0: 0.1, 1: 0.2, 2: 0.3})
    rung.record(0, 0.9)
    assert len(rung) == 3
    assert rung.rank(0) == 2 and rung.best_promotable() == 1


def test_unknown_member_is_an_error() -> None:
    with pytest.raises(SchedulingError, match="not a member"):
        make({0: 0.1}).rank(1)


def test_strict_quota_caps_promotions_where_the_paper_rule_does_not() -> None:
    """Rung of 3: trial 1 promoted; trial 3 then arrives best (n = 4, quota 1)."""
    paper, strict = make({0: 0.5, 1: 0.3, 2: 0.7}), Rung(1, 3, "min", strict_quota=True)
    for t, v in {0: 0.5, 1: 0.3, 2: 0.7}.items():
        strict.record(t, v)
    for rung in (paper, strict):
        assert rung.best_promotable() == 1
        rung.promote(1)
        rung.record(3, 0.1)
    assert paper.best_promotable() == 3, "ASHA paper: top-1 minus promoted = {3}"
    assert strict.best_promotable() is None, "strict: 1 of floor(4/3) = 1 already promoted"
    for t in (4, 5):
        strict.record(t, 0.9)
    assert strict.best_promotable() == 3, "n = 6: the quota grew to 2"
