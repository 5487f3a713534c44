"""The learning-curve task interface the simulated backend and ``slurmhpo bench`` replay.

A task answers one question fast: for a configuration x and epochs r, what metric would training
have reported at r, and how many simulated seconds would it have taken to get there (cumulative,
``time(x, 0) = 0``)?  The simulator charges ``time(x, r1) - time(x, r0)`` for taking a trial from
r0 to r1, so the contract below (non-decreasing time) is what keeps every charge non-negative.

Subclasses implement only :meth:`CurveTask._full_curves`, a batched computation of the whole
curve r = 1..r_max for many configurations at once. The base class validates input, caches whole
curves by configuration and slices the epochs a caller asks for, so a benchmark run that queries
the same trial at every rung pays for one backend call per configuration.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from slurmhpo.errors import ConfigError

Mode = Literal["min", "max"]
ConfigKey = tuple[tuple[str, Hashable], ...]


@dataclass(frozen=True)
class Curve:
    """Metric and cumulative simulated time of one configuration at the requested epochs.

    ``epochs``, ``metric`` and ``time`` are 1-d arrays of equal length, in the order asked.
    ``time[i]`` is the simulated seconds from epoch 0 to the end of ``epochs[i]``.
    """

    epochs: np.ndarray
    metric: np.ndarray
    time: np.ndarray


class CurveTask(ABC):
    """A learning-curve benchmark task; subclasses provide the batched curve computation.

    Contract for every subclass:

    * ``_full_curves(configs)`` returns ``(metric, time)``, both of shape
      ``(len(configs), r_max)``, column ``j`` being epoch ``j + 1``; configurations are already
      validated against :meth:`space`.
    * time is finite, positive at epoch 1 and non-decreasing along each row (the base class
      enforces this with a running maximum, so that no epoch ever costs negative time);
    * the result is a deterministic function of the configuration, which is what makes caching
      by configuration correct.

    The cache (least recently used, ``cache_size`` whole curves) is not thread-safe: one task
    object per simulation thread.
    """

    name: str
    metric: str
    mode: Mode
    r_min: int = 1
    r_max: int

    def __init__(self, cache_size: int = 20_000) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigError("cache_size", f"must be an integer >= 0, got {cache_size!r}")
        self._cache_size = cache_size
        self._cache: OrderedDict[ConfigKey, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.backend_calls = 0  # batched backend calls so far; tests use it to see the cache work

    @abstractmethod
    def space(self) -> dict[str, dict[str, Any]]:
        """The search space in the study file's ``[space]`` format (a fresh dict each call)."""

    @abstractmethod
    def _full_curves(self, configs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """``(metric, time)`` for epochs 1..r_max of each config, shape ``(n, r_max)`` each."""

    def evaluate(self, config: Mapping[str, Any], epochs: Iterable[int] | None = None) -> Curve:
        """Metric and cumulative time of ``config`` at ``epochs`` (default: r_min..r_max).

        Raises ``ConfigError`` for a configuration outside :meth:`space` or an epoch outside
        1..r_max. Repeated queries of the same configuration are served from the cache.
        """
        wanted = self._epochs(epochs)
        metric, time = self._curve(config)
        return Curve(epochs=wanted, metric=metric[wanted - 1], time=time[wanted - 1])

    def cumulative_time(self, config: Mapping[str, Any], epoch: int) -> float:
        """Simulated seconds from epoch 0 to the end of ``epoch``; 0.0 at epoch 0."""
        if epoch == 0:
            return 0.0
        return float(self.evaluate(config, [epoch]).time[0])

    def prefetch(self, configs: Iterable[Mapping[str, Any]]) -> None:
        """Compute the curves of all uncached ``configs`` in one backend call.

        Use it when many configurations are known ahead (a budget estimate, a grid, a
        synchronous bracket): one batched call is much cheaper than one call per configuration.
        """
        missing: dict[ConfigKey, Mapping[str, Any]] = {}
        for config in configs:
            key = self._key(config)
            if key not in self._cache and key not in missing:
                self._check(config)
                missing[key] = config
        if missing:
            self._store(list(missing), list(missing.values()))

    def clear_cache(self) -> None:
        """Forget every cached curve (the next query recomputes)."""
        self._cache.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _curve(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        key = self._key(config)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        self._check(config)
        return self._store([key], [config])[0]

    def _store(
        self, keys: list[ConfigKey], configs: list[Mapping[str, Any]]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        metric, time = self._full_curves(configs)
        self.backend_calls += 1
        metric = np.asarray(metric, dtype=float)
        time = np.maximum.accumulate(np.asarray(time, dtype=float), axis=1)
        expected = (len(configs), self.r_max)
        if metric.shape != expected or time.shape != expected:
            raise RuntimeError(f"{self!r}: backend returned {metric.shape}, {time.shape}")
        rows = []
        for i, key in enumerate(keys):
            row = (metric[i].copy(), time[i].copy())
            row[0].flags.writeable = False
            row[1].flags.writeable = False
            rows.append(row)
            if self._cache_size:
                self._cache[key] = row
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return rows

    def _epochs(self, epochs: Iterable[int] | None) -> np.ndarray:
        if epochs is None:
            return np.arange(self.r_min, self.r_max + 1)
        wanted = np.asarray(list(epochs) if not isinstance(epochs, np.ndarray) else epochs)
        if wanted.ndim != 1 or (wanted.size and not np.issubdtype(wanted.dtype, np.integer)):
            raise ConfigError("epochs", f"must be a list of integers, got {epochs!r}")
        if wanted.size and (wanted.min() < 1 or wanted.max() > self.r_max):
            raise ConfigError(
                "epochs",
                f"{self.name} has epochs 1..{self.r_max}, got {wanted.min()}..{wanted.max()}",
                "use cumulative_time(config, 0) for the cost of epoch 0",
            )
        return wanted.astype(int)

    @staticmethod
    def _key(config: Mapping[str, Any]) -> ConfigKey:
        if not isinstance(config, Mapping):
            raise ConfigError("config", f"must be a mapping of names to values, got {config!r}")
        try:
            key = tuple(sorted(config.items()))
            hash(key)
        except TypeError as exc:
            raise ConfigError("config", f"values must be scalars, got {config!r}") from exc
        return key

    def _check(self, config: Mapping[str, Any]) -> None:
        check_config(self.space(), config, self.name)


def check_config(
    space: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any], task: str
) -> None:
    """Refuse a configuration that does not fit ``space``; the error names the parameter.

    Checked: the same parameter names, numbers within [low, high] (integers for int
    parameters), categorical values among the choices.
    """
    missing = sorted(set(space) - set(config))
    extra = sorted(set(config) - set(space))
    if missing or extra:
        raise ConfigError(
            "config",
            f"{task} expects parameters {sorted(space)}; missing {missing}, unknown {extra}",
        )
    for name, spec in space.items():
        _check_value(name, spec, config[name], task)


def _check_value(name: str, spec: Mapping[str, Any], value: Any, task: str) -> None:
    kind = spec["type"]
    if kind == "categorical":
        if value not in spec["choices"]:
            raise ConfigError(f"config.{name}", f"{value!r} is not one of {spec['choices']}")
        return
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"config.{name}", f"must be a number, got {value!r}")
    if kind == "int" and float(value) != math.floor(float(value)):
        raise ConfigError(f"config.{name}", f"must be an integer, got {value!r}")
    slack = 1e-9 * (spec["high"] - spec["low"])  # tolerate float noise at the bounds
    if not spec["low"] - slack <= value <= spec["high"] + slack:
        raise ConfigError(
            f"config.{name}",
            f"{value!r} is outside [{spec['low']}, {spec['high']}] of {task}",
        )
