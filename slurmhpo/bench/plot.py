"""Incumbent against simulated time: median line and interquartile band per method, per task.

matplotlib is imported only here, lazily, with the non-interactive Agg backend, so benchmarks
run headless and importing :mod:`slurmhpo.bench` stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from slurmhpo.bench.harness import RunResult
from slurmhpo.bench.report import sign, trace
from slurmhpo.errors import SlurmhpoError

GRID_POINTS = 200


def plot_runs(runs: Sequence[RunResult], final_only: dict[str, bool], path: Path) -> None:
    """Write a PNG with one panel per task (x: t / B, y: incumbent)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SlurmhpoError("--plot needs matplotlib: pip install matplotlib") from exc
    tasks = list(dict.fromkeys(r.task for r in runs))
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        _panel(ax, [r for r in runs if r.task == task], final_only)
        ax.set_title(task, fontsize=9)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    ncol = min(len(labels), 3 * cols)
    legend_rows = math.ceil(len(labels) / max(ncol, 1))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8)
    fig.tight_layout(rect=(0, 0.06 * legend_rows / rows, 1, 1))
    fig.savefig(path, dpi=60)
    plt.close(fig)


def _panel(ax: object, runs: Sequence[RunResult], final_only: dict[str, bool]) -> None:
    budget, mode = runs[0].budget, runs[0].mode
    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    curves: dict[str, np.ndarray] = {}
    for method in dict.fromkeys(r.method for r in runs):
        traces = [trace(r, final_only.get(method, False)) for r in runs if r.method == method]
        scores = np.stack([tr.at(grid * budget) for tr in traces])
        curves[method] = sign(mode) * scores
    finite = np.concatenate([c[np.isfinite(c)] for c in curves.values()])
    for method, values in curves.items():
        with np.errstate(invalid="ignore"):
            q = np.percentile(values, [25, 50, 75], axis=0)
        (line,) = ax.plot(grid, q[1], label=method, lw=1.2)  # type: ignore[attr-defined]
        ax.fill_between(grid, q[0], q[2], color=line.get_color(), alpha=0.15, lw=0)  # type: ignore[attr-defined]
    if finite.size:  # zoom on the interesting part: from the median at B/10 to the best seen
        low = np.percentile(finite, 20) if mode == "max" else finite.min()
        high = finite.max() if mode == "max" else np.percentile(finite, 80)
        pad = 0.05 * (high - low or 1.0)
        ax.set_ylim(low - pad, high + pad)  # type: ignore[attr-defined]
    ax.set_xlabel("simulated time / B", fontsize=8)  # type: ignore[attr-defined]
    ax.tick_params(labelsize=7)  # type: ignore[attr-defined]
