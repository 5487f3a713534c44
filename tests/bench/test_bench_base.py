"""The CurveTask contract: validation, caching by configuration, epoch slicing, monotone time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from slurmhpo.bench.base import CurveTask, check_config
from slurmhpo.errors import ConfigError

SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "n": {"type": "int", "low": 1, "high": 4},
    "act": {"type": "categorical", "choices": ["relu", "tanh"]},
}


class Toy(CurveTask):
    """metric = n * epoch; raw time dips at epoch 3 so the running maximum must repair it."""

    name = "toy/1"
    metric = "score"
    mode = "max"
    r_max = 5

    def space(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in SPACE.items()}

    def _full_curves(self, configs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        n = np.array([c["n"] for c in configs], dtype=float)[:, None]
        epochs = np.arange(1, self.r_max + 1, dtype=float)[None, :]
        time = np.repeat([[1.0, 2.0, 1.5, 4.0, 5.0]], len(configs), axis=0)
        return n * epochs, time


CONFIG = {"lr": 0.01, "n": 2, "act": "relu"}


def test_evaluate_slices_requested_epochs_in_order() -> None:
    curve = Toy().evaluate(CONFIG, [4, 1, 5])
    assert curve.epochs.tolist() == [4, 1, 5]
    assert curve.metric.tolist() == [8.0, 2.0, 10.0]


def test_default_epochs_are_r_min_to_r_max() -> None:
    curve = Toy().evaluate(CONFIG)
    assert curve.epochs.tolist() == [1, 2, 3, 4, 5]


def test_time_is_made_non_decreasing() -> None:
    curve = Toy().evaluate(CONFIG)
    assert curve.time.tolist() == [1.0, 2.0, 2.0, 4.0, 5.0]


def test_cumulative_time_is_zero_at_epoch_zero() -> None:
    task = Toy()
    assert task.cumulative_time(CONFIG, 0) == 0.0
    assert task.cumulative_time(CONFIG, 4) == 4.0


def test_repeated_queries_hit_the_cache() -> None:
    task = Toy()
    task.evaluate(CONFIG, [1])
    task.evaluate(dict(reversed(list(CONFIG.items()))), [5])  # same config, other key order
    assert task.backend_calls == 1
    task.evaluate({**CONFIG, "n": 3}, [1])
    assert task.backend_calls == 2


def test_cached_arrays_cannot_be_corrupted_by_callers() -> None:
    task = Toy()
    task.evaluate(CONFIG)
    with pytest.raises(ValueError):
        task._curve(CONFIG)[0][0] = 99.0


def test_prefetch_computes_all_missing_configs_in_one_call() -> None:
    task = Toy()
    configs = [{**CONFIG, "n": n} for n in (1, 2, 3, 4)]
    task.prefetch(configs + configs)
    assert task.backend_calls == 1
    for config in configs:
        task.evaluate(config)
    assert task.backend_calls == 1


def test_cache_is_bounded_and_can_be_disabled() -> None:
    task = Toy(cache_size=2)
    for n in (1, 2, 3):
        task.evaluate({**CONFIG, "n": n})
    task.evaluate({**CONFIG, "n": 1})  # evicted, computed again
    assert task.backend_calls == 4
    uncached = Toy(cache_size=0)
    uncached.evaluate(CONFIG)
    uncached.evaluate(CONFIG)
    assert uncached.backend_calls == 2


@pytest.mark.parametrize("epochs", [[0], [6], [1.5], [[1, 2]]])
def test_bad_epochs_are_refused(epochs: list[Any]) -> None:
    with pytest.raises(ConfigError) as info:
        Toy().evaluate(CONFIG, epochs)
    assert info.value.field == "epochs"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"lr": 0.01, "n": 2}, "config"),
        ({**CONFIG, "extra": 1}, "config"),
        ({**CONFIG, "lr": 0.5}, "config.lr"),
        ({**CONFIG, "n": 2.5}, "config.n"),
        ({**CONFIG, "n": True}, "config.n"),
        ({**CONFIG, "act": "gelu"}, "config.act"),
        ({**CONFIG, "lr": "0.01"}, "config.lr"),
    ],
)
def test_configs_outside_the_space_are_refused(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Toy().evaluate(config)
    assert info.value.field == field


def test_float_noise_at_a_bound_is_tolerated() -> None:
    check_config(SPACE, {**CONFIG, "lr": 0.1 * (1 + 1e-15)}, "toy")


def test_unhashable_values_are_refused() -> None:
    with pytest.raises(ConfigError):
        Toy().evaluate({**CONFIG, "act": ["relu"]})


def test_bad_cache_size_is_refused() -> None:
    with pytest.raises(ConfigError):
        Toy(cache_size=-1)


def test_non_mapping_config_is_refused() -> None:
    with pytest.raises(ConfigError):
        Toy().evaluate([("lr", 0.01)])  # type: ignore[arg-type]
