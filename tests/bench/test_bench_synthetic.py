"""Synthetic multi-fidelity tasks: shapes, costs, determinism and the known optima."""

from __future__ import annotations

import numpy as np
import pytest

from slurmhpo.bench.synthetic import LANDSCAPES, SyntheticTask, branin, hartmann3, hartmann6
from slurmhpo.errors import ConfigError
from slurmhpo.space import SearchSpace

NAMES = sorted(LANDSCAPES)


def random_configs(task: SyntheticTask, n: int, seed: int = 0) -> list[dict[str, object]]:
    """Uniform configurations drawn from the task's own space description."""
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(n):
        config: dict[str, object] = {}
        for name, spec in task.space().items():
            if spec["type"] == "categorical":
                config[name] = spec["choices"][int(rng.integers(len(spec["choices"])))]
            else:
                config[name] = float(rng.uniform(spec["low"], spec["high"]))
        configs.append(config)
    return configs


@pytest.mark.parametrize("key", NAMES)
def test_curve_shapes_and_space(key: str) -> None:
    task = SyntheticTask(key, r_max=9)
    space = task.space()
    assert space["schedule"] == {"type": "categorical", "choices": ["fast", "steady"]}
    assert len(space) == len(LANDSCAPES[key].low) + 1
    curve = task.evaluate(random_configs(task, 1)[0])
    assert curve.epochs.tolist() == list(range(1, 10))
    assert curve.metric.shape == curve.time.shape == (9,)
    assert np.all(np.isfinite(curve.metric))


@pytest.mark.parametrize("key", NAMES)
def test_time_is_positive_increasing_and_linear_in_epochs(key: str) -> None:
    task = SyntheticTask(key)
    for config in random_configs(task, 20):
        time = task.evaluate(config).time
        assert time[0] > 0
        assert np.all(np.diff(time) > 0)
        np.testing.assert_allclose(time, time[0] * np.arange(1, task.r_max + 1))


@pytest.mark.parametrize("key", NAMES)
def test_curves_are_deterministic_and_the_seed_drives_the_noise(key: str) -> None:
    config = random_configs(SyntheticTask(key), 1)[0]
    first = SyntheticTask(key, seed=3).evaluate(config).metric
    again = SyntheticTask(key, seed=3).evaluate(config).metric
    other = SyntheticTask(key, seed=4).evaluate(config).metric
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[:-1], other[:-1])
    assert first[-1] == pytest.approx(other[-1])  # the last epoch carries no noise


@pytest.mark.parametrize("key", NAMES)
def test_last_epoch_is_the_full_fidelity_optimum(key: str) -> None:
    task = SyntheticTask(key, noise=0.5)
    land = LANDSCAPES[key]
    for config in task.optimum_configs():
        for schedule in ("fast", "steady"):
            curve = task.evaluate({**config, "schedule": schedule}, [task.r_max])
            assert curve.metric[0] == pytest.approx(land.optimum, abs=1e-4)


@pytest.mark.parametrize("key", NAMES)
def test_optimum_beats_random_configurations_at_full_fidelity(key: str) -> None:
    task = SyntheticTask(key)
    best = task.evaluate(task.optimum_configs()[0], [task.r_max]).metric[0]
    values = [task.evaluate(c, [task.r_max]).metric[0] for c in random_configs(task, 200)]
    if task.mode == "min":
        assert best <= min(values)
    else:
        assert best >= max(values)


@pytest.mark.parametrize("key", ["hartmann3-mf", "hartmann6-mf"])
def test_noiseless_hartmann_curves_improve_at_every_epoch(key: str) -> None:
    task = SyntheticTask(key, noise=0.0)
    for config in random_configs(task, 50):
        assert np.all(np.diff(task.evaluate(config).metric) > 0), config


def test_noiseless_branin_curves_improve_overall() -> None:
    """BOCA's Branin bias has no fixed sign, so curves may wiggle but must end far better."""
    task = SyntheticTask("branin-mf", noise=0.0)
    steps = []
    for config in random_configs(task, 200):
        metric = task.evaluate(config).metric
        assert metric[-1] < metric[0], config
        steps.extend(np.diff(metric) < 0)
    assert np.mean(steps) > 0.85


@pytest.mark.parametrize("key", NAMES)
def test_noisy_curves_still_improve_on_average(key: str) -> None:
    task = SyntheticTask(key, noise=0.3)
    sign = 1.0 if task.mode == "max" else -1.0
    gains = [
        sign * np.diff(task.evaluate(c, [1, task.r_max]).metric)[0]
        for c in random_configs(task, 50)
    ]
    assert np.mean(np.array(gains) > 0) > 0.9


def test_low_fidelity_ranking_differs_from_the_final_one() -> None:
    """The early-epoch gap depends on the configuration, as with real learning curves."""
    task = SyntheticTask("hartmann6-mf")
    configs = random_configs(task, 100)
    first = [task.evaluate(c, [1]).metric[0] for c in configs]
    last = [task.evaluate(c, [task.r_max]).metric[0] for c in configs]
    assert np.argsort(first).tolist() != np.argsort(last).tolist()


def test_fast_schedule_costs_more_per_epoch() -> None:
    task = SyntheticTask("branin-mf")
    config = task.optimum_configs()[0]
    fast = task.cumulative_time({**config, "schedule": "fast"}, 5)
    steady = task.cumulative_time({**config, "schedule": "steady"}, 5)
    assert fast == pytest.approx(1.5 * steady)


def test_fidelity_functions_equal_the_classics_at_z_one() -> None:
    z = np.array([1.0])
    assert branin(np.array([[np.pi, 2.275]]), z)[0, 0] == pytest.approx(0.397887, abs=1e-6)
    assert hartmann3(np.array([[0.114614, 0.555649, 0.852547]]), z)[0, 0] == pytest.approx(
        3.86278, abs=1e-5
    )
    x6 = np.array([[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]])
    assert hartmann6(x6, z)[0, 0] == pytest.approx(3.32237, abs=1e-5)


def test_lower_fidelity_hartmann_is_biased_down() -> None:
    x = np.array([[0.114614, 0.555649, 0.852547]])
    values = hartmann3(x, np.array([0.1, 0.5, 1.0]))[0]
    assert values[0] < values[1] < values[2]


@pytest.mark.parametrize(
    ("options", "field"),
    [({"r_max": 1}, "r_max"), ({"noise": -1.0}, "noise"), ({"seed": -2}, "seed")],
)
def test_bad_options_are_refused(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        SyntheticTask("branin-mf", **options)  # type: ignore[arg-type]
    assert info.value.field == field


def test_unknown_landscape_is_refused() -> None:
    with pytest.raises(ConfigError, match="branin-mf"):
        SyntheticTask("rosenbrock")


def test_space_parses_as_a_study_search_space() -> None:
    task = SyntheticTask("hartmann3-mf")
    space = SearchSpace.from_dict(task.space())
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = space.sample(rng)
        space.validate(config)
        assert task.evaluate(config).metric.shape == (task.r_max,)
