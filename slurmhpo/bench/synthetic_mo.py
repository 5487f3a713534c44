"""A synthetic two-objective learning-curve task: ZDT1 with learning curves over epochs.

ZDT1 (Zitzler, Deb and Thiele, "Comparison of multiobjective evolutionary algorithms:
empirical results", Evolutionary Computation 8(2), 2000), on x in [0, 1]^3, both minimised:

    f1(x) = x1,   g(x) = 1 + 2 * (x2 + x3) / 2,   f2(x) = g(x) * (1 - sqrt(f1(x) / g(x))).

(The original has 30 variables and g = 1 + 9 * mean(x2..xn); three variables and a factor of 2
keep random configurations near enough to the front that every method finds some of it in
the budget, and the front itself is the original's: x2 = x3 = 0, f2 = 1 - sqrt(f1).)

Learning curves (our own construction, as in :mod:`slurmhpo.bench.synthetic`): at epoch r,

    y_k(x, r) = f_k(x) + gap_k(x) * rho(r) * (1 + noise * eps_{k,r}),
    rho(r) = (r^-a - r_max^-a) / (1 - r_max^-a),  a = 0.5,

with gap_1 = 0.5 + x3 and gap_2 = 1.5 * (0.5 + x3), so a trial's early ranking is not its
final one (x3 slows convergence); eps is standard normal noise fixed by (seed, x). The last
epoch is exactly (f1, f2). Time is linear in r, ``5 * (1 + 3 * x2)`` seconds per epoch: the
configurations near the front (small x2) are the cheap ones, as ZDT1 does not say otherwise.

Trials report ``f1``, ``f2`` and ``f_mean`` = (f1 + f2 / 3) / 2, the equal-weight sum of the
two objectives scaled by their ranges (f1 in [0, 1], f2 in [0, 3]), so that single-objective
ASHA can run on that scalarisation for comparison. The hypervolume reference point is
(1.1, 3.1), just beyond both ranges; the true front's hypervolume there is
2.1 + 2/3 + 0.31 = 3.0767 (the integral of 3.1 - (1 - sqrt(f1)) over [0, 1], plus the strip
1 < f1 < 1.1 of height 3.1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from slurmhpo.bench.base import CurveTask
from slurmhpo.errors import ConfigError

OBJECTIVES: tuple[tuple[str, str], ...] = (("f1", "min"), ("f2", "min"))
SCALARIZED = "f_mean"
REFERENCE = (1.1, 3.1)
TRUE_FRONT_HYPERVOLUME = 2.1 + 2.0 / 3.0 + 0.31
_DECAY = 0.5
_BASE_COST = 5.0


class ZDT1Task(CurveTask):
    """ZDT1 with learning curves (see the module docstring). ``metric`` is f1, the first
    objective; :meth:`extra_metrics` gives f2 and f_mean at the same epochs."""

    r_min = 1
    objectives = OBJECTIVES

    def __init__(
        self, *, r_max: int = 27, noise: float = 0.1, seed: int = 0, cache_size: int = 20_000
    ) -> None:
        super().__init__(cache_size=cache_size)
        if isinstance(r_max, bool) or not isinstance(r_max, int) or r_max < 2:
            raise ConfigError("r_max", f"must be an integer >= 2, got {r_max!r}")
        if isinstance(noise, bool) or not isinstance(noise, int | float) or not noise >= 0:
            raise ConfigError("noise", f"must be a number >= 0, got {noise!r}")
        self.name = "synthetic/zdt1-mf"
        self.metric = "f1"
        self.mode = "min"
        self.r_max = r_max
        self.noise = float(noise)
        self.seed = seed

    def space(self) -> dict[str, dict[str, Any]]:
        return {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in (1, 2, 3)}

    def final_objectives(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(n, 2)`` array of (f1, f2) at full fidelity."""
        x = self._matrix(configs)
        g = 1.0 + (x[:, 1] + x[:, 2])
        return np.stack([x[:, 0], g * (1.0 - np.sqrt(x[:, 0] / g))], axis=1)

    def _matrix(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.array([[float(c[f"x{i}"]) for i in (1, 2, 3)] for c in configs])

    def _all_curves(self, configs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, ...]:
        """f1 and f2 curves, shape (n, r_max) each, and the cumulative time."""
        x = self._matrix(configs)
        final = self.final_objectives(configs)
        epochs = np.arange(1, self.r_max + 1, dtype=float)
        rho = (epochs**-_DECAY - self.r_max**-_DECAY) / (1.0 - self.r_max**-_DECAY)
        gap = 0.5 + x[:, 2:3]
        eps = np.stack([self._noise(c) for c in configs])  # (n, 2, r_max)
        f1 = final[:, :1] + gap * rho * (1.0 + self.noise * eps[:, 0])
        f2 = final[:, 1:] + 1.5 * gap * rho * (1.0 + self.noise * eps[:, 1])
        cost = _BASE_COST * (1.0 + 3.0 * x[:, 1:2])
        return f1, f2, cost * epochs[None, :]

    def _full_curves(self, configs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        f1, _, time = self._all_curves(configs)
        return f1, time

    def extra_metrics(
        self, config: Mapping[str, Any], epochs: Iterable[int]
    ) -> dict[str, np.ndarray]:
        """f2 and f_mean of ``config`` at ``epochs`` (what a trial reports besides f1)."""
        wanted = self._epochs(epochs)
        self._check(config)
        f1, f2, _ = self._all_curves([config])
        f1, f2 = f1[0, wanted - 1], f2[0, wanted - 1]
        return {"f2": f2, SCALARIZED: (f1 + f2 / 3.0) / 2.0}

    def _noise(self, config: Mapping[str, Any]) -> np.ndarray:
        """2 x r_max standard normals fixed by (seed, configuration)."""
        text = repr(sorted((k, float(v)) for k, v in config.items()))
        digest = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng([self.seed, digest]).standard_normal((2, self.r_max))
