"""The study page's JSON, computed from rows already read, with no I/O of its own.

Two documents, so the page can show its tables before its charts:

**board** (``/api/studies/NAME/board``, ``schema_version`` 1): ``name``, ``metric``,
``mode``, ``params`` (the search space's names), ``trials`` (one row per trial) and
``rungs``. A trial row: ``number``, ``state``, ``fate`` (what the scheduler did to it, as
``slurmhpo plot --kind curves`` colours it: completed, promoted, paused, stopped, failed,
running), ``bracket``, ``config``, ``reached`` (highest resource observed), ``value``
(objective there), ``best`` (best finite objective at any resource, else ``value``),
``jobs``, ``resumes``. ``rungs``: ``{"kind", "levels", "brackets": [{"bracket", "levels":
[{"resource", "entries": [[trial, value, went_on], ...]}]}]}``, entries ranked best first as
the scheduler ranks a rung (finite values by mode, then NaN/inf, ties by trial number);
``went_on`` is true when the trial was observed beyond that level (promoted, or continued).

**curves** (``/api/studies/NAME/curves``, ``schema_version`` 1): ``curves`` (per fate, flat
``x``/``y``/``trial`` arrays with ``null`` between trials, ready to draw as one line trace;
non-finite values are ``null``) and ``anytime`` (the incumbent's improvements: ``seconds``
since the first job, ``gpu_hours``, ``values``, ``trials``), the series of
:mod:`slurmhpo.plots.series`, so the dashboard and the PNG plots cannot disagree.

Objective values follow :mod:`slurmhpo.views.encode` (NaN/inf as strings).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from slurmhpo.plots.data import StudyData, TrialInfo
from slurmhpo.plots.series import CATEGORIES, category, incumbent
from slurmhpo.store.board import TrialRow
from slurmhpo.study import StudySpec
from slurmhpo.views.encode import json_value
from slurmhpo.views.status import study_levels

SCHEMA_VERSION = 1


def board(
    spec: StudySpec,
    mode: str,
    trials: list[TrialRow],
    bests: dict[int, float],
    jobs: dict[int, int],
    resumes: dict[int, int],
    at_levels: list[tuple[int, int, float]],
) -> dict[str, Any]:
    """The table and rung view: trial rows, per-trial aggregates, observations at rungs."""
    rows = []
    for t in trials:
        info = TrialInfo(t.number, t.state, resumes.get(t.number, 0), jobs.get(t.number, 0))
        best = bests.get(t.number, t.value)
        rows.append(
            {
                "number": t.number,
                "state": t.state,
                "fate": category(info),
                "bracket": t.bracket,
                "config": t.config,
                "reached": t.reached_resource,
                "value": json_value(t.value),
                "best": json_value(best),
                "jobs": info.jobs,
                "resumes": info.resumes,
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "name": spec.name,
        "metric": spec.objective.metric,
        "mode": mode,
        "params": list(spec.space.names),
        "trials": rows,
        "rungs": _rungs(spec, mode, trials, at_levels),
    }


def curves_document(data: StudyData) -> dict[str, Any]:
    best = incumbent(data)
    return {
        "schema_version": SCHEMA_VERSION,
        "name": data.name,
        "curves": _curve_traces(data),
        "anytime": {
            "seconds": best.seconds,
            "gpu_hours": best.gpu_hours,
            "values": best.values,
            "trials": best.trials,
        },
    }


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


def _rungs(
    spec: StudySpec, mode: str, trials: list[TrialRow], at_levels: list[tuple[int, int, float]]
) -> dict[str, Any]:
    kind, levels = study_levels(spec)
    reached = {t.number: t.reached_resource or 0 for t in trials}
    bracket_of = {t.number: t.bracket for t in trials}
    at_level: dict[tuple[int | None, int], list[tuple[int, float]]] = defaultdict(list)
    for number, resource, value in at_levels:
        bracket = bracket_of.get(number) if kind == "rungs" else None
        at_level[(bracket, resource)].append((number, value))
    brackets = sorted({b for b, _ in at_level}, key=lambda b: -1 if b is None else b)
    key = _rank_key(mode)
    out = []
    for bracket in brackets or [0 if kind == "rungs" else None]:
        own = levels[bracket:] if kind == "rungs" and bracket is not None else levels
        rows = []
        for level in own:
            ranked = sorted(at_level.get((bracket, level), []), key=key)
            entries = [[n, json_value(v), reached[n] > level] for n, v in ranked]
            rows.append({"resource": level, "entries": entries})
        out.append({"bracket": bracket, "levels": rows})
    return {"kind": kind, "levels": levels, "brackets": out}
