"""The Pareto front of a study with several objectives: its first two objectives, every
candidate (trials at the furthest resource reached, :mod:`slurmhpo.store.pareto_front`) as a
grey dot and the non-dominated ones joined by the staircase they dominate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from slurmhpo.errors import ConfigError
from slurmhpo.pareto import pareto_mask, to_keys
from slurmhpo.plots.figure import pyplot, save
from slurmhpo.store.db import read_session
from slurmhpo.store.pareto_front import front_candidates, study_objectives
from slurmhpo.store.queries import get_study

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True)
class ParetoSeries:
    """What the plot drew: (trial, x, y) of every candidate, and which are on the front."""

    names: tuple[str, str]
    modes: tuple[str, str]
    points: list[tuple[int, float, float]]
    on_front: list[bool]

    def front(self) -> list[tuple[int, float, float]]:
        """Front members sorted along the first objective (the staircase's order)."""
        chosen = [p for p, on in zip(self.points, self.on_front, strict=True) if on]
        return sorted(chosen, key=lambda p: (p[1], p[0]))


def pareto_series(engine: Engine, name: str) -> ParetoSeries:
    """Read the candidates of study ``name``; ConfigError for a single-objective study."""
    with read_session(engine) as session:
        study = get_study(session, name)
        objectives = study_objectives(study)
        if len(objectives) < 2:
            raise ConfigError(
                "--kind",
                f"pareto needs a study with two or more objectives; {name!r} has one",
                "use --kind anytime",
            )
        candidates = front_candidates(session, study)
    modes = (objectives[0][1], objectives[1][1])
    drawable, points = [], []
    for c in candidates:
        x, y = c.values[0], c.values[1]
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y):
            drawable.append(c)
            points.append((c.trial.number, x, y))
    # the front of ALL objectives, so a third objective's trade-offs stay marked
    all_modes = [mode for _, mode in objectives]
    mask = pareto_mask(to_keys([c.values for c in drawable], all_modes)) if drawable else []
    names = (objectives[0][0], objectives[1][0])
    return ParetoSeries(names, modes, points, [bool(m) for m in mask])


def plot_pareto(engine: Engine, name: str, path: Path) -> ParetoSeries:
    """Draw the front of study ``name`` into the PNG ``path``; returns what was drawn."""
    series = pareto_series(engine, name)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    if series.points:
        ax.plot([p[1] for p in series.points], [p[2] for p in series.points], "o",
                color="0.7", ms=4, label="trials at the furthest resource")  # fmt: skip
        front = series.front()
        xs, ys = [p[1] for p in front], [p[2] for p in front]
        ax.step(xs, ys, where="post" if series.modes[1] == "min" else "pre", color="C3")
        ax.plot(xs, ys, "o", color="C3", ms=5, label=f"Pareto front ({len(front)})")
        for number, x, y in front:
            ax.annotate(str(number), (x, y), textcoords="offset points", xytext=(4, 4),
                        fontsize=7)  # fmt: skip
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no result to compare yet", ha="center", transform=ax.transAxes)
    ax.set_xlabel(f"{series.names[0]} ({series.modes[0]})")
    ax.set_ylabel(f"{series.names[1]} ({series.modes[1]})")
    ax.grid(alpha=0.3)
    ax.set_title(f"{name}: Pareto front")
    fig.tight_layout()
    save(fig, path)
    return series
