"""Searchers choose the configuration of each new trial: random, grid, BOHB's KDE and the
multi-fidelity KDE of the adaptive scheduler.

All follow :class:`~slurmhpo.scheduling.searchers.base.Searcher`; build one from a study's
``[searcher]`` table with :func:`make_searcher`.
"""

from __future__ import annotations

from slurmhpo.scheduling.searchers.base import BaseSearcher, Searcher, config_key
from slurmhpo.scheduling.searchers.factory import SEARCHER_TYPES, make_searcher
from slurmhpo.scheduling.searchers.grid import GridSearcher, build_grid
from slurmhpo.scheduling.searchers.kde import KDESearcher, KDESettings
from slurmhpo.scheduling.searchers.mf_kde import MultiFidelityKDESearcher
from slurmhpo.scheduling.searchers.random_search import RandomSearcher

__all__ = [
    "SEARCHER_TYPES",
    "BaseSearcher",
    "GridSearcher",
    "KDESearcher",
    "KDESettings",
    "MultiFidelityKDESearcher",
    "RandomSearcher",
    "Searcher",
    "build_grid",
    "config_key",
    "make_searcher",
]
