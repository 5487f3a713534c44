"""Plots of one study from the database (``slurmhpo plot``; needs the ``plot`` extra).

Four kinds: ``anytime`` (the incumbent against wall-clock and GPU-hours), ``curves``
(learning curves coloured by what the scheduler did to each trial, rung levels marked),
``rungs`` (rung occupancy over time) and, for studies with several objectives, ``pareto``
(the first two objectives and the Pareto front, :mod:`.pareto`). Each plot function returns
the series it drew (see :mod:`slurmhpo.plots.series`). Reading is one read-only session
(:mod:`.data`); matplotlib is imported only when drawing (:mod:`.figure`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from slurmhpo.errors import ConfigError
from slurmhpo.plots.data import StudyData, load_study_data

if TYPE_CHECKING:
    from sqlalchemy import Engine

KINDS = ("anytime", "curves", "rungs", "pareto")


def draw(data: StudyData, kind: str, path: Path) -> Any:
    """Draw plot ``kind`` of ``data`` into the PNG ``path``; returns the series drawn."""
    if kind == "anytime":
        from slurmhpo.plots.anytime import plot_anytime

        return plot_anytime(data, path)
    if kind == "curves":
        from slurmhpo.plots.curves import plot_curves

        return plot_curves(data, path)
    if kind == "rungs":
        from slurmhpo.plots.rungs import plot_rungs

        return plot_rungs(data, path)
    raise ConfigError("--kind", f"{kind!r} is not a plot", f"use one of {', '.join(KINDS)}")


def plot_study(engine: Engine, name: str, kind: str, path: Path) -> Any:
    """Read study ``name`` and draw plot ``kind`` of it into ``path``."""
    if kind == "pareto":  # reads the objectives' metrics, which StudyData does not hold
        from slurmhpo.plots.pareto import plot_pareto

        return plot_pareto(engine, name, path)
    return draw(load_study_data(engine, name), kind, path)
