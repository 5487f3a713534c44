"""Which resource levels to show for a study: its rungs, or a few evenly spread levels.

``slurmhpo status`` (rung occupancy) and ``slurmhpo plot`` (rung lines, occupancy over time)
show the same levels, so the rule lives here, next to the schedulers that define the rungs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from slurmhpo.scheduling.factory import scheduler_rung_levels

MAX_EPOCH_LEVELS = 10
LevelKind = Literal["rungs", "epochs"]


def study_levels(
    scheduler: Mapping[str, Any], r_min: int, r_max: int
) -> tuple[LevelKind, list[int]]:
    """("rungs", the scheduler's rung levels) for rung schedulers (its ``rung_levels``
    placement included); else ("epochs", every level, or 10 spread evenly from r_min to r_max).
    """
    rungs = scheduler_rung_levels(scheduler, r_min, r_max)
    if rungs:
        return "rungs", rungs
    span = r_max - r_min
    if span + 1 <= MAX_EPOCH_LEVELS:
        return "epochs", list(range(r_min, r_max + 1))
    steps = MAX_EPOCH_LEVELS - 1
    return "epochs", sorted({r_min + round(span * k / steps) for k in range(steps + 1)})
