"""Pareto arithmetic for several objectives: dominance, fronts, tie-breaks, 2-D hypervolume.

Pure numpy over plain arrays, so the scheduler's rungs (MO-ASHA), ``slurmhpo best``, the status
document, the plots and the benchmark all share one definition. Every function takes *keys*:
an ``(n, m)`` float array where smaller is better in every column (:func:`to_keys` turns
reported values and their modes into keys). A row with a missing or non-finite objective
(a failed or infeasible result) is not a point of the objective space: callers rank such rows
after every finite one, as single-objective ranking puts NaN last.

Row ``i`` *dominates* row ``j`` when it is no worse in every objective and better in one. The
fronts are Deb et al.'s non-dominated sorting (NSGA-II, IEEE TEVC 2002): front 0 is the Pareto
front, front 1 the front of what is left, and so on. Within a front two tie-breaks are offered,
the two Schmucker et al. compare for MO-ASHA ("Multi-objective asynchronous successive
halving", 2021):

* ``"nsga2"``: larger crowding distance first (NSGA-II; the two ends of a front have infinite
  distance), so a rung keeps a spread of trade-offs rather than a cluster;
* ``"epsnet"``: a greedy epsilon-net (Salinas et al.): start with the point best in the first
  objective, then repeatedly take the point farthest (Euclidean, in objectives scaled to the
  front's range) from those taken.

Remaining ties (equal distance) go to the lower row index, so callers that order rows by trial
id get ranks that never depend on the order results arrived in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

TieBreak = Literal["nsga2", "epsnet"]
TIE_BREAKS: tuple[TieBreak, ...] = ("nsga2", "epsnet")


def to_keys(values: Sequence[Sequence[float | None]], modes: Sequence[str]) -> np.ndarray:
    """``(n, m)`` keys, smaller better: ``max`` columns negated, None/NaN/inf -> +inf."""
    out = np.full((len(values), len(modes)), math.inf)
    for i, row in enumerate(values):
        for k, (value, mode) in enumerate(zip(row, modes, strict=True)):
            if value is not None and math.isfinite(value):
                out[i, k] = value if mode == "min" else -value
    return out


def finite_rows(keys: np.ndarray) -> np.ndarray:
    """Boolean mask of rows whose every objective is finite (the rankable ones)."""
    return np.all(np.isfinite(keys), axis=1)


def dominance(keys: np.ndarray) -> np.ndarray:
    """``d[i, j]`` is True iff row ``i`` dominates row ``j`` (O(n^2 m) memory and time)."""
    no_worse = np.all(keys[:, None, :] <= keys[None, :, :], axis=2)
    better = np.any(keys[:, None, :] < keys[None, :, :], axis=2)
    return no_worse & better


def front_ranks(keys: np.ndarray) -> np.ndarray:
    """Front index of every row (0 = non-dominated), by peeling fronts off the dominance matrix."""
    n = keys.shape[0]
    dom = dominance(keys)
    dominated_by = dom.sum(axis=0)  # how many rows dominate each row
    ranks = np.full(n, -1, dtype=np.int64)
    front = np.flatnonzero(dominated_by == 0)
    level = 0
    while front.size:
        ranks[front] = level
        dominated_by = dominated_by - dom[front].sum(axis=0)
        dominated_by[ranks >= 0] = -1  # placed rows never come back
        front = np.flatnonzero(dominated_by == 0)
        level += 1
    return ranks


def pareto_mask(keys: np.ndarray) -> np.ndarray:
    """True for the rows of the Pareto front among the finite rows (non-finite rows: False)."""
    mask = np.zeros(keys.shape[0], dtype=bool)
    ok = np.flatnonzero(finite_rows(keys))
    if ok.size:
        mask[ok[front_ranks(keys[ok]) == 0]] = True
    return mask


def crowding_distance(keys: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row of one front (the ends of each objective: inf)."""
    n, m = keys.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, math.inf)
    for k in range(m):
        order = np.argsort(keys[:, k], kind="stable")
        column = keys[order, k]
        span = column[-1] - column[0]
        distance[order[0]] = distance[order[-1]] = math.inf
        if span > 0:
            distance[order[1:-1]] += (column[2:] - column[:-2]) / span
    return distance


def epsilon_net_order(keys: np.ndarray) -> np.ndarray:
    """Rows of one front in greedy farthest-point order (see the module docstring)."""
    n = keys.shape[0]
    if n <= 1:
        return np.arange(n)
    low, high = keys.min(axis=0), keys.max(axis=0)
    scaled = (keys - low) / np.where(high > low, high - low, 1.0)
    first = int(np.lexsort((np.arange(n), *scaled.T[::-1]))[0])  # best in objective 1, ...
    order = [first]
    nearest = np.linalg.norm(scaled - scaled[first], axis=1)
    nearest[first] = -1.0
    for _ in range(n - 1):
        pick = int(np.argmax(nearest))  # argmax takes the first (lowest index) of equals
        order.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(scaled - scaled[pick], axis=1))
        nearest[order] = -1.0
    return np.array(order, dtype=np.int64)


def pareto_order(keys: np.ndarray, tie_break: TieBreak = "nsga2") -> np.ndarray:
    """A permutation of the rows, best first: finite rows by front, then by ``tie_break``,
    then by index; rows with a non-finite objective last, by index."""
    finite = np.flatnonzero(finite_rows(keys))
    bad = np.flatnonzero(~finite_rows(keys))
    if finite.size == 0:
        return bad
    sub = keys[finite]
    ranks = front_ranks(sub)
    parts = []
    for level in range(int(ranks.max()) + 1):
        members = np.flatnonzero(ranks == level)
        if tie_break == "epsnet":
            inner = members[epsilon_net_order(sub[members])]
        else:
            crowd = crowding_distance(sub[members])
            inner = members[np.lexsort((members, -crowd))]
        parts.append(finite[inner])
    return np.concatenate([*parts, bad])


def hypervolume_2d(keys: np.ndarray, reference: Sequence[float]) -> float:
    """Area dominated by the rows of ``keys`` (two objectives, minimised) and bounded by
    ``reference``: a sweep over the front sorted by the first objective. Rows that are not
    finite or not strictly better than the reference in both objectives add nothing."""
    ref = np.asarray(reference, dtype=float)
    if keys.ndim != 2 or keys.shape[1] != 2 or ref.shape != (2,):
        raise ValueError("hypervolume_2d needs (n, 2) keys and a reference of 2 numbers")
    points = keys[finite_rows(keys) & np.all(keys < ref, axis=1)]
    if points.size == 0:
        return 0.0
    points = points[np.lexsort((points[:, 1], points[:, 0]))]
    area = 0.0
    best_second = ref[1]
    for first, second in points:
        if second < best_second:  # on the front: adds the strip up to the previous best
            area += (ref[0] - first) * (best_second - second)
            best_second = second
    return float(area)
