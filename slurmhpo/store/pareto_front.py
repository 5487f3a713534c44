"""The Pareto front of a study with several objectives: what ``slurmhpo best``, the status
document and the Pareto plot show.

Which results compete: as for ``best_trial`` (:mod:`slurmhpo.store.queries`), trials are
compared at the highest resource they reached, and values at different budgets are not
comparable, so the candidates are the trials that reached the study's furthest resource so far
(r_max once any trial completed). Among them, a trial whose result breaks an outcome
constraint, or lacks a finite value for some objective, is left out; the front is the rest's
non-dominated set (:func:`slurmhpo.pareto.pareto_mask`), in trial-number order.

Values: the first objective is the observation's ``value``; the others come from the metrics
the line reported (stored with NaN/inf as strings, which are not finite here either).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from slurmhpo.constraints import feasible
from slurmhpo.pareto import pareto_mask, to_keys
from slurmhpo.store.models import Observation, Study, Trial, decode_value
from slurmhpo.store.queries import study_constraints


@dataclass(frozen=True)
class FrontMember:
    """A trial on (or a candidate for) the front: its objectives at ``resource``."""

    trial: Trial
    resource: int
    values: tuple[float | None, ...]


def study_objectives(study: Study) -> list[tuple[str, str]]:
    """(metric, mode) of every objective of a stored study (validated at registration)."""
    objective = study.spec.get("objective")
    if isinstance(objective, list):
        return [(str(o["metric"]), str(o["mode"])) for o in objective]
    return [(study.metric, study.mode)]


def is_multi_objective(study: Study) -> bool:
    return len(study_objectives(study)) > 1


def front_candidates(session: Session, study: Study) -> list[FrontMember]:
    """Feasible trials at the furthest resource reached so far, by number (see above)."""
    furthest = session.scalar(
        select(func.max(Trial.reached_resource)).where(Trial.study_id == study.id)
    )
    if furthest is None:
        return []
    rows = session.execute(
        select(Trial, Observation.value, Observation.value_kind, Observation.metrics)
        .join(Observation, Observation.trial_id == Trial.id)
        .where(
            Trial.study_id == study.id,
            Trial.reached_resource == furthest,
            Observation.resource == furthest,
        )
        .order_by(Trial.number)
    )
    objectives = study_objectives(study)
    constraints = study_constraints(study)
    out = []
    for trial, value, kind, metrics in rows:
        if constraints and not feasible(constraints, metrics or {}):
            continue
        first = decode_value(value, kind)
        rest = tuple(_number((metrics or {}).get(metric)) for metric, _ in objectives[1:])
        out.append(FrontMember(trial, furthest, (first, *rest)))
    return out


def pareto_front(session: Session, study: Study) -> list[FrontMember]:
    """The non-dominated trials among :func:`front_candidates` (empty: nothing to compare)."""
    candidates = front_candidates(session, study)
    if not candidates:
        return []
    modes = [mode for _, mode in study_objectives(study)]
    keys = to_keys([c.values for c in candidates], modes)
    return [c for c, on in zip(candidates, pareto_mask(keys), strict=True) if on]


def named_values(study: Study, member: FrontMember) -> Mapping[str, Any]:
    """``{metric: value}`` of a member, in objective order."""
    names = [metric for metric, _ in study_objectives(study)]
    return dict(zip(names, member.values, strict=True))


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None
