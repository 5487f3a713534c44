"""Extrapolating one learning curve to r_max with a small ensemble of parametric models.

A cheap version of Domhan, Springenberg and Hutter (IJCAI 2015, "Speeding up automatic
hyperparameter optimization of deep neural networks by extrapolation of learning curves"):
they fit eleven parametric families by MCMC and stop a run when the probability of beating
the best result so far is small. Here three families are fitted by least squares
(:func:`scipy.optimize.curve_fit`), on a score where larger is better and the resource scaled
to x = r / r_max (so every prediction is made at x = 1):

* power law   y = a - b x^(-c)     (b >= 0, 0 < c <= 3)
* exponential y = a - b exp(-c x)  (b >= 0, 0 < c <= 50)
* logarithm   y = a + b log x      (b >= 0)

Each fit gives a predictive normal at x = 1: its value there, and a variance that adds the
residual variance to the parameter uncertainty carried to x = 1 (the delta method with
curve_fit's covariance), so a short or noisy curve predicts widely. The models are weighted
by BIC (exp(-BIC / 2), normalised); the probability of beating the incumbent is the weighted
sum of each normal's mass above it.

Everything here is deterministic (no random draws: curve_fit's trust-region solver from fixed
starting points), so a replay of the same reports gives the same probability. Cost is bounded:
at most :data:`MAX_POINTS` points enter a fit (evenly thinned) and each fit stops after
:data:`MAX_NFEV` function evaluations.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import norm

MAX_POINTS = 100  # points per fit at most; longer curves are thinned evenly (ends kept)
MAX_NFEV = 400  # function evaluations per fit at most
MIN_POINTS = 3  # below this no model with 2-3 parameters can be judged against its residuals
# Per point, on the normalised scale (the curve's range is 1): residuals below 0.1% of the
# range are within the solver's tolerance, so fits closer than that tie and BIC prefers the
# family with fewer parameters; it also keeps log(RSS) finite for exact fits.
_RSS_FLOOR = 1e-6


def _power(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * x ** (-c)


def _exponential(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.exp(-c * x)


def _logarithm(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return a + b * np.log(x)


@dataclass(frozen=True)
class _Family:
    name: str
    f: Callable[..., np.ndarray]
    gradient_at_1: Callable[[np.ndarray], np.ndarray]  # d f(1) / d params
    p0: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


# Starting points are for the normalised curve (last score 0, range 1, rising towards x = 1).
FAMILIES = (
    _Family(
        "power",
        _power,
        lambda p: np.array([1.0, -1.0, 0.0]),
        (1.0, 0.1, 0.5),
        (-np.inf, 0.0, 1e-3),
        (np.inf, np.inf, 3.0),
    ),
    _Family(
        "exponential",
        _exponential,
        lambda p: np.array([1.0, -math.exp(-p[2]), p[1] * math.exp(-p[2])]),
        (0.5, 1.0, 5.0),
        (-np.inf, 0.0, 1e-3),
        (np.inf, np.inf, 50.0),
    ),
    _Family(
        "logarithm",
        _logarithm,
        lambda p: np.array([1.0, 0.0]),
        (0.0, 0.2),
        (-np.inf, 0.0),
        (np.inf, np.inf),
    ),
)


@dataclass(frozen=True)
class Forecast:
    """The ensemble's verdict on one curve.

    ``probability`` is P(score at r_max > incumbent), None when no model could be fitted (then
    ``reason`` says why); ``mean`` the weighted mean prediction (score scale); ``weights`` the
    BIC weight of each fitted family.
    """

    probability: float | None
    reason: str
    mean: float | None = None
    weights: dict[str, float] = field(default_factory=dict)


def thin(resources: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most :data:`MAX_POINTS` points, evenly spread over the curve, first and last kept."""
    if resources.size <= MAX_POINTS:
        return resources, scores
    keep = np.unique(np.linspace(0, resources.size - 1, MAX_POINTS).round().astype(int))
    return resources[keep], scores[keep]


def beat_probability(
    resources: Sequence[int], scores: Sequence[float], r_max: int, incumbent: float
) -> Forecast:
    """P(this curve's score at ``r_max`` > ``incumbent``), scores larger-is-better and finite.

    ``resources`` are increasing integers in 1..r_max. Never raises for a valid input: too few
    points, or no family that fits, give ``probability=None`` with the reason.
    """
    r = np.asarray(resources, dtype=float)
    s = np.asarray(scores, dtype=float)
    if r.size < MIN_POINTS:
        return Forecast(None, f"{r.size} finite reports, a fit needs {MIN_POINTS}")
    r, s = thin(r, s)
    x = r / r_max
    offset = float(s[-1])
    scale = float(np.ptp(s)) or 1.0  # a constant curve keeps scale 1
    y = (s - offset) / scale
    target = (incumbent - offset) / scale
    fits = [fit for family in FAMILIES if (fit := _fit(family, x, y)) is not None]
    if not fits:
        return Forecast(None, "no curve family could be fitted")
    bic = np.array([b for _, _, _, b in fits])
    weights = np.exp(-(bic - bic.min()) / 2)
    weights /= weights.sum()
    means = np.array([m for _, m, _, _ in fits])
    sds = np.array([sd for _, _, sd, _ in fits])
    above = np.array([_mass_above(m, sd, target) for m, sd in zip(means, sds, strict=True)])
    probability = float(np.clip(weights @ above, 0.0, 1.0))
    mean = float(weights @ means) * scale + offset
    named = {name: round(float(w), 3) for (name, _, _, _), w in zip(fits, weights, strict=True)}
    return Forecast(probability, "fitted", mean, named)


def _fit(family: _Family, x: np.ndarray, y: np.ndarray) -> tuple[str, float, float, float] | None:
    """(name, mean at x = 1, predictive sd there, BIC), or None if the family cannot be judged."""
    k = len(family.p0)
    if x.size <= k:
        return None  # no residual degree of freedom: the fit would say nothing about its error
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            params, cov = curve_fit(
                family.f,
                x,
                y,
                p0=family.p0,
                bounds=(family.lower, family.upper),
                max_nfev=MAX_NFEV,
            )
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        return None  # no convergence within MAX_NFEV, or a non-finite model value
    residuals = y - family.f(x, *params)
    rss = float(residuals @ residuals)
    gradient = family.gradient_at_1(params)
    variance = max(rss / (x.size - k) + float(gradient @ cov @ gradient), 0.0)
    mean = float(family.f(np.array([1.0]), *params)[0])
    if not (math.isfinite(mean) and math.isfinite(variance)):
        return None
    bic = x.size * math.log(max(rss, _RSS_FLOOR * x.size) / x.size) + k * math.log(x.size)
    return family.name, mean, math.sqrt(variance), bic


def _mass_above(mean: float, sd: float, target: float) -> float:
    """P(N(mean, sd^2) > target); a point mass when sd is 0."""
    if sd <= 0:
        return 1.0 if mean > target else 0.0
    return float(norm.sf(target, loc=mean, scale=sd))
