"""Product kernel density estimates on the unit cube: bandwidths, log densities, sampling.

Pure numpy functions over arrays; the searcher in ``kde.py`` decides what data goes in.

Data and query points are ``(n, d)`` arrays in the space's unit encoding. ``cat_sizes[j]`` is the
number of categories of dimension ``j`` for unordered categorical parameters and 0 for the
others, which are treated as continuous on [0, 1] (floats, integers and ordinals: their unit
encodings keep the order, and the space rounds a continuous value back to a valid one).

Kernels, per dimension:

- continuous: a Gaussian truncated to [0, 1] and renormalised, so that no probability mass
  leaks out of the cube and points near a bound are not penalised (statsmodels' plain Gaussian
  would be);
- categorical: Aitchison-Aitken, mass ``1 - lam`` on the point's own category and
  ``lam / (c - 1)`` on each other one, ``0 <= lam <= (c - 1) / c`` (the uniform kernel at most).

NaN marks a parameter that is inactive in a configuration. The searcher imputes the NaNs of its
fitted data (:func:`impute_inactive`); the kernels still accept NaN, for pending configurations
and for direct callers. An inactive *data* value contributes the uniform kernel (density 1 on
[0, 1], ``1/c`` for a categorical): the point says nothing about that parameter. An inactive
*query* value contributes a factor 1 for every data point, the kernel integrated over the whole
dimension, so the density of such a query is its marginal over its active parameters.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_UNIFORM_STD = 1.0 / np.sqrt(12.0)


def category_index(units: np.ndarray, size: int) -> np.ndarray:
    """Category indices of unit-encoded values ``(index + 0.5) / size`` (NaN stays -1)."""
    idx = np.floor(np.nan_to_num(units, nan=-1.0) * size).astype(np.int64)
    idx = np.clip(idx, 0, size - 1)
    return np.where(np.isnan(units), -1, idx)


def impute_inactive(
    data: np.ndarray, cat_sizes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A copy of ``data`` with each NaN replaced by the value of a random active row (per column).

    BOHB's imputation: an inactive parameter then looks like those of the other points in the
    same set, so a candidate drawn around such a point is scored in the same dimensions as every
    other candidate, and a config with fewer active parameters is not at a disadvantage. A column
    with no active value gets uniform draws.
    """
    out = np.array(data, dtype=float, copy=True)
    for j in range(out.shape[1]):
        column = out[:, j]
        missing = np.isnan(column)
        if not missing.any():
            continue
        active = column[~missing]
        size = int(cat_sizes[j])
        if active.size:
            fill = active[rng.integers(0, active.size, size=int(missing.sum()))]
        elif size:
            fill = (rng.integers(0, size, size=int(missing.sum())) + 0.5) / size
        else:
            fill = rng.random(int(missing.sum()))
        column[missing] = fill
    return out


def normal_reference_bandwidths(
    data: np.ndarray, cat_sizes: np.ndarray, min_bandwidth: float
) -> np.ndarray:
    """Per-dimension bandwidths by the normal reference rule, ``1.06 s n**(-1/(4+d))``.

    ``s`` is the sample standard deviation of the active values of a continuous dimension (that
    of a uniform variable when fewer than 2 are active). For a categorical dimension it is the
    standard deviation of its one-hot encoding, ``sqrt(1 - sum p_k**2)``, which is 0 when every
    point agrees and grows as the categories even out; the result is the Aitchison-Aitken
    ``lam``, capped at ``(c - 1) / c``. Continuous bandwidths are floored at ``min_bandwidth``;
    ``lam`` at ``((c - 1) / c) / (n + 1)``, as if one pseudo-point spread evenly over the
    categories were added (the prior weight of Optuna's TPE): without it a good set that agrees on
    one category would almost never try another outside the random fraction. A one-category
    dimension has ``lam`` 0.
    """
    n_dims = data.shape[1]
    out = np.empty(n_dims)
    for j in range(n_dims):
        column = data[:, j]
        active = column[~np.isnan(column)]
        n = active.size
        size = int(cat_sizes[j])
        if size == 0:
            spread = float(np.std(active, ddof=1)) if n >= 2 else _UNIFORM_STD
        else:
            counts = np.bincount(category_index(active, size), minlength=size) if n else None
            spread = float(np.sqrt(1.0 - np.sum((counts / n) ** 2))) if counts is not None else 1.0
        bw = 1.06 * spread * max(n, 1) ** (-1.0 / (4 + n_dims))
        bw = max(bw, min_bandwidth)
        if size:
            uniform = (size - 1) / size
            bw = min(max(bw, uniform / (n + 1)), uniform)
        out[j] = bw
    return out


def log_pdf(
    points: np.ndarray, data: np.ndarray, bandwidths: np.ndarray, cat_sizes: np.ndarray
) -> np.ndarray:
    """Log density of the product KDE on ``data`` at each of ``points``: shape ``(m,)``.

    ``bandwidths`` is ``(d,)`` or ``(n, d)`` (one row per data point). Computed in the log domain,
    so it stays finite however far a point lies from the data. Memory is ``O(m * n)``.
    """
    m, n = points.shape[0], data.shape[0]
    bw = np.broadcast_to(bandwidths, data.shape)
    total = np.zeros((m, n))
    for j in range(data.shape[1]):
        size = int(cat_sizes[j])
        if size == 0:
            term = _continuous_log_kernel(points[:, j], data[:, j], bw[:, j])
        else:
            term = _categorical_log_kernel(points[:, j], data[:, j], bw[:, j], size)
        total += term
    return logsumexp(total, axis=1) - np.log(n)


def _continuous_log_kernel(x: np.ndarray, centers: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``(m, n)`` log truncated-Gaussian kernel values; NaN handling as in the module doc."""
    active = ~np.isnan(centers)
    c = np.where(active, centers, 0.5)
    log_norm = np.log(np.maximum(ndtr((1.0 - c) / h) - ndtr(-c / h), 1e-300))
    z = (x[:, None] - c[None, :]) / h[None, :]
    term = -0.5 * z * z - np.log(h)[None, :] - _LOG_SQRT_2PI - log_norm[None, :]
    term = np.where(active[None, :], term, 0.0)
    return np.where(np.isnan(x)[:, None], 0.0, term)


def _categorical_log_kernel(
    x: np.ndarray, centers: np.ndarray, lam: np.ndarray, size: int
) -> np.ndarray:
    """``(m, n)`` log Aitchison-Aitken kernel values; NaN handling as in the module doc."""
    if size == 1:
        return np.zeros((x.size, centers.size))
    same = category_index(x, size)[:, None] == category_index(centers, size)[None, :]
    log_same = np.log1p(-lam)
    log_other = np.log(np.maximum(lam, 1e-300) / (size - 1))
    term = np.where(same, log_same[None, :], log_other[None, :])
    term = np.where(np.isnan(centers)[None, :], -np.log(size), term)
    return np.where(np.isnan(x)[:, None], 0.0, term)


def sample_around(
    data: np.ndarray,
    bandwidths: np.ndarray,
    cat_sizes: np.ndarray,
    count: int,
    bandwidth_factor: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``count`` draws from the KDE on ``data`` with continuous bandwidths times ``factor``.

    Each draw picks a data point uniformly and perturbs every dimension with that dimension's
    kernel: truncated Gaussian (by inverse CDF, so always inside [0, 1]) or Aitchison-Aitken.
    Widening the continuous kernels explores around the good points, as in BOHB; the categorical
    ``lam`` is used as fitted. Inactive (NaN) values of the chosen point are drawn uniformly.
    """
    rows = rng.integers(0, data.shape[0], size=count)
    centers = data[rows]
    out = np.empty_like(centers)
    for j in range(data.shape[1]):
        size = int(cat_sizes[j])
        c = centers[:, j]
        inactive = np.isnan(c)
        if size == 0:
            sd = bandwidths[j] * bandwidth_factor
            c0 = np.where(inactive, 0.5, c)
            lo, hi = ndtr(-c0 / sd), ndtr((1.0 - c0) / sd)
            drawn = c0 + sd * ndtri(lo + (hi - lo) * rng.random(count))
            value = np.where(inactive, rng.random(count), np.clip(drawn, 0.0, 1.0))
        else:
            idx = category_index(c, size)
            shift = rng.integers(1, size, size=count) if size > 1 else np.zeros(count, int)
            moved = rng.random(count) < bandwidths[j]
            idx = np.where(moved, (idx + shift) % size, idx)
            idx = np.where(inactive, rng.integers(0, size, size=count), idx)
            value = (idx + 0.5) / size
        out[:, j] = value
    return out
