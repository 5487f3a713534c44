"""A multi-fidelity KDE searcher: BOHB's good/bad KDEs on every rung, weighted by trust.

BOHB (:mod:`kde`) models only the largest resource with enough observations and throws the rest
away; when that resource is a cheap rung whose ranking misleads, the model misleads too. Here
every rung level with enough observations for a good and a bad set gets its own pair of KDEs,
and a candidate's score is the weighted mean of its log l(x)/g(x) over those rungs:

    score(x) = sum_L v_L * (log l_L(x) - log g_L(x)) / sum_L v_L,    v_L = w_L ** weight_power

with ``w_L`` the trust weights the scheduler hands over before each suggestion
(:meth:`set_fidelity_weights`; see :mod:`slurmhpo.scheduling.fidelity`): a rung whose ranking
agrees with the top one counts fully, one that ranks no better than chance not at all. This is
the ensemble of per-fidelity surrogates of Hyper-Tune (Li et al., VLDB 2022) with KDEs in place
of Gaussian processes. ``weight_power`` (default 3, so ``v_L = p_L ** 9``) sharpens the trust
weights for the model: with the plain weights (power 1) three or four well-filled low rungs
share the vote with the top one nearly equally. On the six lcbench development tasks (10
seeds) power 1 was behind power 3 at B on 3 tasks, ahead on 1 and level on 2
(docs/benchmarks.md, "The adaptive scheduler"). Candidates are drawn around the good points of
the rung with the largest weight (the highest such rung on ties). Pending trials enter every
rung's bad density, as in :class:`~slurmhpo.scheduling.searchers.kde.KDESearcher`.

Without weights (a scheduler that does not hand any over) it behaves like BOHB's searcher:
only the largest well-observed resource is modelled.

Cost: at most one fit per rung level per change of that level's table (fits are cached by
table version), and a suggestion scores ``num_samples`` candidates against each rung's data
(at most ``max_model_points`` per rung).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.searchers.kde import KDESearcher, _Fit

_NEGLIGIBLE = 1e-12


class MultiFidelityKDESearcher(KDESearcher):
    """KDE searcher whose model is a trust-weighted ensemble over rung levels."""

    def __init__(self, *args: Any, weight_power: float = 3.0, **kwargs: Any) -> None:
        """As :class:`KDESearcher` (space, mode, rng, initial_configs, settings), plus
        ``weight_power``: the model weighs rung L by ``w_L ** weight_power`` (see the module
        docstring); ConfigError naming ``searcher.weight_power`` if it is not > 0."""
        super().__init__(*args, **kwargs)
        if not weight_power > 0:
            raise ConfigError("searcher.weight_power", f"must be > 0, got {weight_power!r}")
        self.weight_power = weight_power
        self._weights: dict[int, float] = {}
        self._fits: dict[int, _Fit] = {}

    def set_fidelity_weights(self, weights: Mapping[int, float]) -> None:
        """The trust weight of each resource level (levels not named count 0)."""
        self._weights = {int(level): float(w) ** self.weight_power for level, w in weights.items()}

    def used_resources(self) -> list[tuple[int, float]]:
        """(resource, weight) of every rung the model uses, highest resource first."""
        weights = self._weights
        if not weights:
            top = self.model_resource()
            return [] if top is None else [(top, 1.0)]
        return [
            (resource, weights.get(resource, 0.0))
            for resource in self.store.resources_descending()
            if weights.get(resource, 0.0) > _NEGLIGIBLE and self._ready(self.store.tables[resource])
        ]

    def _fit_at(self, resource: int) -> _Fit:
        """The (cached) good/bad fit at ``resource``, refitted when its table changed."""
        self._fit = self._fits.get(resource)  # the parent reuses it if the table is unchanged
        self._fits[resource] = self._current_fit(resource)
        return self._fits[resource]

    def _propose(self, trial_id: int) -> dict[str, Any] | None:
        if self.rng.random() < self.settings.random_fraction:
            return self.sample_new()
        used = [(self._fit_at(resource), weight) for resource, weight in self.used_resources()]
        if not used:
            return self.sample_new()
        lead = max(used, key=lambda item: (item[1], item[0].resource))[0]
        configs, points = self._candidates(lead)
        total = sum(weight for _, weight in used)
        score = sum(weight / total * self._log_ratio(points, fit) for fit, weight in used)
        config, vector = self._best_unseen(configs, points, score)
        self._scored[trial_id] = vector
        return config
