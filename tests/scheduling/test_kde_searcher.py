"""BOHB's KDE searcher: model resource, good/bad split, pending trials, cost cap, and quality.

The quality tests compare against random search over many fixed seeds and require a margin a
sign test calls significant, so passing is not luck; being seeded, they are also reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from slurmhpo.scheduling.searchers import KDESearcher, KDESettings, make_searcher
from slurmhpo.space import Categorical, Condition, Float, Int, SearchSpace

Objective = Callable[[dict[str, Any]], float]


def unit_space(dim: int) -> SearchSpace:
    return SearchSpace([Float(f"x{i}", 0.0, 1.0) for i in range(dim)])


def no_random(**kwargs: Any) -> KDESettings:
    return KDESettings(random_fraction=0.0, **kwargs)


def best_after(spec: dict[str, Any], space: SearchSpace, f: Objective, seed: int, n: int) -> float:
    """Best value of ``f`` over ``n`` sequential evaluations suggested by ``spec``."""
    searcher = make_searcher(spec, space, "min", np.random.default_rng(seed))
    best = math.inf
    for trial_id in range(n):
        config = searcher.suggest(trial_id)
        space.validate(config)
        value = f(config)
        best = min(best, value)
        searcher.observe(trial_id, config, 1, value)
        searcher.on_trial_end(trial_id)
    return best


def compare_to_random(space: SearchSpace, f: Objective, seeds: int, n: int) -> tuple[Any, ...]:
    """Median best of random and KDE, and how many paired seeds KDE strictly won."""
    rand = np.array([best_after({"type": "random"}, space, f, s, n) for s in range(seeds)])
    kde = np.array([best_after({"type": "kde"}, space, f, s, n) for s in range(seeds)])
    return float(np.median(rand)), float(np.median(kde)), int(np.sum(kde < rand))


# -- search quality -----------------------------------------------------------------------------


def test_kde_beats_random_search_on_a_mixed_space() -> None:
    space = SearchSpace(
        [
            Float("x0", -5.0, 5.0),
            Float("x1", -5.0, 5.0),
            Float("lr", 1e-3, 1.0, log=True),
            Int("n", 1, 8),
            Categorical("c", ("a", "b", "c")),
        ]
    )

    def shifted_sphere(c: dict[str, Any]) -> float:
        return (
            (c["x0"] - 1.3) ** 2
            + (c["x1"] + 2.1) ** 2
            + 4 * (math.log10(c["lr"]) + 2) ** 2
            + 0.5 * (c["n"] - 6) ** 2
            + (0.0 if c["c"] == "b" else 3.0)
        )

    rand, kde, wins = compare_to_random(space, shifted_sphere, seeds=30, n=60)
    assert binomtest(wins, 30, alternative="greater").pvalue < 0.01, (wins, rand, kde)
    assert kde < 0.7 * rand


def test_kde_on_a_conditional_space_is_valid_and_beats_random() -> None:
    space = SearchSpace(
        [
            Categorical("opt", ("sgd", "adam")),
            Float("lr", 1e-5, 1.0, log=True),
            Float("momentum", 0.0, 0.99, condition=Condition("opt", ("sgd",))),
            Float("beta", 0.5, 0.999, condition=Condition("opt", ("adam",))),
            Float("wd", 0.0, 1.0),
            Int("width", 1, 16),
        ]
    )

    def f(c: dict[str, Any]) -> float:
        shared = (math.log10(c["lr"]) + 2.5) ** 2 + 4 * (c["wd"] - 0.3) ** 2
        shared += 0.02 * (c["width"] - 11) ** 2
        if c["opt"] == "sgd":
            return shared + 0.2 + 2 * (c["momentum"] - 0.9) ** 2
        return shared + 2 * (c["beta"] - 0.7) ** 2

    # best_after validates every suggestion: only active parameters, valid values.
    rand, kde, wins = compare_to_random(space, f, seeds=40, n=60)
    assert binomtest(wins, 40, alternative="greater").pvalue < 0.01, (wins, rand, kde)
    assert kde < 0.6 * rand


def test_conditional_model_fit_has_no_nan() -> None:
    space = SearchSpace(
        [
            Categorical("opt", ("sgd", "adam")),
            Float("momentum", 0.0, 0.99, condition=Condition("opt", ("sgd",))),
            Float("x", 0.0, 1.0),
        ]
    )
    searcher = KDESearcher(space, "min", np.random.default_rng(0), settings=no_random())
    for t in range(30):
        config = searcher.suggest(t)
        searcher.observe(t, config, 1, config["x"] + (0.5 if config["opt"] == "sgd" else 0.0))
        searcher.on_trial_end(t)
    table = searcher.store.tables[1]
    assert np.isnan(table.vectors[:, 1]).any()  # momentum is inactive in some observations
    fit = searcher._current_fit(1)
    assert np.isfinite(fit.good).all() and np.isfinite(fit.bad).all()  # imputed for the fit
    assert np.isfinite(fit.good_bw).all() and np.isfinite(fit.bad_bw).all()
    late = [searcher.suggest(t) for t in range(30, 40)]
    for config in late:
        space.validate(config)
    assert sum(c["opt"] == "adam" for c in late) >= 7  # the model learned adam is better


# -- model resource and good/bad split -----------------------------------------------------------


def observe_many(searcher: KDESearcher, resource: int, values: list[Any], start: int = 0) -> None:
    for i, value in enumerate(values):
        config = searcher.space.sample(np.random.default_rng(1000 + start + i))
        searcher.observe(start + i, config, resource, value)


def test_model_uses_the_largest_resource_with_enough_observations() -> None:
    searcher = KDESearcher(unit_space(2), "min", np.random.default_rng(0))
    assert searcher.min_points == 3
    assert searcher.model_resource() is None
    observe_many(searcher, 1, [float(v) for v in range(6)])  # good 3 + bad 3
    assert searcher.model_resource() == 1
    observe_many(searcher, 9, [0.1] * 5, start=100)  # 5 < 6: not enough at 9
    assert searcher.model_resource() == 1
    observe_many(searcher, 9, [0.2], start=200)
    assert searcher.model_resource() == 9
    observe_many(searcher, 27, [0.3] * 2, start=300)
    assert searcher.model_resource() == 9


def test_good_set_size_follows_bohb_rule() -> None:
    searcher = KDESearcher(unit_space(4), "min", np.random.default_rng(0))
    assert [searcher.n_good(n) for n in (10, 33, 34, 100)] == [5, 5, 5, 15]


@pytest.mark.parametrize("mode", ["min", "max"])
def test_bad_values_rank_worst_and_good_set_holds_the_best(mode: str) -> None:
    searcher = KDESearcher(unit_space(2), mode, np.random.default_rng(0))  # type: ignore[arg-type]
    bad: list[Any] = [None, math.nan, math.inf, -math.inf] * 3
    finite = [float(v) for v in range(12)]
    observe_many(searcher, 1, bad + finite)
    fit = searcher._current_fit(1)
    table = searcher.store.tables[1]
    good_losses = sorted(
        loss for loss, row in zip(table.losses, table.vectors, strict=True)
        if any(np.array_equal(row, g) for g in fit.good)
    )  # fmt: skip
    best_three = [0.0, 1.0, 2.0] if mode == "min" else [-11.0, -10.0, -9.0]
    assert good_losses == best_three
    assert np.sum(np.isinf(table.losses)) == 12  # every bad value counts as the worst


def test_reobserving_a_trial_at_a_resource_replaces_its_value() -> None:
    searcher = KDESearcher(unit_space(2), "min", np.random.default_rng(0))
    config = {"x0": 0.5, "x1": 0.5}
    searcher.observe(1, config, 3, 0.9)
    searcher.observe(1, config, 3, 0.1)
    assert len(searcher.store.tables[3]) == 1
    assert searcher.store.tables[3].losses.tolist() == [0.1]


def test_refit_only_when_the_model_resource_gets_new_data() -> None:
    searcher = KDESearcher(unit_space(2), "min", np.random.default_rng(0))
    observe_many(searcher, 3, [float(v) for v in range(8)])
    first = searcher._current_fit(3)
    observe_many(searcher, 1, [0.5, 0.6], start=50)  # lower resource: model unchanged
    assert searcher._current_fit(3) is first
    observe_many(searcher, 3, [0.5], start=60)
    assert searcher._current_fit(3) is not first


def test_fit_is_capped_and_keeps_the_best() -> None:
    space = unit_space(3)
    searcher = KDESearcher(space, "min", np.random.default_rng(0), settings=no_random())
    rng = np.random.default_rng(1)
    vectors = rng.random((5000, 3))
    for i, v in enumerate(vectors):
        searcher.observe(i, space.from_unit(v), 1, float(np.sum((v - 0.2) ** 2)))
    fit = searcher._current_fit(1)
    assert fit.good.shape[0] + fit.bad.shape[0] == searcher.settings.max_model_points
    assert fit.good.shape[0] == searcher.n_good(searcher.settings.max_model_points)
    best = vectors[np.argmin(np.sum((vectors - 0.2) ** 2, axis=1))]
    assert np.allclose(fit.good[0], best)
    # The thinned good set still covers the best 15% region, not just the very best points.
    good_dist = np.sqrt(np.sum((fit.good - 0.2) ** 2, axis=1))
    assert good_dist.max() > 0.2


# -- suggestions ---------------------------------------------------------------------------------


def test_random_until_a_model_exists_then_model_based() -> None:
    space = unit_space(2)
    searcher = KDESearcher(space, "min", np.random.default_rng(0), settings=no_random())
    for t in range(6):
        config = searcher.suggest(t)
        searcher.observe(t, config, 1, (config["x0"] - 0.9) ** 2 + (config["x1"] - 0.9) ** 2)
        searcher.on_trial_end(t)
    for t in range(6, 30):
        config = searcher.suggest(t)
        searcher.observe(t, config, 1, (config["x0"] - 0.9) ** 2 + (config["x1"] - 0.9) ** 2)
        searcher.on_trial_end(t)
    late = np.array([space.to_unit(searcher.suggest(t)) for t in range(30, 40)])
    assert np.median(np.linalg.norm(late - 0.9, axis=1)) < 0.2


def test_random_fraction_one_ignores_the_model() -> None:
    space = unit_space(2)
    searcher = KDESearcher(
        space, "min", np.random.default_rng(0), settings=KDESettings(random_fraction=1.0)
    )
    observe_many(searcher, 1, [float(v) for v in range(40)])
    picks = np.array([space.to_unit(searcher.suggest(t)) for t in range(100, 300)])
    # Uniform draws: each quadrant gets about a quarter.
    quadrant = (picks[:, 0] > 0.5) * 2 + (picks[:, 1] > 0.5)
    assert np.bincount(quadrant, minlength=4).min() > 30


def pairwise_min_distance(points: np.ndarray) -> float:
    d = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    return float(d[np.triu_indices(len(points), 1)].min())


def four_suggestions(seed: int, keep_pending: bool) -> float:
    """Min pairwise distance of 4 suggestions made after 25 evaluations, none observed."""
    space = unit_space(4)
    searcher = KDESearcher(space, "min", np.random.default_rng(seed), settings=no_random())
    for t in range(25):
        config = searcher.suggest(t)
        searcher.observe(t, config, 1, sum((v - 0.3) ** 2 for v in config.values()))
        searcher.on_trial_end(t)
    points = []
    for t in range(25, 29):
        points.append(space.to_unit(searcher.suggest(t)))
        if not keep_pending:
            searcher.on_trial_end(t)
    return pairwise_min_distance(np.array(points))


def test_pending_trials_spread_out_concurrent_suggestions() -> None:
    pending = np.array([four_suggestions(s, keep_pending=True) for s in range(30)])
    ended = np.array([four_suggestions(s, keep_pending=False) for s in range(30)])
    uniform = np.median(
        [pairwise_min_distance(np.random.default_rng(s).random((4, 4))) for s in range(30)]
    )
    # Without pending trials the fitted model concentrates its picks ...
    assert np.median(ended) < 0.2 * uniform
    # ... with them, the same seeds give clearly more spread-out picks.
    wins = int(np.sum(pending > ended))
    assert binomtest(wins, 30, alternative="greater").pvalue < 0.01, wins
    assert np.median(pending) > 1.5 * np.median(ended)


def test_pending_trial_already_observed_at_model_resource_is_not_imputed() -> None:
    space = unit_space(2)
    searcher = KDESearcher(space, "min", np.random.default_rng(0), settings=no_random())
    observe_many(searcher, 1, [float(v) for v in range(10)])
    config = searcher.suggest(50)
    fit = searcher._current_fit(1)
    assert searcher._bad_with_pending(fit)[0].shape[0] == fit.bad.shape[0] + 1
    searcher.observe(50, config, 1, 0.5)  # still running, but observed at the model resource
    fit = searcher._current_fit(1)
    assert searcher._bad_with_pending(fit)[0].shape[0] == fit.bad.shape[0]


def test_kde_prefers_unseen_configs_in_a_small_discrete_space() -> None:
    space = SearchSpace([Int("a", 1, 4), Categorical("b", ("x", "y", "z"))])  # 12 configs
    searcher = KDESearcher(space, "min", np.random.default_rng(0), settings=no_random())
    seen = set()
    for t in range(12):
        config = searcher.suggest(t)
        seen.add((config["a"], config["b"]))
        searcher.observe(t, config, 1, abs(config["a"] - 2) + (config["b"] != "y"))
        searcher.on_trial_end(t)
    assert len(seen) >= 11


# -- properties ----------------------------------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["suggest", "observe", "end"]),
        st.sampled_from([1, 3, 9]),
        st.one_of(st.floats(-10, 10), st.sampled_from([None, math.nan, math.inf, -math.inf])),
    ),
    min_size=1,
    max_size=80,
)


def replay(seed: int, ops: list[tuple[str, int, Any]]) -> list[dict[str, Any]]:
    """Apply ``ops`` to a fresh KDE searcher on a conditional space; the suggestions made."""
    space = SearchSpace(
        [
            Categorical("opt", ("sgd", "adam", "rmsprop")),
            Float("momentum", 0.0, 0.99, condition=Condition("opt", ("sgd", "rmsprop"))),
            Int("layers", 1, 3),
            Float("lr", 1e-4, 1.0, log=True),
        ]
    )
    searcher = KDESearcher(
        space, "max", np.random.default_rng(seed), settings=KDESettings(min_points=3)
    )
    suggested: list[dict[str, Any]] = []
    running: list[int] = []
    for op, resource, value in ops:
        if op == "suggest":
            config = searcher.suggest(len(suggested))
            space.validate(config)
            running.append(len(suggested))
            suggested.append(config)
        elif running:
            trial_id = running[resource % len(running)]
            if op == "observe":
                searcher.observe(trial_id, suggested[trial_id], resource, value)
            else:
                searcher.on_trial_end(trial_id)
                running.remove(trial_id)
    return suggested


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ops=OPS)
def test_any_call_sequence_gives_valid_replayable_suggestions(seed: int, ops: list) -> None:
    first = replay(seed, ops)  # replay validates every suggestion
    assert replay(seed, ops) == first
