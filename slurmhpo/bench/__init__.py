"""Learning-curve benchmark tasks replayed by the simulated backend and ``slurmhpo bench``.

Importing this package is cheap: onnxruntime and yahpo_gym are imported only when an lcbench
task is built or YAHPO's reference configurations are sampled.
"""

from __future__ import annotations

from slurmhpo.bench.base import Curve, CurveTask
from slurmhpo.bench.budget import Budget, budget_from_configs, reference_budget
from slurmhpo.bench.lcbench import LCBenchTask
from slurmhpo.bench.registry import get_task, list_tasks
from slurmhpo.bench.synthetic import SyntheticTask

__all__ = [
    "Budget",
    "Curve",
    "CurveTask",
    "LCBenchTask",
    "SyntheticTask",
    "budget_from_configs",
    "get_task",
    "list_tasks",
    "reference_budget",
]
