"""BOHB's model-based searcher: a good and a bad KDE on the largest well-observed resource.

Falkner, Klein and Hutter (2018), "BOHB: Robust and Efficient Hyperparameter Optimization at
Scale". Observations are kept per resource level. The model is fitted on the *largest* resource
with enough observations: the best ``top_n_percent`` (at least ``min_points``) form the good set,
the rest (again at least ``min_points``) the bad set, and a product KDE is fitted to each
(``kde_model``). A suggestion is, with probability ``random_fraction``, a uniform random sample;
otherwise ``num_samples`` candidates are drawn around good points with bandwidths widened by
``bandwidth_factor``, and the one with the largest ``l(x) / g(x)`` is returned. With too few
observations anywhere, suggestions are random.

Conditional spaces: an inactive parameter is NaN in the unit encoding. For a fit, each NaN is
imputed with the value of a random active point of the same (good or bad) set, drawn from the
searcher's rng, as BOHB does; a candidate is scored with the values drawn for its inactive
dimensions (the space drops them when decoding). Every candidate is then compared in the same
``d`` dimensions. Scoring only the active dimensions instead (the marginal density) is exact for
true densities, but once the good KDE is narrow it favours configurations with more active
parameters, each of which multiplies in a large ``l/g`` factor; measured on a conditional test
function that variant did no better than random search, while imputation clearly did.

Outcome constraints: a result that broke one (``observe(..., feasible=False)``) is never a
good point. The fit ranks feasible results first, by loss, and infeasible ones after them;
the good set is the best ``n_good`` of that ranking but no infeasible one, so it shrinks to
the feasible results when they are fewer; a resource whose good set would hold fewer than
``min_points`` is not modelled (a lower one, or random sampling, is used). Infeasible
results stay in the bad set: the model learns where the constraints fail. Optuna's TPE
(``constraints_func``) instead lets the least-violating infeasible trials into the good set
when feasible ones are short; here nothing records by how much a bound was missed.

Pending trials (suggested, not yet ended, not yet observed at the model resource) are imputed as
bad observations at the model resource, so that while workers are busy the searcher does not send
them all to the same spot. Each pending point enters the bad density with the good density's
bandwidths: the bad set's own bandwidths reflect how widely bad points are spread, and would
smear a single pending point over the whole cube, where it would push nothing away.

Cost: a fit sorts the losses at the model resource once per change of that table; beyond
``max_model_points`` observations the fit uses an evenly thinned subsample of the ranking (best
kept), which keeps the same quantiles and bounds every suggestion's work by
``num_samples x max_model_points x d``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.searchers import kde_model
from slurmhpo.scheduling.searchers.base import BaseSearcher, config_key
from slurmhpo.scheduling.searchers.observations import BudgetTable, ObservationStore
from slurmhpo.scheduling.types import Mode, WarmObservation, ranking_key

if TYPE_CHECKING:
    from slurmhpo.space import SearchSpace


@dataclass(frozen=True)
class KDESettings:
    """The knobs of :class:`KDESearcher`, with BOHB's defaults (``min_points`` None: dim + 1)."""

    top_n_percent: float = 15.0
    num_samples: int = 64
    random_fraction: float = 1.0 / 3.0
    bandwidth_factor: float = 3.0
    min_bandwidth: float = 1e-3
    min_points: int | None = None
    max_model_points: int = 1024

    def check(self) -> None:
        """Raise ConfigError naming ``searcher.<field>`` for a value outside its range."""
        _require(0 < self.top_n_percent < 100, "top_n_percent", "must be in (0, 100)")
        _require(self.num_samples >= 1, "num_samples", "must be at least 1")
        _require(0 <= self.random_fraction <= 1, "random_fraction", "must be in [0, 1]")
        _require(self.bandwidth_factor > 0, "bandwidth_factor", "must be greater than 0")
        _require(0 < self.min_bandwidth < 0.5, "min_bandwidth", "must be in (0, 0.5)")
        if self.min_points is not None:
            _require(self.min_points >= 2, "min_points", "must be at least 2")
        _require(self.max_model_points >= 16, "max_model_points", "must be at least 16")


def _require(ok: bool, key: str, problem: str) -> None:
    if not ok:
        raise ConfigError(f"searcher.{key}", problem)


@dataclass(frozen=True)
class _Fit:
    """A good/bad split at one resource, valid while that table's version is unchanged."""

    resource: int
    version: int
    good: np.ndarray
    good_bw: np.ndarray
    bad: np.ndarray
    bad_bw: np.ndarray


class KDESearcher(BaseSearcher):
    """BOHB's KDE searcher (see the module docstring); deterministic for a given rng state."""

    def __init__(
        self,
        space: SearchSpace,
        mode: Mode,
        rng: np.random.Generator,
        *,
        initial_configs: Sequence[Mapping[str, Any]] = (),
        settings: KDESettings | None = None,
    ) -> None:
        super().__init__(space, mode, rng, initial_configs=initial_configs)
        self.settings = settings or KDESettings()
        self.settings.check()
        self.min_points = self.settings.min_points or space.dim + 1
        if not self._enough(self.settings.max_model_points):
            raise ConfigError(
                "searcher.max_model_points", "is too small to hold a good and a bad set"
            )
        self.cat_sizes = np.array(
            [p.cardinality if p.kind == "categorical" else 0 for p in space.params], dtype=int
        )
        self.store = ObservationStore(space.dim)
        self._fit: _Fit | None = None
        self._scored: dict[int, np.ndarray] = {}  # model picks: the full vector that was scored

    # -- bookkeeping -------------------------------------------------------------------------

    def _record_observation(
        self,
        trial_id: int,
        config: dict[str, Any],
        resource: int,
        value: float | None,
        feasible: bool,
    ) -> None:
        vector = np.asarray(self.space.to_unit(config), dtype=float)
        self.store.add(int(resource), trial_id, vector, ranking_key(value, self.mode), feasible)

    def _trial_ended(self, trial_id: int) -> None:
        self._scored.pop(trial_id, None)

    def warm_start(self, observations: Sequence[WarmObservation]) -> None:
        """Add results of earlier studies to the model, as observations of trials -1, -2, ...

        Negative ids never meet this study's trials (numbered from 0): the earlier results
        sit in the same per-resource tables, count in the good/bad split like any other and
        are never pending. Call before the first suggestion (the scheduler makes sure).
        """
        for k, o in enumerate(observations):
            self.observe(-(k + 1), dict(o.config), o.resource, o.value, feasible=o.feasible)

    def n_good(self, n: int) -> int:
        """Size of the good set among ``n`` observations: BOHB's rule."""
        return max(self.min_points, int(self.settings.top_n_percent * n // 100))

    def _enough(self, n: int) -> bool:
        return n - self.n_good(n) >= self.min_points

    def model_resource(self) -> int | None:
        """The largest resource with enough observations for a good and a bad set, or None."""
        for resource in self.store.resources_descending():
            if self._ready(self.store.tables[resource]):
                return resource
        return None

    def _ready(self, table: BudgetTable) -> bool:
        """Whether ``table`` gives a good and a bad set of at least ``min_points`` each."""
        n = min(len(table), self.settings.max_model_points)
        if not self._enough(n):
            return False
        return table.infeasible == 0 or self._good_size(table, n) >= self.min_points

    def _good_size(self, table: BudgetTable, n: int) -> int:
        """The good set's size among the ``n`` rows a fit uses: ``n_good(n)``, capped by the
        feasible rows among them (a thinned fit keeps every ``k``-th of the ranking, in which
        the feasible rows come first)."""
        feasible = len(table) - table.infeasible
        if n < len(table):
            kept = np.round(np.linspace(0, len(table) - 1, n)).astype(np.int64)
            feasible = int(np.count_nonzero(kept < feasible))
        return min(self.n_good(n), feasible)

    # -- fitting -----------------------------------------------------------------------------

    def _current_fit(self, resource: int) -> _Fit:
        """The fit on ``resource``, refitted only if that table changed since the last one."""
        table = self.store.tables[resource]
        fit = self._fit
        if fit is not None and fit.resource == resource and fit.version == table.version:
            return fit
        if table.infeasible:  # feasible rows first, each part by loss (lexsort is stable)
            order = np.lexsort((table.losses, ~table.feasible))
        else:
            order = np.argsort(table.losses, kind="stable")
        cap = self.settings.max_model_points
        if order.size > cap:
            order = order[np.round(np.linspace(0, order.size - 1, cap)).astype(np.int64)]
        n_good = self._good_size(table, order.size) if table.infeasible else self.n_good(order.size)
        good = kde_model.impute_inactive(table.vectors[order[:n_good]], self.cat_sizes, self.rng)
        bad = kde_model.impute_inactive(table.vectors[order[n_good:]], self.cat_sizes, self.rng)
        min_bw = self.settings.min_bandwidth
        self._fit = _Fit(
            resource=resource,
            version=table.version,
            good=good,
            good_bw=kde_model.normal_reference_bandwidths(good, self.cat_sizes, min_bw),
            bad=bad,
            bad_bw=kde_model.normal_reference_bandwidths(bad, self.cat_sizes, min_bw),
        )
        return self._fit

    def _bad_with_pending(self, fit: _Fit) -> tuple[np.ndarray, np.ndarray]:
        """Bad data plus pending trials not yet observed at the fit's resource, and bandwidths."""
        observed = self.store.tables[fit.resource].rows
        pending = [
            self._scored[trial_id]
            if trial_id in self._scored
            else np.asarray(self.space.to_unit(config), dtype=float)
            for trial_id, config in self.pending.items()
            if trial_id not in observed
        ]
        bw = np.broadcast_to(fit.bad_bw, fit.bad.shape)
        if not pending:
            return fit.bad, bw
        extra = np.vstack(pending)
        data = np.vstack([fit.bad, extra])
        return data, np.vstack([bw, np.broadcast_to(fit.good_bw, extra.shape)])

    # -- suggesting --------------------------------------------------------------------------

    def _propose(self, trial_id: int) -> dict[str, Any] | None:
        if self.rng.random() < self.settings.random_fraction:
            return self.sample_new()
        resource = self.model_resource()
        if resource is None:
            return self.sample_new()
        fit = self._current_fit(resource)
        config, vector = self._model_pick(fit)
        self._scored[trial_id] = vector
        return config

    def _model_pick(self, fit: _Fit) -> tuple[dict[str, Any], np.ndarray]:
        """The candidate with the largest l(x)/g(x), preferring configs not seen before.

        Returns the config and the vector it was scored as: the unit encoding of the config
        (integers and categories snapped to what will actually run) with the drawn values kept
        in the dimensions of inactive parameters, as BOHB scores its imputed candidates.
        """
        configs, points = self._candidates(fit)
        return self._best_unseen(configs, points, self._log_ratio(points, fit))

    def _candidates(self, fit: _Fit) -> tuple[list[dict[str, Any]], np.ndarray]:
        """``num_samples`` configs drawn around the good points, and the vectors to score."""
        s = self.settings
        raw = kde_model.sample_around(
            fit.good, fit.good_bw, self.cat_sizes, s.num_samples, s.bandwidth_factor, self.rng
        )
        configs = [self.space.from_unit(row) for row in raw]
        points = np.vstack([np.asarray(self.space.to_unit(c), dtype=float) for c in configs])
        return configs, np.where(np.isnan(points), raw, points)

    def _log_ratio(self, points: np.ndarray, fit: _Fit) -> np.ndarray:
        """log l(x) - log g(x) of each point under ``fit`` (pending trials in g)."""
        bad, bad_bw = self._bad_with_pending(fit)
        score = kde_model.log_pdf(points, fit.good, fit.good_bw, self.cat_sizes)
        return score - kde_model.log_pdf(points, bad, bad_bw, self.cat_sizes)

    def _best_unseen(
        self, configs: list[dict[str, Any]], points: np.ndarray, score: np.ndarray
    ) -> tuple[dict[str, Any], np.ndarray]:
        """The best-scored config not seen before (the best one if all were)."""
        ranked = np.argsort(-score, kind="stable")
        pick = next((i for i in ranked if config_key(configs[i]) not in self.seen), ranked[0])
        return configs[pick], points[pick]
