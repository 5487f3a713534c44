"""Population-based training's *explore* step: a new configuration near a donor's.

Jaderberg et al. (2017, "Population Based Training of Neural Networks", section 3) perturb
each hyperparameter of the copied configuration by a random factor of 0.8 or 1.2, or resample
it from the prior with some probability. Here, parameter by parameter, in the space's order
(parents before children):

* with probability ``resample_probability``: a fresh draw from the parameter's prior;
* otherwise a float or int is multiplied by one of ``factors`` (chosen uniformly), rounded
  for an int, and clipped into ``[low, high]`` (a value of 0 stays 0 until it is resampled);
  an ordinal moves one step up or down (clipped at the ends); a categorical keeps its value,
  since its choices have no order to move along;
* a parameter that a changed parent makes active, and that the donor did not have, is drawn
  from its prior; one the change makes inactive is dropped.

Pure and deterministic for the generator's state: the scheduler's rng is the only randomness.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from slurmhpo.space import Categorical, Float, Hyperparameter, Int, Ordinal, SearchSpace

DEFAULT_FACTORS = (0.8, 1.2)


def explore(
    space: SearchSpace,
    config: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    resample_probability: float,
    factors: Sequence[float] = DEFAULT_FACTORS,
) -> dict[str, Any]:
    """A configuration near ``config`` (see the module docstring); it validates in ``space``."""
    new: dict[str, Any] = {}
    for param in space.params:
        if not space.is_active(param.name, new):
            continue
        if param.name not in config or rng.random() < resample_probability:
            new[param.name] = param.sample(rng)
        else:
            new[param.name] = _perturb(param, config[param.name], rng, factors)
    return new


def _perturb(
    param: Hyperparameter, value: Any, rng: np.random.Generator, factors: Sequence[float]
) -> Any:
    if isinstance(param, Categorical):
        return value
    if isinstance(param, Ordinal):
        step = 1 if rng.random() < 0.5 else -1
        index = min(max(param.index(value) + step, 0), param.cardinality - 1)
        return param.values[index]
    factor = float(factors[int(rng.integers(len(factors)))])
    if isinstance(param, Int):
        return int(min(max(round(value * factor), param.low), param.high))
    assert isinstance(param, Float)
    return float(min(max(value * factor, param.low), param.high))
