"""Synthetic multi-fidelity learning-curve tasks: no data, pure numpy, for CI and smoke tests.

Each task turns a classic multi-fidelity test function into a learning curve over epochs
r = 1..r_max. The function family follows Kandasamy et al., "Multi-fidelity Bayesian
optimisation with continuous approximations" (BOCA, ICML 2017): a fidelity z in (0, 1] shifts
the function's constants, and z = 1 is the original function.

* Branin (x1 in [-5, 10], x2 in [0, 15], minimised):
  f(x; z) = (x2 - b(z) x1^2 + c(z) x1 - 6)^2 + 10 (1 - t(z)) cos(x1) + 10, with
  b(z) = 5.1 / (4 pi^2) - 0.01 (1 - z), c(z) = 5 / pi - 0.1 (1 - z),
  t(z) = 1 / (8 pi) + 0.05 (1 - z).
  At z = 1 the minimum is 0.397887 at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475).
* Hartmann-3 and Hartmann-6 (x in [0, 1]^d, maximised):
  f(x; z) = sum_i alpha_i(z) exp(-sum_j A_ij (x_j - P_ij)^2), alpha(z) = alpha - 0.1 (1 - z),
  alpha = (1, 1.2, 3, 3.2), A and P the standard constants (Hartman 1973; the tables in
  Surjanovic and Bingham's Virtual Library of Simulation Experiments). Maxima at z = 1: 3.86278
  (Hartmann-3) and 3.32237 (Hartmann-6).

On top of the fidelity shift, with z = r / r_max, the value at epoch r is (our own construction)

    y(x, r) = f(x; z) + s * gap(x) * rho(r) * (1 + noise * eps_r),
    rho(r) = (r^-a - r_max^-a) / (1 - r_max^-a),

where s = +1 when minimising and -1 when maximising (early epochs look worse), gap(x) grows
along the first coordinate so that early rankings differ from final ones, ``a`` is the decay
speed of the categorical ``schedule`` ("fast" converges early, "steady" late), and eps_r is
standard normal noise drawn from a generator seeded by (task seed, configuration), so curves are
noisy along r yet deterministic. rho(r_max) = 0: the last epoch is exactly f(x; 1). Without
noise, Hartmann curves improve at every epoch (alpha(z) grows with z); Branin curves improve
overall but may wiggle, because BOCA's bias of Branin has no fixed sign.
Cumulative time is linear in r: time(x, r) = r * cost(x), cost(x) between 5 and 30 seconds,
growing along the last coordinate and 1.5x higher for "fast".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from slurmhpo.bench.base import CurveTask, Mode
from slurmhpo.errors import ConfigError

Fn = Callable[[np.ndarray, np.ndarray], np.ndarray]

SCHEDULES = {"fast": 1.0, "steady": 0.35}  # decay exponent a of the learning curve
_SCHEDULE_COST = {"fast": 1.5, "steady": 1.0}
_BASE_COST = 5.0  # simulated seconds per epoch at the cheapest corner


def branin(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """BOCA's multi-fidelity Branin: ``x`` (n, 2), ``z`` (m,) -> values (n, m)."""
    x1, x2 = x[:, :1], x[:, 1:2]
    lag = 1.0 - z[None, :]
    b = 5.1 / (4 * np.pi**2) - 0.01 * lag
    c = 5 / np.pi - 0.1 * lag
    t = 1 / (8 * np.pi) + 0.05 * lag
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def _hartmann(a: np.ndarray, p: np.ndarray) -> Fn:
    def f(x: np.ndarray, z: np.ndarray) -> np.ndarray:
        bumps = np.exp(-np.sum(a[None] * (x[:, None, :] - p[None]) ** 2, axis=2))  # (n, 4)
        alpha = _H_ALPHA[None, :] - 0.1 * (1.0 - z[:, None])  # (m, 4)
        return bumps @ alpha.T

    return f


hartmann3 = _hartmann(_H3_A, _H3_P)
hartmann6 = _hartmann(_H6_A, _H6_P)


@dataclass(frozen=True)
class Landscape:
    """A multi-fidelity test function with its domain and known optimum at z = 1."""

    key: str
    function: Fn
    low: tuple[float, ...]
    high: tuple[float, ...]
    mode: Mode
    optimum: float
    optimizers: tuple[tuple[float, ...], ...]
    gap: float  # size of the epoch-1 shortfall, in units of the function

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"x{i + 1}" for i in range(len(self.low)))


LANDSCAPES = {
    "branin-mf": Landscape(
        "branin-mf",
        branin,
        (-5.0, 0.0),
        (10.0, 15.0),
        "min",
        0.397887,
        ((-np.pi, 12.275), (np.pi, 2.275), (9.42478, 2.475)),
        gap=50.0,
    ),
    "hartmann3-mf": Landscape(
        "hartmann3-mf",
        hartmann3,
        (0.0,) * 3,
        (1.0,) * 3,
        "max",
        3.86278,
        ((0.114614, 0.555649, 0.852547),),
        gap=1.0,
    ),
    "hartmann6-mf": Landscape(
        "hartmann6-mf",
        hartmann6,
        (0.0,) * 6,
        (1.0,) * 6,
        "max",
        3.32237,
        ((0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),),
        gap=1.0,
    ),
}


class SyntheticTask(CurveTask):
    """A learning-curve task built on one :class:`Landscape` (see the module docstring).

    Options: ``r_max`` (epochs, >= 2), ``noise`` (relative noise of the early-epoch gap, >= 0),
    ``seed`` (the noise stream).
    """

    r_min = 1

    def __init__(
        self,
        landscape: str,
        *,
        r_max: int = 27,
        noise: float = 0.1,
        seed: int = 0,
        cache_size: int = 20_000,
    ) -> None:
        super().__init__(cache_size=cache_size)
        if landscape not in LANDSCAPES:
            raise ConfigError(
                "task", f"unknown synthetic task {landscape!r}", f"use {sorted(LANDSCAPES)}"
            )
        if isinstance(r_max, bool) or not isinstance(r_max, int) or r_max < 2:
            raise ConfigError("r_max", f"must be an integer >= 2, got {r_max!r}")
        if isinstance(noise, bool) or not isinstance(noise, int | float) or not noise >= 0:
            raise ConfigError("noise", f"must be a number >= 0, got {noise!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError("seed", f"must be an integer >= 0, got {seed!r}")
        self.landscape = LANDSCAPES[landscape]
        self.name = f"synthetic/{landscape}"
        self.metric = "value"
        self.mode = self.landscape.mode
        self.r_max = r_max
        self.noise = float(noise)
        self.seed = seed

    def space(self) -> dict[str, dict[str, Any]]:
        land = self.landscape
        space: dict[str, dict[str, Any]] = {
            name: {"type": "float", "low": lo, "high": hi}
            for name, lo, hi in zip(land.names, land.low, land.high, strict=True)
        }
        space["schedule"] = {"type": "categorical", "choices": list(SCHEDULES)}
        return space

    def _full_curves(self, configs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        land = self.landscape
        x = np.array([[float(c[name]) for name in land.names] for c in configs])
        unit = (x - np.array(land.low)) / (np.array(land.high) - np.array(land.low))
        decay = np.array([SCHEDULES[c["schedule"]] for c in configs])
        epochs = np.arange(1, self.r_max + 1, dtype=float)
        z = epochs / self.r_max
        rho = (epochs[None, :] ** -decay[:, None] - self.r_max ** -decay[:, None]) / (
            1.0 - self.r_max ** -decay[:, None]
        )
        gap = land.gap * (0.5 + unit[:, :1])  # (n, 1): wider gaps along x1
        eps = np.stack([self._noise_stream(c) for c in configs])
        sign = 1.0 if land.mode == "min" else -1.0
        metric = land.function(x, z) + sign * gap * rho * (1.0 + self.noise * eps)
        cost = _BASE_COST * (1.0 + 3.0 * unit[:, -1])
        cost *= np.array([_SCHEDULE_COST[c["schedule"]] for c in configs])
        return metric, cost[:, None] * epochs[None, :]

    def _noise_stream(self, config: Mapping[str, Any]) -> np.ndarray:
        """r_max standard normals fixed by (seed, configuration), stable across processes."""
        text = repr(sorted((k, float(v) if k != "schedule" else v) for k, v in config.items()))
        digest = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng([self.seed, digest]).standard_normal(self.r_max)

    def optimum_configs(self) -> list[dict[str, Any]]:
        """Known global optimizers at full fidelity (any schedule; "steady" is used)."""
        land = self.landscape
        return [
            {**dict(zip(land.names, point, strict=True)), "schedule": "steady"}
            for point in land.optimizers
        ]
