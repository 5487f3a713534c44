"""Pareto arithmetic against hand-computed fronts, orders and areas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slurmhpo.pareto import (
    crowding_distance,
    epsilon_net_order,
    front_ranks,
    hypervolume_2d,
    pareto_mask,
    pareto_order,
    to_keys,
)

# (1,5) (2,3) (4,1) are the front; (3,4) is dominated by (2,3); (5,5) by all three.
POINTS = np.array([[3.0, 4.0], [1.0, 5.0], [5.0, 5.0], [2.0, 3.0], [4.0, 1.0]])


def test_to_keys_negates_max_and_makes_bad_values_worst() -> None:
    keys = to_keys([(0.5, 2.0), (None, float("nan")), (1.0, float("inf"))], ["min", "max"])
    assert keys[0].tolist() == [0.5, -2.0]
    assert keys[1].tolist() == [math.inf, math.inf]
    assert keys[2].tolist() == [1.0, math.inf]


def test_front_ranks_by_hand() -> None:
    assert front_ranks(POINTS).tolist() == [1, 0, 2, 0, 0]
    assert pareto_mask(POINTS).tolist() == [False, True, False, True, True]


def test_equal_points_do_not_dominate_each_other() -> None:
    assert front_ranks(np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]])).tolist() == [0, 0, 1]


def test_crowding_distance_by_hand() -> None:
    front = np.array([[1.0, 5.0], [2.0, 3.0], [4.0, 1.0]])
    # middle point: (4-1)/3 + (5-1)/4 = 2.0; the ends are infinite
    assert crowding_distance(front).tolist() == [math.inf, 2.0, math.inf]


def test_pareto_order_puts_fronts_first_then_non_finite_rows() -> None:
    keys = np.vstack([POINTS, [[0.0, math.inf]]])
    order = pareto_order(keys, "nsga2")
    # front {1, 3, 4}: ends 1 and 4 (infinite crowding, by index), then 3; then 0; then 2
    assert order.tolist() == [1, 4, 3, 0, 2, 5]


def test_epsilon_net_order_starts_best_in_first_objective_then_farthest() -> None:
    front = np.array([[2.0, 3.0], [1.0, 5.0], [4.0, 1.0], [1.5, 4.0]])
    # scaled: (1/3, 1/2), (0, 1), (1, 0), (1/6, 3/4); start at row 1 (x=1), farthest is
    # row 2, then row 0 (distance to {1,2}: 0.60) before row 3 (0.30)
    assert epsilon_net_order(front).tolist() == [1, 2, 0, 3]
    assert pareto_order(front, "epsnet").tolist() == [1, 2, 0, 3]


def test_hypervolume_2d_by_hand() -> None:
    # strips: x in [1,2] y in [5,6] -> 1; x in [2,4], y in [3,6] -> 6; x in [4,5], y in [1,6] -> 5
    assert hypervolume_2d(POINTS, (5.0, 6.0)) == pytest.approx(12.0)
    # points outside the reference box and non-finite rows add nothing
    more = np.vstack([POINTS, [[6.0, 0.0], [math.nan, 0.0]]])
    assert hypervolume_2d(more, (5.0, 6.0)) == pytest.approx(12.0)
    assert hypervolume_2d(np.empty((0, 2)), (1.0, 1.0)) == 0.0


def test_hypervolume_2d_matches_a_grid_count() -> None:
    rng = np.random.default_rng(0)
    points = rng.random((30, 2))
    grid = (np.arange(400) + 0.5) / 400
    gx, gy = np.meshgrid(grid, grid)
    cells = np.stack([gx.ravel(), gy.ravel()], axis=1)
    covered = np.any(np.all(points[None, :, :] <= cells[:, None, :], axis=2), axis=1)
    assert hypervolume_2d(points, (1.0, 1.0)) == pytest.approx(covered.mean(), abs=5e-3)
