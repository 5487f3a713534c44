"""Turning what the load benchmark saw into latencies and summaries.

Write-to-decision latency of one metric line = the instant its decision was committed minus
the line's own ``time`` (stored as the observation's ``reported_at``). The commit instant comes
from the store probe's commit hook when it saw the decision (exact), else from the end of the
controller cycle after which the decision was first in the database (an upper bound: the
cycle had committed it by then). :func:`write_to_decision` says how many of each it used.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean, p50, p95, p99 and max of ``values`` (None figures when empty)."""
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    array = np.asarray(values, dtype=float)
    p50, p95, p99 = np.percentile(array, [50, 95, 99])
    return {
        "n": len(values),
        "mean": float(array.mean()),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(array.max()),
    }


@dataclass(frozen=True)
class CycleEnd:
    """After the cycle ending at ``at`` (Unix time), decisions up to ``last_seq`` existed."""

    last_seq: int
    at: float


@dataclass(frozen=True)
class Latencies:
    seconds: list[float]
    from_commit_hook: int
    from_cycle_end: int
    results_without_line: int  # result decisions whose observation has no ``time``


def write_to_decision(
    reported: Mapping[tuple[int, int], datetime | None],
    decisions: Iterable[tuple[int, Mapping[str, Any]]],
    commits: Mapping[int, float],
    cycle_ends: Sequence[CycleEnd],
) -> Latencies:
    """Latency of every result decision: ``reported`` maps (trial number, resource) to the
    line's time, ``decisions`` are (seq, payload), ``commits`` seq -> commit instant."""
    seqs = [end.last_seq for end in cycle_ends]
    out: list[float] = []
    hooked = bounded = missing = 0
    for seq, payload in decisions:
        if payload.get("event") != "result":
            continue
        when = reported.get((int(payload["trial_id"]), int(payload["resource"])))
        if when is None:
            missing += 1
            continue
        committed = commits.get(seq)
        if committed is None:
            index = bisect.bisect_left(seqs, seq)
            if index == len(seqs):
                missing += 1
                continue
            committed = cycle_ends[index].at
            bounded += 1
        else:
            hooked += 1
        out.append(committed - when.timestamp())
    return Latencies(out, hooked, bounded, missing)


def per(total: float, count: int) -> float | None:
    return total / count if count else None
