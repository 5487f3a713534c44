"""Outcome constraints: bounds on reported metrics that a result must meet to count.

A study file may say ``constraints = ["memory_gb <= 40", "latency_ms < 20"]``. Each entry is
``<metric> <op> <number>`` with ``op`` one of ``<=``, ``<``, ``>=``, ``>``; the metric is any
key the trial reports on its metric lines (:mod:`slurmhpo.trial`), the objective included.

A result (one metric line at one resource) is *feasible* when every constraint holds on that
line's own metrics. A constraint whose metric the line lacks, or reports as NaN/inf or as a
non-number, does not hold: the result is infeasible. Why not refuse, or assume it holds? The
controller cannot refuse a line a trial already wrote, and assuming a bound is met without
the number would let a trial that forgot to report its memory become the incumbent; so a
trial must report its constraint metrics on every line, as it reports the objective.

Infeasible results rank worst wherever results are ranked (rungs, the median rule, the KDE
model's good set, ``slurmhpo best``); see docs/study-file.md, "Constraints".

Pure functions over plain values: the study file, the controller, the decision history's
replay and the store's incumbent query all use this one definition.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slurmhpo.errors import ConfigError
from slurmhpo.fields import describe

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}
RESERVED = frozenset({"time"})  # a metric line's timestamp, never a metric
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATTERN = re.compile(rf"^\s*([A-Za-z_][\w.\-/]*)\s*(<=|>=|<|>)\s*({_NUMBER})\s*$")
_FIX = 'write "<metric> <= <number>" (or >=, <, >), e.g. "memory_gb <= 40"'


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``: e.g. ``Constraint("memory_gb", "<=", 40.0)``."""

    metric: str
    op: str
    bound: float

    def text(self) -> str:
        """The normalised study-file form, e.g. ``"memory_gb <= 40.0"``."""
        return f"{self.metric} {self.op} {self.bound!r}"

    def holds(self, metrics: Mapping[str, Any]) -> bool:
        """Whether ``metrics`` (one metric line) has a finite number for the metric that
        meets the bound; a missing, non-numeric or non-finite value does not."""
        value = metrics.get(self.metric)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return math.isfinite(value) and OPERATORS[self.op](float(value), self.bound)


def feasible(constraints: Sequence[Constraint], metrics: Mapping[str, Any]) -> bool:
    """Whether every constraint holds on one metric line (True when there are none)."""
    return all(c.holds(metrics) for c in constraints)


def missing_metrics(constraints: Sequence[Constraint], metrics: Mapping[str, Any]) -> list[str]:
    """The constrained metrics ``metrics`` has no usable number for (for a warning)."""
    names = []
    for c in constraints:
        value = metrics.get(c.metric)
        usable = isinstance(value, int | float) and not isinstance(value, bool)
        if not (usable and math.isfinite(value)) and c.metric not in names:
            names.append(c.metric)
    return names


def parse_constraints(
    values: Sequence[Any], *, resource_name: str, field: str = "constraints"
) -> tuple[Constraint, ...]:
    """Check the study file's ``constraints`` list; ConfigError naming ``constraints[i]``."""
    parsed: list[Constraint] = []
    for i, raw in enumerate(values):
        where = f"{field}[{i}]"
        if not isinstance(raw, str):
            raise ConfigError(where, f"must be a string, got {describe(raw)}", _FIX)
        match = _PATTERN.match(raw)
        if match is None:
            raise ConfigError(where, f"{raw!r} is not a constraint", _FIX)
        metric, op, number = match.groups()
        if metric == resource_name or metric in RESERVED:
            what = "the resource" if metric == resource_name else "the line's timestamp"
            raise ConfigError(
                where, f"{metric!r} is {what}, not a metric", "constrain a reported metric"
            )
        bound = float(number)
        if not math.isfinite(bound):
            raise ConfigError(where, f"the bound {number} is not a finite number", _FIX)
        constraint = Constraint(metric, op, bound)
        if constraint in parsed:
            raise ConfigError(where, f"{raw!r} repeats an earlier constraint", "drop one")
        parsed.append(constraint)
    return tuple(parsed)
