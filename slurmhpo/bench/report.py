"""From simulated runs to PROTOCOL.md's numbers: incumbents, speed-ups, work, tables, JSON.

Definitions (benchmarks/PROTOCOL.md):

* incumbent(t): best objective reported at any epoch up to simulated time t (inclusive). For a
  ``final_only`` method (random search) only reports at r_max count, as for PEERS.md's
  random_full, which reports once, at r_max. A method judged by an outcome constraint
  (``Method.time_cap``) counts only its feasible reports.
* full-fidelity incumbent(t): best objective among reports at r_max up to t.
* medians and interquartile ranges (25th-75th percentile) over seeds; a seed with no report yet
  counts as the worst possible value.
* speed-up vs random search: let v be random search's median incumbent at B. T(m) is the first
  time the median-over-seeds incumbent curve of method m reaches v (>= when maximising). The
  speed-up is T(random) / T(m); ``None`` (printed "<1") when m's median curve never reaches v
  within B. Median curves are step functions, evaluated exactly at every report time.

Internally values are "scores" (the objective, negated when minimising), so larger is better.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from slurmhpo.bench.harness import RunResult

FRACTIONS = (0.25, 0.5, 1.0)


@dataclass(frozen=True)
class Trace:
    """A run's incumbent as a step function: ``best[i]`` holds from ``times[i]`` on (scores)."""

    times: np.ndarray
    best: np.ndarray

    def at(self, t: float | np.ndarray) -> np.ndarray:
        """Scores at time(s) ``t``; -inf before the first report."""
        if not self.times.size:
            return np.full(np.shape(t), -np.inf)
        idx = np.searchsorted(self.times, np.asarray(t, dtype=float), side="right") - 1
        out = np.where(idx >= 0, self.best[np.maximum(idx, 0)], -np.inf)
        return np.asarray(out, dtype=float)


def sign(mode: str) -> float:
    return 1.0 if mode == "max" else -1.0


def trace(run: RunResult, final_only: bool = False) -> Trace:
    """The incumbent trace of ``run`` (only r_max reports when ``final_only``)."""
    reports = [r for r in run.reports if not final_only or r.resource == run.r_max]
    s = sign(run.mode)
    scores = np.array([s * r.value for r in reports], dtype=float)
    ok = np.array([r.feasible for r in reports], dtype=bool)
    scores = np.where(np.isnan(scores) | ~ok, -np.inf, scores)
    times = np.array([r.time for r in reports], dtype=float)
    best = np.maximum.accumulate(scores) if len(scores) else scores
    return Trace(times, best)


def _value(score: float, mode: str) -> float | None:
    """A score back on the objective's scale; None for "no report"."""
    return None if not math.isfinite(score) else sign(mode) * score


def run_summary(run: RunResult, final_only: bool) -> dict[str, Any]:
    """One run's row of the JSON: incumbents at B/4, B/2, B, full fidelity at B, work done."""
    inc = trace(run, final_only)
    full = trace(run, final_only=True)
    return {
        "task": run.task,
        "method": run.method,
        "seed": run.seed,
        "budget_s": run.budget,
        "incumbent": {str(f): _value(float(inc.at(f * run.budget)), run.mode) for f in FRACTIONS},
        "full_fidelity_incumbent_at_B": _value(float(full.at(run.budget)), run.mode),
        "trials": run.trials,
        "infeasible_trials": run.infeasible_trials,
        "constraints": list(run.constraints),
        "epochs": run.epochs,
        "utilisation": run.utilisation,
        "queue_wait": run.queue_wait,
        "queued_share": run.queued_share,
        "continue_in_place": run.continue_in_place,
        "workers_used": run.slots_used,
        "peak_running": run.peak_running,
        "sim_runtime_s": run.runtime_s,
        "trace": [
            [float(t), _value(float(b), run.mode)] for t, b in zip(inc.times, inc.best, strict=True)
        ],
    }


def median_curve(traces: Sequence[Trace], grid: np.ndarray) -> np.ndarray:
    """Median over traces of the score at each grid time (-inf where no report decides it)."""
    with np.errstate(invalid="ignore"):
        curve = np.median(np.stack([tr.at(grid) for tr in traces]), axis=0)
    return np.where(np.isnan(curve), -np.inf, curve)


def time_to_reach(traces: Sequence[Trace], target: float, budget: float) -> float | None:
    """First time the median curve reaches ``target`` (a score) within ``budget``; else None."""
    grid = np.unique(np.concatenate([tr.times for tr in traces] + [np.array([budget])]))
    grid = grid[grid <= budget]
    curve = median_curve(traces, grid)
    hit = np.nonzero(curve >= target)[0]
    return float(grid[hit[0]]) if hit.size else None


def _quartiles(values: Iterable[float]) -> list[float | None]:
    """Median, 25th and 75th percentile; None where a no-report seed (-inf) decides it."""
    data = np.array(list(values), dtype=float)
    with np.errstate(invalid="ignore"):  # -inf - -inf in the interpolation: no value there
        q = np.percentile(data, [50, 25, 75]) if data.size else [np.nan] * 3
    return [float(x) if math.isfinite(x) else None for x in q]


def aggregate(runs: Sequence[RunResult], final_only: dict[str, bool]) -> dict[str, Any]:
    """Per task and method: median [IQR] of every number, and the speed-up vs random."""
    out: dict[str, Any] = {}
    for task in dict.fromkeys(r.task for r in runs):
        task_runs = [r for r in runs if r.task == task]
        traces = {
            m: [trace(r, final_only.get(m, False)) for r in task_runs if r.method == m]
            for m in dict.fromkeys(r.method for r in task_runs)
        }
        out[task] = {m: _method_stats(task_runs, m, traces) for m in traces}
    return out


def _method_stats(
    task_runs: Sequence[RunResult], method: str, traces: dict[str, list[Trace]]
) -> dict[str, Any]:
    runs = [r for r in task_runs if r.method == method]
    mode, budget = runs[0].mode, runs[0].budget
    s = sign(mode)
    stats: dict[str, Any] = {"seeds": len(runs), "budget_s": budget}
    for f in FRACTIONS:
        scores = [float(tr.at(f * budget)) for tr in traces[method]]
        stats[f"incumbent_{f}"] = _on_scale(_quartiles(scores), s)
    full = [float(trace(r, True).at(budget)) for r in runs]
    stats["full_fidelity_at_B"] = _on_scale(_quartiles(full), s)
    stats["speedup_vs_random"] = _speedup(traces, method, budget)
    for key, values in (
        ("trials", [r.trials for r in runs]),
        ("epochs", [r.epochs for r in runs]),
        ("utilisation", [r.utilisation for r in runs]),
        ("sim_runtime_s", [r.runtime_s for r in runs]),
    ):
        stats[key] = _quartiles(values)
    stats["workers_used_min"] = min(r.slots_used for r in runs)
    return stats


def _on_scale(quartiles: list[float | None], s: float) -> list[float | None]:
    """Quartiles of scores as objective values (for minimising, the 25th becomes the 75th)."""
    med, lo, hi = (None if q is None else s * q for q in quartiles)
    return [med, lo, hi] if s > 0 else [med, hi, lo]


def _speedup(traces: dict[str, list[Trace]], method: str, budget: float) -> dict[str, Any]:
    """Speed-up vs random (see module docstring); ``available`` False without random runs."""
    if "random" not in traces:
        return {"available": False, "value": None}
    target = float(np.median([float(tr.at(budget)) for tr in traces["random"]]))
    t_random = time_to_reach(traces["random"], target, budget)
    t_method = time_to_reach(traces[method], target, budget)
    value = None if t_method is None or t_random is None else t_random / max(t_method, 1e-12)
    return {"available": True, "value": value, "t_random": t_random, "t_method": t_method}


def speedup_text(speedup: dict[str, Any]) -> str:
    if not speedup["available"]:
        return "n/a"
    return "<1" if speedup["value"] is None else f"{speedup['value']:.1f}x"


def quartile_text(q: list[float | None], digits: int = 2) -> str:
    med, lo, hi = q
    if med is None:
        return "-"
    low = "-" if lo is None else f"{lo:.{digits}f}"
    high = "-" if hi is None else f"{hi:.{digits}f}"
    return f"{med:.{digits}f} [{low}-{high}]"


TABLE_HEADERS = ["METHOD", "INC@B/4", "INC@B/2", "INC@B", "FULL@B", "SPEEDUP", "TRIALS"]
TABLE_HEADERS += ["EPOCHS", "UTIL", "SIM S/RUN"]


def task_rows(stats: dict[str, Any]) -> list[list[str]]:
    """Rows of the per-task table (columns :data:`TABLE_HEADERS`) ``slurmhpo bench`` prints."""
    rows = []
    for method, st in stats.items():
        rows.append(
            [
                method,
                quartile_text(st["incumbent_0.25"]),
                quartile_text(st["incumbent_0.5"]),
                quartile_text(st["incumbent_1.0"]),
                quartile_text(st["full_fidelity_at_B"]),
                speedup_text(st["speedup_vs_random"]),
                f"{st['trials'][0]:.0f}",
                f"{st['epochs'][0]:.0f}",
                f"{st['utilisation'][0]:.2f}",
                f"{st['sim_runtime_s'][0]:.2f}",
            ]
        )
    return rows
