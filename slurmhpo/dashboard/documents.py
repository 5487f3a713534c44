"""The study page's JSON ("board"), computed from one read of the study with no I/O of its own.

It reuses :func:`slurmhpo.plots.data.load_study_data` and the pure series of
:mod:`slurmhpo.plots.series` (the same incumbent, curve categories and rung levels as
``slurmhpo plot``), so the dashboard and the PNG plots cannot disagree. Objective values
follow :mod:`slurmhpo.views.encode` (NaN/inf as strings).

Document (``schema_version`` 1): ``name``, ``metric``, ``mode``, ``params`` (the search
space's names), ``trials`` (one row per trial, below), ``curves`` (per category, flat
``x``/``y``/``trial`` arrays with ``null`` between trials, ready to draw as one line trace),
``anytime`` (the incumbent's improvements: ``seconds``, ``gpu_hours``, ``values``,
``trials``) and ``rungs`` (below).

A trial row: ``number``, ``state``, ``fate`` (the curve category: completed, promoted,
paused, stopped, failed, running), ``bracket``, ``config``, ``reached`` (highest resource
observed), ``value`` (objective there), ``best`` (best finite objective at any resource, else
the value), ``jobs``, ``resumes``.

``rungs``: ``{"kind", "levels", "brackets": [{"bracket", "levels": [{"resource", "entries":
[[trial, value, went_on], ...]}]}]}``, entries ranked best first as the scheduler ranks a
rung (finite values by mode, then NaN/inf, ties by trial number); ``went_on`` is true when
the trial was observed beyond that level (promoted, or continued past the rung).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from slurmhpo.plots.data import ObservationPoint, StudyData
from slurmhpo.plots.series import CATEGORIES, category, incumbent, study_levels
from slurmhpo.views.encode import json_value

SCHEMA_VERSION = 1


def board(data: StudyData) -> dict[str, Any]:
    """The study page's document for ``data``."""
    by_trial: dict[int, list[ObservationPoint]] = defaultdict(list)
    for point in data.observations:
        by_trial[point.trial].append(point)
    best = incumbent(data)
    return {
        "schema_version": SCHEMA_VERSION,
        "name": data.name,
        "metric": data.spec.objective.metric,
        "mode": data.mode,
        "params": list(data.spec.space.names),
        "trials": _trial_rows(data, by_trial),
        "curves": _curve_traces(data),
        "anytime": {
            "seconds": best.seconds,
            "gpu_hours": best.gpu_hours,
            "values": best.values,
            "trials": best.trials,
        },
        "rungs": _rungs(data, by_trial),
    }


def _best_of(points: list[ObservationPoint], mode: str) -> float | None:
    finite = [p.value for p in points if math.isfinite(p.value)]
    if finite:
        return min(finite) if mode == "min" else max(finite)
    return points[-1].value if points else None


def _trial_rows(data: StudyData, by_trial: dict[int, list[ObservationPoint]]) -> list[dict]:
    rows = []
    for number, info in sorted(data.trials.items()):
        points = by_trial.get(number, [])
        at_reached = [p.value for p in points if p.resource == info.reached]
        rows.append(
            {
                "number": number,
                "state": info.state,
                "fate": category(info),
                "bracket": info.bracket,
                "config": info.config,
                "reached": info.reached,
                "value": json_value(at_reached[0]) if at_reached else None,
                "best": json_value(_best_of(points, data.mode)),
                "jobs": info.jobs,
                "resumes": info.resumes,
            }
        )
    return rows


def _curve_traces(data: StudyData) -> list[dict[str, Any]]:
    """One flat line trace per category: thousands of trials draw as a handful of traces.

    The observations come sorted by trial, then resource (see ``load_study_data``), so each
    trial's curve is one run of them; its category is the plots' :func:`category`.
    """
    traces: dict[str, dict[str, list[Any]]] = {
        name: {"x": [], "y": [], "trial": []} for name in CATEGORIES
    }
    previous = None
    trace = traces[CATEGORIES[0]]
    for point in data.observations:
        if point.trial != previous:
            trace = traces[category(data.trials[point.trial])]
            if trace["x"]:
                trace["x"].append(None)
                trace["y"].append(None)
                trace["trial"].append(None)
            previous = point.trial
        trace["x"].append(point.resource)
        trace["y"].append(point.value if math.isfinite(point.value) else None)
        trace["trial"].append(point.trial)
    return [{"category": name, **trace} for name, trace in traces.items() if trace["x"]]


def _rank_key(mode: str):
    sign = 1.0 if mode == "min" else -1.0

    def key(entry: tuple[int, float]) -> tuple[int, float, int]:
        number, value = entry
        finite = math.isfinite(value)
        return (0 if finite else 1, sign * value if finite else 0.0, number)

    return key


def _rungs(data: StudyData, by_trial: dict[int, list[ObservationPoint]]) -> dict[str, Any]:
    kind, levels = study_levels(data)
    highest = {n: max(p.resource for p in pts) for n, pts in by_trial.items() if pts}
    at_level: dict[tuple[int | None, int], list[tuple[int, float]]] = defaultdict(list)
    wanted = set(levels)
    for number, points in by_trial.items():
        bracket = data.trials[number].bracket if kind == "rungs" else None
        for point in points:
            if point.resource in wanted:
                at_level[(bracket, point.resource)].append((number, point.value))
    brackets = sorted({b for b, _ in at_level}, key=lambda b: -1 if b is None else b)
    key = _rank_key(data.mode)
    out = []
    for bracket in brackets or [0 if kind == "rungs" else None]:
        own = levels[bracket:] if kind == "rungs" and bracket is not None else levels
        rows = []
        for level in own:
            ranked = sorted(at_level.get((bracket, level), []), key=key)
            entries = [[n, json_value(v), highest[n] > level] for n, v in ranked]
            rows.append({"resource": level, "entries": entries})
        out.append({"bracket": bracket, "levels": rows})
    return {"kind": kind, "levels": levels, "brackets": out}
