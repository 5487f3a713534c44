"""Searcher contract, random and grid searchers, initial configurations, and make_searcher."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.searchers import (
    GridSearcher,
    KDESearcher,
    RandomSearcher,
    build_grid,
    config_key,
    make_searcher,
)
from slurmhpo.space import Categorical, Condition, Float, Int, Ordinal, SearchSpace

ALL_SPECS: list[dict[str, Any]] = [
    {"type": "random"},
    {"type": "grid"},
    {"type": "kde"},
    {"type": "mf_kde"},
]


def mixed_space() -> SearchSpace:
    return SearchSpace(
        [
            Float("lr", 1e-4, 1e-1, log=True),
            Float("dropout", 0.0, 0.5),
            Int("layers", 1, 4),
            Categorical("opt", ("sgd", "adam")),
            Float("momentum", 0.5, 0.99, condition=Condition("opt", ("sgd",))),
            Ordinal("batch", (16, 32, 64)),
        ]
    )


def drive(searcher: Any, n: int, objective=None) -> list[dict[str, Any]]:
    """Sequentially suggest, observe at resource 1 and end ``n`` trials; the configs in order."""
    configs = []
    for trial_id in range(n):
        config = searcher.suggest(trial_id)
        if config is None:
            break
        configs.append(config)
        value = objective(config) if objective else float(trial_id % 7)
        searcher.observe(trial_id, config, 1, value)
        searcher.on_trial_end(trial_id)
    return configs


# -- contract, run against every searcher type ------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s["type"])
def test_suggestions_are_valid_configs(spec: dict[str, Any]) -> None:
    space = mixed_space()
    searcher = make_searcher(spec, space, "min", np.random.default_rng(0))
    configs = drive(searcher, 40)
    assert len(configs) == 40
    for config in configs:
        space.validate(config)  # raises if invalid or an inactive parameter is present


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s["type"])
def test_same_seed_same_calls_same_suggestions(spec: dict[str, Any]) -> None:
    space = mixed_space()
    runs = [
        drive(make_searcher(spec, space, "max", np.random.default_rng(7)), 40) for _ in range(2)
    ]
    assert runs[0] == runs[1]
    other = drive(make_searcher(spec, space, "max", np.random.default_rng(8)), 40)
    assert other != runs[0]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s["type"])
def test_initial_configs_come_first_in_order(spec: dict[str, Any]) -> None:
    space = mixed_space()
    first = {"lr": 0.01, "dropout": 0.1, "layers": 2, "opt": "adam", "batch": 32}
    second = {"lr": 0.001, "dropout": 0.0, "layers": 4, "opt": "sgd", "momentum": 0.9, "batch": 16}
    searcher = make_searcher(
        spec, space, "min", np.random.default_rng(0), initial_configs=[first, second]
    )
    assert searcher.suggest(10) == first
    assert searcher.suggest(11) == second
    third = searcher.suggest(12)
    assert third is not None and third not in (first, second)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s["type"])
def test_bad_initial_config_names_entry_and_parameter(spec: dict[str, Any]) -> None:
    space = mixed_space()
    good = {"lr": 0.01, "dropout": 0.1, "layers": 2, "opt": "adam", "batch": 32}
    bad = {**good, "layers": 9}
    with pytest.raises(ConfigError) as info:
        make_searcher(spec, space, "min", np.random.default_rng(0), initial_configs=[good, bad])
    assert info.value.field == "initial_configs[1].layers"
    inactive = {**good, "momentum": 0.9}  # momentum only applies with opt = sgd
    with pytest.raises(ConfigError) as info:
        make_searcher(spec, space, "min", np.random.default_rng(0), initial_configs=[inactive])
    assert info.value.field == "initial_configs[0].momentum"
    with pytest.raises(ConfigError) as info:
        make_searcher(spec, space, "min", np.random.default_rng(0), initial_configs=[[1, 2]])
    assert info.value.field == "initial_configs[0]"


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s["type"])
def test_trial_id_cannot_be_suggested_twice(spec: dict[str, Any]) -> None:
    searcher = make_searcher(spec, mixed_space(), "min", np.random.default_rng(0))
    searcher.suggest(3)
    with pytest.raises(ValueError, match="trial 3"):
        searcher.suggest(3)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s["type"])
def test_pending_until_trial_end(spec: dict[str, Any]) -> None:
    searcher = make_searcher(spec, mixed_space(), "min", np.random.default_rng(0))
    config = searcher.suggest(0)
    searcher.suggest(1)
    assert set(searcher.pending) == {0, 1}
    searcher.observe(0, config, 3, 0.5)  # an observation alone does not end the trial
    assert set(searcher.pending) == {0, 1}
    searcher.on_trial_end(0)
    searcher.on_trial_end(0)  # ending twice is harmless
    searcher.on_trial_end(99)  # so is ending a trial never suggested
    assert set(searcher.pending) == {1}


def test_bad_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        make_searcher({"type": "random"}, mixed_space(), "minimize", np.random.default_rng(0))  # type: ignore[arg-type]
    assert info.value.field == "objective.mode"


def test_global_rng_is_not_used() -> None:
    space = mixed_space()
    np.random.seed(1)
    a = drive(make_searcher({"type": "kde"}, space, "min", np.random.default_rng(3)), 30)
    np.random.seed(2)
    b = drive(make_searcher({"type": "kde"}, space, "min", np.random.default_rng(3)), 30)
    assert a == b


# -- random -------------------------------------------------------------------------------------


def test_random_avoids_exact_duplicates_in_a_small_space() -> None:
    space = SearchSpace([Categorical("a", ("x", "y", "z")), Int("b", 1, 3)])  # 9 configs
    searcher = RandomSearcher(space, "min", np.random.default_rng(0))
    configs = drive(searcher, 9)
    assert len({config_key(c) for c in configs}) == 9
    # Once the space is used up it repeats rather than giving up.
    assert searcher.suggest(100) is not None


def test_random_covers_each_parameter_range() -> None:
    space = mixed_space()
    configs = drive(RandomSearcher(space, "min", np.random.default_rng(1)), 400)
    lrs = np.log10([c["lr"] for c in configs])
    # Log-uniform over four decades: each decade gets a fair share.
    counts = np.histogram(lrs, bins=[-4, -3, -2, -1])[0]
    assert counts.min() > 80
    assert {c["layers"] for c in configs} == {1, 2, 3, 4}
    assert {c["batch"] for c in configs} == {16, 32, 64}
    with_momentum = [c for c in configs if "momentum" in c]
    assert all(c["opt"] == "sgd" for c in with_momentum)
    assert 120 < len(with_momentum) < 280


# -- grid ---------------------------------------------------------------------------------------


def test_grid_axes_and_size() -> None:
    space = SearchSpace(
        [
            Float("lr", 1e-4, 1e-1, log=True),
            Int("small", 1, 3),
            Int("wide", 0, 100),
            Categorical("c", ("a", "b")),
        ]
    )
    grid = build_grid(space, 4)
    assert len(grid) == 4 * 3 * 4 * 2
    lrs = sorted({c["lr"] for c in grid})
    assert lrs == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])  # evenly spaced in log space
    assert sorted({c["small"] for c in grid}) == [1, 2, 3]
    assert sorted({c["wide"] for c in grid}) == [0, 33, 67, 100]
    assert len({config_key(c) for c in grid}) == len(grid)


def test_grid_single_point_is_the_midpoint() -> None:
    space = SearchSpace([Float("x", 0.0, 10.0), Float("y", 1.0, 100.0, log=True)])
    assert build_grid(space, 1) == [{"x": 5.0, "y": pytest.approx(10.0)}]


def test_grid_conditional_child_only_where_active() -> None:
    space = SearchSpace(
        [
            Categorical("opt", ("sgd", "adam", "rmsprop")),
            Float("momentum", 0.0, 0.9, condition=Condition("opt", ("sgd", "rmsprop"))),
            Int("nesterov_steps", 1, 2, condition=Condition("opt", ("sgd",))),
        ]
    )
    grid = build_grid(space, 3)
    # sgd: 3 momenta x 2 steps; adam: 1; rmsprop: 3 momenta.
    assert len(grid) == 6 + 1 + 3
    assert len({config_key(c) for c in grid}) == len(grid)
    for config in grid:
        space.validate(config)


def test_grid_visits_each_point_once_then_is_exhausted_forever() -> None:
    space = SearchSpace([Categorical("a", ("x", "y")), Float("b", 0.0, 1.0)])
    searcher = GridSearcher(space, "min", np.random.default_rng(0), num_points=3)
    configs = drive(searcher, 100)
    assert len(configs) == 6 == searcher.size
    assert {config_key(c) for c in configs} == {config_key(c) for c in build_grid(space, 3)}
    assert searcher.suggest(200) is None
    assert searcher.suggest(201) is None


def test_grid_order_is_shuffled_by_the_rng() -> None:
    space = SearchSpace([Int("a", 1, 5), Int("b", 1, 5)])
    orders = [drive(GridSearcher(space, "min", np.random.default_rng(s)), 25) for s in (0, 1)]
    assert orders[0] != orders[1]
    assert sorted(map(config_key, orders[0])) == sorted(map(config_key, orders[1]))
    assert orders[0] != build_grid(space, 5)  # not the lexicographic order


def test_grid_skips_points_given_as_initial_configs() -> None:
    space = SearchSpace([Categorical("a", ("x", "y", "z"))])
    searcher = GridSearcher(space, "min", np.random.default_rng(0), initial_configs=[{"a": "y"}])
    configs = drive(searcher, 10)
    assert configs[0] == {"a": "y"}
    assert sorted(c["a"] for c in configs) == ["x", "y", "z"]


def test_grid_too_large_is_a_config_error() -> None:
    space = SearchSpace([Float(f"x{i}", 0.0, 1.0) for i in range(7)])
    with pytest.raises(ConfigError) as info:
        make_searcher({"type": "grid", "num_points": 10}, space, "min", np.random.default_rng(0))
    assert info.value.field == "searcher.num_points"


# -- make_searcher ------------------------------------------------------------------------------


def test_make_searcher_builds_each_type_with_settings() -> None:
    space = mixed_space()
    rng = np.random.default_rng(0)
    assert isinstance(make_searcher({"type": "random"}, space, "min", rng), RandomSearcher)
    grid = make_searcher({"type": "grid", "num_points": 2}, space, "min", rng)
    assert isinstance(grid, GridSearcher)
    # lr 2 x dropout 2 x layers 2 x batch 3 x (adam 1 + sgd with 2 momenta)
    assert grid.size == 2 * 2 * 2 * 3 * 3
    kde = make_searcher(
        {"type": "kde", "top_n_percent": 20, "num_samples": 32, "random_fraction": 0,
         "bandwidth_factor": 2, "min_bandwidth": 0.01, "min_points": 5},
        space, "min", rng,
    )  # fmt: skip
    assert isinstance(kde, KDESearcher)
    s = kde.settings
    assert (s.top_n_percent, s.num_samples, s.random_fraction) == (20, 32, 0)
    assert (s.bandwidth_factor, s.min_bandwidth, kde.min_points) == (2, 0.01, 5)
    assert make_searcher({"type": "kde"}, space, "min", rng).min_points == space.dim + 1


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "searcher.type"),
        ({"type": "bayes"}, "searcher.type"),
        ({"type": "random", "num_points": 3}, "searcher.num_points"),
        ({"type": "grid", "num_points": 0}, "searcher.num_points"),
        ({"type": "grid", "num_points": 2.5}, "searcher.num_points"),
        ({"type": "grid", "points": 3}, "searcher.points"),
        ({"type": "kde", "top_n_percent": 0}, "searcher.top_n_percent"),
        ({"type": "kde", "top_n_percent": 100}, "searcher.top_n_percent"),
        ({"type": "kde", "num_samples": 0}, "searcher.num_samples"),
        ({"type": "kde", "num_samples": True}, "searcher.num_samples"),
        ({"type": "kde", "random_fraction": 1.5}, "searcher.random_fraction"),
        ({"type": "kde", "random_fraction": "a third"}, "searcher.random_fraction"),
        ({"type": "kde", "bandwidth_factor": 0}, "searcher.bandwidth_factor"),
        ({"type": "kde", "min_bandwidth": -1e-3}, "searcher.min_bandwidth"),
        ({"type": "kde", "min_points": 1}, "searcher.min_points"),
        ({"type": "kde", "min_bandwidth": math.nan}, "searcher.min_bandwidth"),
        ({"type": "kde", "max_model_points": 10}, "searcher.max_model_points"),
        ({"type": "kde", "top_n_percnt": 15}, "searcher.top_n_percnt"),
    ],
)
def test_make_searcher_rejects_bad_specs_naming_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_searcher(spec, mixed_space(), "min", np.random.default_rng(0))
    assert info.value.field == field
