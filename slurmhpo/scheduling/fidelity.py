"""How far each rung level can be trusted, learnt online from the study's own results.

A low rung is worth its price only if it ranks configurations the way full training does. On
some tasks it does not (lcbench 146212: epoch 1 against epoch 52 has Spearman rho -0.29, see
docs/benchmarks.md), and a scheduler that trusts it anyway promotes the wrong trials. So the
adaptive scheduler measures, as the study runs, the **rank agreement** of each rung level L with
the *reference* rung T, the highest level that holds at least ``min_top`` results:

    p_L = (concordant pairs + prior_pairs * prior_agreement) / (comparable pairs + prior_pairs)

over the trials that reported at both L and T (a pair is comparable if T orders it; a tie at L
counts half). This is Hyper-Tune's measure (Li et al., VLDB 2022: the fraction of
order-preserving pairs of a fidelity against the top one), computed on observed values rather
than a surrogate's predictions, with a prior of ``prior_pairs`` pseudo-pairs so that three
lucky pairs do not make a rung look perfect. Levels at or above T count as fully trusted
(p = 1): nothing better is known to judge them by.

The weight of a level is Hyper-Tune's ``w_L = p_L ** power`` (power 3), except that a level
whose agreement is no better than a coin (p_L <= 0.5) gets weight 0: its ranking carries no
information, or misleads. The weights serve twice (see :mod:`slurmhpo.scheduling.adaptive`):
a new trial's bracket is drawn with probability proportional to ``w`` of its first level times
the bracket's Hyperband size, and the multi-fidelity KDE weighs each rung's model by ``w``.

Every trial passes and reports every rung level below its target, whichever bracket it started
in, so a rung keeps being measured even while no new trial starts there: its weight can recover.

Cost: one weight computation sorts at most ``max_points`` common trials per level and compares
their pairs (``max_points**2 / 2`` at most, 32,640 for 256), once per change of the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.brackets import paper_n
from slurmhpo.scheduling.types import Mode, ranking_key


@dataclass(frozen=True)
class TrustSettings:
    """The knobs of :class:`FidelityTracker` (study file: ``[scheduler]`` keys of the same name).

    Defaults: Hyper-Tune's power 3. ``prior_agreement`` 0.9 (a rung is trusted until shown
    otherwise, so a study starts close to asynchronous Hyperband) was chosen over 0.75, 0.8
    and 1.0 on the lcbench development tasks; ``min_top`` 6 over 4 and 10, ``prior_pairs`` 10
    over 3 and 30 (docs/benchmarks.md, "The adaptive scheduler").
    """

    prior_agreement: float = 0.9
    prior_pairs: float = 10.0
    power: float = 3.0
    min_top: int = 6
    max_points: int = 256

    def check(self) -> None:
        """Raise ConfigError naming ``scheduler.<field>`` for a value outside its range."""
        _require(0.0 <= self.prior_agreement <= 1.0, "prior_agreement", "must be in [0, 1]")
        _require(self.prior_pairs >= 0.0, "prior_pairs", "must be >= 0")
        _require(self.power > 0.0, "power", "must be > 0")
        _require(self.min_top >= 2, "min_top", "must be at least 2")
        _require(self.max_points >= 2, "max_points", "must be at least 2")


def _require(ok: bool, key: str, problem: str) -> None:
    if not ok:
        raise ConfigError(f"scheduler.{key}", problem)


def pair_agreement(low: np.ndarray, high: np.ndarray) -> tuple[float, int]:
    """(concordant, comparable) pairs of two rankings of the same trials (smaller is better).

    A pair is comparable when ``high`` orders it; it is concordant when ``low`` orders it the
    same way, half concordant when ``low`` ties it. Infinite keys (failed or bad values) tie
    with each other and rank last.
    """
    if low.size != high.size:
        raise ValueError(f"rankings of different sizes: {low.size} and {high.size}")
    if low.size < 2:
        return 0.0, 0
    lo, hi = rankdata(low), rankdata(high)
    i, j = np.triu_indices(low.size, 1)
    d_low, d_high = np.sign(lo[i] - lo[j]), np.sign(hi[i] - hi[j])
    comparable = d_high != 0
    concordant = np.count_nonzero(d_low * d_high > 0) + 0.5 * np.count_nonzero(
        comparable & (d_low == 0)
    )
    return float(concordant), int(np.count_nonzero(comparable))


def level_weight(agreement: float, power: float) -> float:
    """Hyper-Tune's ``p ** power``; 0 for an agreement no better than chance (p <= 0.5)."""
    return agreement**power if agreement > 0.5 else 0.0


def bracket_probabilities(weights: list[float], eta: int) -> np.ndarray:
    """P(bracket b) proportional to ``weights[b]`` (its first level's) x Hyperband's size n_b.

    With every weight equal this is asynchronous Hyperband's draw (each bracket gets a similar
    share of the budget); a distrusted first level moves that share to later brackets.
    """
    s_max = len(weights) - 1
    raw = np.array([w * paper_n(b, s_max, eta) for b, w in enumerate(weights)], dtype=float)
    if not raw.sum() > 0:
        raise ValueError("at least one bracket needs a positive weight")
    return raw / raw.sum()


class FidelityTracker:
    """Results per rung level and the trust they earn (see the module docstring).

    Deterministic: a pure function of the calls to :meth:`record`, so a replayed scheduler
    computes the same weights.
    """

    def __init__(self, levels: list[int], mode: Mode, settings: TrustSettings | None = None):
        self.levels = list(levels)
        self.mode: Mode = mode
        self.settings = settings or TrustSettings()
        self.settings.check()
        self._keys: dict[int, dict[int, float]] = {lv: {} for lv in self.levels}
        self._version = 0
        self._cached: tuple[int, dict[int, float]] | None = None

    def __contains__(self, level: object) -> bool:
        return level in self._keys

    def record(self, level: int, trial_id: int, value: float | None) -> None:
        """Trial ``trial_id`` reported ``value`` at rung level ``level`` (latest value kept)."""
        self._keys[level][trial_id] = ranking_key(value, self.mode)
        self._version += 1

    def reference(self) -> int | None:
        """The highest level with at least ``min_top`` results, or None."""
        for level in reversed(self.levels):
            if len(self._keys[level]) >= self.settings.min_top:
                return level
        return None

    def agreements(self) -> dict[int, tuple[float, int]]:
        """level -> (concordant, comparable) pairs against the reference, for levels below it."""
        top = self.reference()
        if top is None:
            return {}
        high = self._keys[top]
        out = {}
        for level in self.levels:
            if level >= top:
                break
            low = self._keys[level]
            common = sorted(t for t in low if t in high)[-self.settings.max_points :]
            out[level] = pair_agreement(
                np.array([low[t] for t in common]), np.array([high[t] for t in common])
            )
        return out

    def trust(self) -> dict[int, float]:
        """level -> p_L: the shrunk agreement below the reference, 1 at and above it.

        Without a reference yet every level below r_max gets ``prior_agreement``.
        """
        s = self.settings
        measured = self.agreements()
        top = self.reference()
        out = {}
        for level in self.levels:
            if level in measured:
                concordant, comparable = measured[level]
                out[level] = (concordant + s.prior_pairs * s.prior_agreement) / (
                    comparable + s.prior_pairs
                )
            elif (top is not None and level >= top) or level == self.levels[-1]:
                out[level] = 1.0
            else:
                out[level] = s.prior_agreement
        return out

    def weights(self) -> dict[int, float]:
        """level -> w_L (see :func:`level_weight`), recomputed only when results changed."""
        if self._cached is not None and self._cached[0] == self._version:
            return dict(self._cached[1])
        power = self.settings.power
        weights = {lv: level_weight(p, power) for lv, p in self.trust().items()}
        self._cached = (self._version, weights)
        return dict(weights)
