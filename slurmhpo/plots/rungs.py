"""Rung occupancy over time: how many trials had reached each rung level, as step lines."""

from __future__ import annotations

from pathlib import Path

from slurmhpo.plots.data import StudyData
from slurmhpo.plots.figure import pyplot, save
from slurmhpo.plots.series import RungOccupancy, rung_occupancy, time_unit


def plot_rungs(data: StudyData, path: Path) -> RungOccupancy:
    """One step line per level (x: time since the first job); returns the occupancy."""
    series = rung_occupancy(data)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    divisor, unit = time_unit(series.end)
    end = series.end / divisor
    for level in series.levels:
        times = [t / divisor for t in series.reached_at[level]]
        counts = list(range(1, len(times) + 1))
        ax.step(
            [0.0, *times, end],
            [0, *counts, len(times)],
            where="post",
            lw=1.5,
            label=f"{data.spec.resource.name} {level} ({len(times)})",
        )
    ax.set_xlabel(f"wall-clock since the first job ({unit})")
    ax.set_ylabel("trials that reached the level")
    what = "rung levels" if series.kind == "rungs" else "resource levels (no rungs)"
    ax.set_title(f"{data.name}: occupancy of {what}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save(fig, path)
    return series
