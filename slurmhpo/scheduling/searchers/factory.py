"""Build a searcher from the study file's ``[searcher]`` table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from slurmhpo.errors import ConfigError
from slurmhpo.fields import TableReader
from slurmhpo.scheduling.searchers.base import Searcher
from slurmhpo.scheduling.searchers.grid import GridSearcher
from slurmhpo.scheduling.searchers.kde import KDESearcher, KDESettings
from slurmhpo.scheduling.searchers.mf_kde import MultiFidelityKDESearcher
from slurmhpo.scheduling.searchers.random_search import RandomSearcher
from slurmhpo.scheduling.searchers.scalarized_kde import ScalarizedKDESearcher
from slurmhpo.scheduling.types import Mode

if TYPE_CHECKING:
    from slurmhpo.space import SearchSpace

SEARCHER_TYPES: tuple[str, ...] = ("random", "grid", "kde", "mf_kde", "mo_kde")
# Searchers a study with several objectives may use: those that ignore the values, and the
# one that models them all (a single-objective model would optimise the first objective).
MULTI_OBJECTIVE: tuple[str, ...] = ("random", "grid", "mo_kde")
WARM_STARTABLE: tuple[str, ...] = ("kde", "mf_kde")  # searchers with a model to feed


def make_searcher(
    spec: Mapping[str, Any],
    space: SearchSpace,
    mode: Mode,
    rng: np.random.Generator,
    initial_configs: Sequence[Mapping[str, Any]] = (),
    *,
    modes: Sequence[Mode] = (),
) -> Searcher:
    """The searcher ``spec`` describes, e.g. ``{"type": "kde", "num_samples": 64}``.

    Every key is checked: an unknown type or setting, or a value of the wrong type or range,
    raises ConfigError naming ``searcher.<key>``. ``modes``: every objective's mode when the
    study has several (``mode`` is the first), else empty.
    """
    reader = TableReader(spec, "searcher")
    kind = reader.choice("type", SEARCHER_TYPES)
    _check_objectives(kind, len(modes))
    _check_warm_start(reader, kind)
    if kind == "random":
        reader.finish()
        return RandomSearcher(space, mode, rng, initial_configs=initial_configs)
    if kind == "grid":
        num_points = reader.positive("num_points", int, default=5)
        reader.finish()
        return GridSearcher(
            space, mode, rng, initial_configs=initial_configs, num_points=num_points
        )
    settings = _kde_settings(reader)
    if kind == "mo_kde":
        reader.finish()
        return ScalarizedKDESearcher(
            space, modes, rng, initial_configs=initial_configs, settings=settings
        )
    if kind == "kde":
        reader.finish()
        return KDESearcher(space, mode, rng, initial_configs=initial_configs, settings=settings)
    power = reader.get("weight_power", float, default=3.0)
    reader.finish()
    return MultiFidelityKDESearcher(
        space, mode, rng, initial_configs=initial_configs, settings=settings, weight_power=power
    )


def _check_objectives(kind: str, count: int) -> None:
    """mo_kde models several objectives; the single-objective models take exactly one."""
    if count > 1 and kind not in MULTI_OBJECTIVE:
        raise ConfigError(
            "searcher.type",
            f"the {kind} searcher models one objective, but the study has {count}",
            'use searcher.type = "mo_kde" (random scalarisations), "random" or "grid"',
        )
    if count <= 1 and kind == "mo_kde":
        raise ConfigError(
            "searcher.type",
            "mo_kde needs two or more objectives, the study has one",
            'use searcher.type = "kde"',
        )


def _check_warm_start(reader: TableReader, kind: str) -> None:
    """``searcher.warm_start``: names of earlier studies whose results feed the model.

    Only the model-based searchers take it: random and grid search have nothing to feed.
    The controller reads those studies when the study starts (the names are checked
    against the database then, see :mod:`slurmhpo.controller.warm_start`).
    """
    names = reader.get("warm_start", list, default=[], hint='e.g. warm_start = ["old-study"]')
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"searcher.warm_start[{i}]", f"must be a study name, got {name!r}")
        if name in names[:i]:
            raise ConfigError(f"searcher.warm_start[{i}]", f"names {name!r} twice", "drop one")
    if names and kind not in WARM_STARTABLE:
        raise ConfigError(
            "searcher.warm_start",
            f"the {kind} searcher has no model to warm-start",
            'use searcher.type = "kde" (or "mf_kde" with scheduler "adaptive"), or drop it',
        )


def _kde_settings(reader: TableReader) -> KDESettings:
    default = KDESettings()
    min_points = reader.get("min_points", int, default=None)
    if min_points is not None and min_points < 2:
        raise ConfigError("searcher.min_points", f"must be at least 2, got {min_points}")
    return KDESettings(
        top_n_percent=reader.get("top_n_percent", float, default=default.top_n_percent),
        num_samples=reader.positive("num_samples", int, default=default.num_samples),
        random_fraction=reader.get("random_fraction", float, default=default.random_fraction),
        bandwidth_factor=reader.get("bandwidth_factor", float, default=default.bandwidth_factor),
        min_bandwidth=reader.get("min_bandwidth", float, default=default.min_bandwidth),
        min_points=min_points,
        max_model_points=reader.get("max_model_points", int, default=default.max_model_points),
    )
