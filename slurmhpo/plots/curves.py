"""Learning curves: objective against resource per trial, coloured by the scheduler's doing."""

from __future__ import annotations

import math
from pathlib import Path

from slurmhpo.plots.data import StudyData
from slurmhpo.plots.figure import pyplot, save
from slurmhpo.plots.series import CATEGORIES, CurveSeries, curves

COLOURS = {
    "completed": "tab:green",
    "promoted": "tab:blue",
    "paused": "tab:orange",
    "stopped": "tab:gray",
    "failed": "tab:red",
    "running": "tab:purple",
}


def plot_curves(data: StudyData, path: Path) -> CurveSeries:
    """One line per trial, rung levels as dotted vertical lines; returns what was drawn.

    Non-finite values (diverged runs) are left out of the lines: matplotlib cannot place
    them, and the trial's colour already says how it ended.
    """
    series = curves(data)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for level in series.rung_levels:
        ax.axvline(level, color="black", ls=":", lw=0.8, alpha=0.6)
    seen: set[str] = set()
    for curve in series.curves:
        points = zip(curve.resources, curve.values, strict=True)
        pairs = [(r, v) for r, v in points if math.isfinite(v)]
        if not pairs:
            continue
        label = None if curve.category in seen else curve.category
        seen.add(curve.category)
        ax.plot(
            [r for r, _ in pairs],
            [v for _, v in pairs],
            "-o",
            ms=2.5,
            lw=1.0,
            alpha=0.8,
            color=COLOURS[curve.category],
            label=label,
        )
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: CATEGORIES.index(labels[i]))
    if order:
        ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8)
    resource = data.spec.resource
    ax.set_xlabel(resource.name + (" (dotted: rung levels)" if series.rung_levels else ""))
    if resource.max / max(resource.min, 1) >= 20:
        ax.set_xscale("log")
    ax.set_ylabel(f"{data.spec.objective.metric} ({data.mode})")
    ax.set_title(f"{data.name}: learning curves ({len(series.curves)} trials)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save(fig, path)
    return series
