"""The numpy product KDE: normalisation, bandwidth rules, inactive values and sampling."""

from __future__ import annotations

import numpy as np
import pytest

from slurmhpo.scheduling.searchers.kde_model import (
    category_index,
    impute_inactive,
    log_pdf,
    normal_reference_bandwidths,
    sample_around,
)


def test_continuous_density_integrates_to_one_even_near_the_bounds() -> None:
    data = np.array([[0.0, 0.5], [0.02, 0.98], [0.5, 0.5], [1.0, 0.0]])
    bw = np.array([0.1, 0.2])
    ticks = (np.arange(400) + 0.5) / 400
    xx, yy = np.meshgrid(ticks, ticks)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    density = np.exp(log_pdf(points, data, bw, np.array([0, 0])))
    assert density.mean() == pytest.approx(1.0, abs=2e-3)  # mean over the cube = integral


def test_categorical_kernel_is_aitchison_aitken() -> None:
    data = np.array([[0.5 / 3], [0.5 / 3], [2.5 / 3]])  # categories 0, 0, 2 of 3
    lam = np.array([0.3])
    points = (np.arange(3)[:, None] + 0.5) / 3
    pmf = np.exp(log_pdf(points, data, lam, np.array([3])))
    assert pmf.sum() == pytest.approx(1.0)
    expected = [(2 * 0.7 + 0.15) / 3, (3 * 0.15) / 3, (2 * 0.15 + 0.7) / 3]
    assert pmf == pytest.approx(expected)


def test_inactive_data_value_contributes_a_uniform_kernel() -> None:
    data = np.array([[0.2, np.nan], [0.8, 0.5]])
    bw = np.array([0.1, 0.1])
    points = np.array([[0.2, 0.1], [0.2, 0.9]])
    # The first data point says nothing about dimension 1, so both points get its full weight.
    log_p = log_pdf(points, data, bw, np.array([0, 0]))
    first_only = log_pdf(points[:, :1], data[:1, :1], bw[:1], np.array([0])) + np.log(0.5)
    assert np.exp(log_p) == pytest.approx(np.exp(first_only), rel=1e-6)


def test_inactive_query_value_gives_the_marginal_density() -> None:
    data = np.array([[0.2, 0.3, 0.5 / 2], [0.7, 0.9, 1.5 / 2]])
    bw = np.array([0.1, 0.2, 0.2])
    sizes = np.array([0, 0, 2])
    point = np.array([[0.25, np.nan, np.nan]])
    marginal = log_pdf(point[:, :1], data[:, :1], bw[:1], sizes[:1])
    assert log_pdf(point, data, bw, sizes) == pytest.approx(marginal)


def test_log_pdf_stays_finite_far_from_tiny_bandwidths() -> None:
    data = np.array([[0.0, 0.5 / 4]])
    point = np.array([[1.0, 3.5 / 4]])
    value = log_pdf(point, data, np.array([1e-3, 1e-3]), np.array([0, 4]))
    assert np.isfinite(value).all() and value[0] < -1e5


def test_per_row_bandwidths_are_used() -> None:
    data = np.array([[0.5], [0.5]])
    narrow_then_wide = np.array([[0.01], [0.3]])
    point = np.array([[0.6]])
    mixed = np.exp(log_pdf(point, data, narrow_then_wide, np.array([0])))
    wide = np.exp(log_pdf(point, data, np.array([0.3]), np.array([0])))
    assert mixed == pytest.approx(wide / 2, rel=1e-6)  # the narrow kernel is ~0 at distance 0.1


def test_normal_reference_bandwidth_rule() -> None:
    rng = np.random.default_rng(0)
    column = rng.random(50)
    data = np.column_stack([column, np.full(50, 0.5 / 3), (rng.integers(0, 4, 50) + 0.5) / 4])
    bw = normal_reference_bandwidths(data, np.array([0, 3, 4]), min_bandwidth=1e-3)
    factor = 50 ** (-1 / 7)
    assert bw[0] == pytest.approx(1.06 * np.std(column, ddof=1) * factor)
    # Every point in one category: the smoothing floor, as if one uniform pseudo-point were added.
    assert bw[1] == pytest.approx((2 / 3) / 51)
    assert 0.5 < bw[2] <= 0.75  # spread over 4 categories: wide, capped at 3/4


def test_bandwidths_of_inactive_and_degenerate_columns() -> None:
    data = np.array([[np.nan, 0.4, 0.5], [np.nan, 0.4, 0.5], [0.3, 0.4, 0.5]])
    bw = normal_reference_bandwidths(data, np.array([0, 0, 1]), min_bandwidth=0.01)
    assert bw[0] == pytest.approx(1.06 / np.sqrt(12) * 1 ** (-1 / 7))  # < 2 active: uniform
    assert bw[1] == 0.01  # constant column: the floor
    assert bw[2] == 0.0  # a one-category parameter has nothing to smooth
    assert np.isfinite(bw).all()


def test_imputation_fills_inactive_values_from_active_rows() -> None:
    data = np.array(
        [[0.1, np.nan, np.nan], [0.2, 0.7, np.nan], [np.nan, 0.9, np.nan], [0.4, np.nan, np.nan]]
    )
    out = impute_inactive(data, np.array([0, 0, 3]), np.random.default_rng(0))
    assert not np.isnan(out).any()
    assert np.isnan(data).sum() == 7  # the input is left alone
    assert out[2, 0] in (0.1, 0.2, 0.4)
    assert out[0, 1] in (0.7, 0.9) and out[3, 1] in (0.7, 0.9)
    assert set(out[:, 2]) <= {0.5 / 3, 1.5 / 3, 2.5 / 3}  # no active value: uniform categories
    active = ~np.isnan(data)
    assert np.array_equal(out[active], data[active])


def test_category_index_round_trip() -> None:
    units = (np.arange(5) + 0.5) / 5
    assert category_index(units, 5).tolist() == [0, 1, 2, 3, 4]
    assert category_index(np.array([0.0, 1.0, np.nan]), 5).tolist() == [0, 4, -1]


def test_samples_stay_in_the_cube_and_follow_the_kernels() -> None:
    rng = np.random.default_rng(1)
    data = np.array([[0.0, 0.5 / 3, np.nan], [1.0, 0.5 / 3, np.nan]])
    bw = np.array([0.05, 0.2, 0.05])
    samples = sample_around(data, bw, np.array([0, 3, 0]), 4000, 3.0, rng)
    assert samples.shape == (4000, 3)
    assert np.all((samples >= 0) & (samples <= 1))
    # Continuous: within a few widened bandwidths of a bound, never outside.
    near = np.minimum(samples[:, 0], 1 - samples[:, 0])
    assert np.quantile(near, 0.99) < 4 * 0.15
    # Categorical: keeps its category with probability 1 - lam, else moves to another one.
    kept = np.mean(category_index(samples[:, 1], 3) == 0)
    assert kept == pytest.approx(0.8, abs=0.03)
    # Inactive centre: uniform over [0, 1].
    assert np.histogram(samples[:, 2], bins=4, range=(0, 1))[0].min() > 900


def test_sampling_is_deterministic_for_a_seed() -> None:
    data = np.random.default_rng(0).random((10, 3))
    bw = np.array([0.1, 0.1, 0.2])
    a = sample_around(data, bw, np.array([0, 0, 2]), 50, 3.0, np.random.default_rng(5))
    b = sample_around(data, bw, np.array([0, 0, 2]), 50, 3.0, np.random.default_rng(5))
    assert np.array_equal(a, b)
