"""Anytime performance: the incumbent against wall-clock time and against GPU-hours."""

from __future__ import annotations

from pathlib import Path

from slurmhpo.plots.data import StudyData
from slurmhpo.plots.figure import pyplot, save
from slurmhpo.plots.series import IncumbentSeries, gpu_hours_until, incumbent, time_unit


def plot_anytime(data: StudyData, path: Path) -> IncumbentSeries:
    """Two panels of the incumbent as a step line (x: time, GPU-hours); returns it."""
    series = incumbent(data)
    plt = pyplot()
    fig, (by_time, by_gpu) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    end_s = max([data.now, *series.seconds])
    divisor, unit = time_unit(end_s)
    times = [s / divisor for s in series.seconds]
    total_gpu = max([*series.gpu_hours, _total_gpu_hours(data)])
    for ax, xs, end, label in (
        (by_time, times, end_s / divisor, f"wall-clock since the first job ({unit})"),
        (by_gpu, series.gpu_hours, total_gpu, "GPU-hours spent"),
    ):
        if xs:  # extend the last level to the end of the study
            ax.step([*xs, end], [*series.values, series.values[-1]], where="post", lw=1.5)
            ax.plot(xs, series.values, "o", ms=3)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    by_gpu.locator_params(axis="x", nbins=5)  # tiny GPU-hour ticks are long labels
    by_time.set_ylabel(f"best {data.spec.objective.metric} ({data.mode})")
    if not series.values:
        note = "no finite observation yet"
        by_time.text(0.5, 0.5, note, ha="center", transform=by_time.transAxes)
    fig.suptitle(f"{data.name}: incumbent")
    fig.tight_layout()
    save(fig, path)
    return series


def _total_gpu_hours(data: StudyData) -> float:
    return gpu_hours_until(data.jobs, data.now, data.spec.slurm.gpus_per_task, data.now)
