"""Warm start: gather the results of earlier studies that a new study's searcher learns from.

``[searcher] warm_start = ["other-study", ...]`` names studies in the same database. When the
study's controller first opens it (its history is still empty), :func:`gather_warm_start`
reads their observations, checks each study can inform this one, and returns one
:class:`~slurmhpo.scheduling.history.WarmStarted` event, which the controller records as the
study's first decision and then replays like any other. Replay never reads the other studies
again: they may grow, be deleted, or be re-created under the same name, and a restarted
controller must feed exactly what the first one fed.

What "can inform" means (each refusal is a ConfigError naming ``searcher.warm_start[i]``, the
other study, and what differs):

* the same search space, parameter by parameter (type, bounds, scale, choices, conditions):
  the model's densities live on the space's unit cube, so a parameter with other bounds or
  another scale would put the old points in the wrong places, and one missing on either side
  leaves points with no coordinate for it;
* the same objective metric and mode: the values are ranked against this study's own;
* the same resource name: a value at epoch 9 is only comparable to this study's epoch 9. The
  ranges may differ; only results at the resource levels this study's searcher models (its
  rung levels, or every level for ``median`` and ``fifo``) are fed, so nothing lands outside
  1..r_max.

Constraints need not match: each old result is judged by THIS study's constraints on the
metrics it reported (a metric it lacks makes it infeasible, as for this study's own results).
The fed results never count against this study's budget or rungs: they reach the searcher's
model only (:meth:`~slurmhpo.scheduling.base.Scheduler.warm_start`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slurmhpo.constraints import feasible
from slurmhpo.errors import ConfigError, NotFoundError
from slurmhpo.scheduling.factory import scheduler_rung_levels
from slurmhpo.scheduling.history import WarmStarted
from slurmhpo.scheduling.types import WarmObservation
from slurmhpo.store.queries import get_study, study_observations
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def warm_start_names(spec: StudySpec) -> list[str]:
    """The studies ``spec``'s searcher is warm-started from (empty: none)."""
    return list(spec.searcher.get("warm_start", []))


def modelled_levels(spec: StudySpec) -> list[int]:
    """The resource levels the study's searcher observes: its rung levels, or every level
    from 1 to r_max for schedulers without rungs (median, fifo)."""
    r_min, r_max = spec.resource.min, spec.resource.max
    levels = scheduler_rung_levels(spec.scheduler, r_min, r_max)
    return levels or list(range(1, r_max + 1))


def gather_warm_start(session: Session, spec: StudySpec) -> WarmStarted:
    """The warm-start event of ``spec``: every fit observation of the named studies, in
    study order, then trial number and resource (a deterministic order for a given store)."""
    levels = set(modelled_levels(spec))
    observations: list[WarmObservation] = []
    sources: list[dict[str, Any]] = []
    for i, name in enumerate(warm_start_names(spec)):
        where = f"searcher.warm_start[{i}]"
        try:
            study = get_study(session, name)
        except NotFoundError as exc:
            raise ConfigError(
                where, f"no study {name!r} in this database", "see: slurmhpo studies"
            ) from exc
        source = _readable(study.spec, name, where)
        _check_compatible(spec, source, name, where)
        fed = [
            WarmObservation(
                dict(trial.config),
                obs.resource,
                obs.objective,
                feasible(spec.constraints, obs.metrics),
            )
            for trial, obs in study_observations(session, study)
            if obs.resource in levels
        ]
        if not fed:
            raise ConfigError(
                where,
                f"study {name!r} has no result at the resource levels this study models "
                f"({', '.join(map(str, sorted(levels)))})",
                "warm-start from a study that has run on the same resource",
            )
        observations.extend(fed)
        sources.append({"study": name, "uid": study.uid, "observations": len(fed)})
    return WarmStarted(tuple(observations), tuple(sources))


def _readable(stored: dict[str, Any], name: str, where: str) -> StudySpec:
    try:
        return StudySpec.from_dict(stored)
    except ConfigError as exc:
        raise ConfigError(
            where, f"study {name!r} is stored in a form this slurmhpo cannot read ({exc})"
        ) from exc


def _check_compatible(spec: StudySpec, source: StudySpec, name: str, where: str) -> None:
    """Raise a ConfigError naming what differs between the two studies (module docstring)."""
    ours, theirs = spec.objective, source.objective
    if (ours.metric, ours.mode) != (theirs.metric, theirs.mode):
        _refuse(
            where,
            name,
            f"its objective is {theirs.metric} ({theirs.mode}), this study's "
            f"{ours.metric} ({ours.mode})",
        )
    if spec.resource.name != source.resource.name:
        _refuse(
            where,
            name,
            f"its resource is {source.resource.name!r}, this study's {spec.resource.name!r}",
        )
    problem = space_difference(spec.space.to_dict(), source.space.to_dict())
    if problem is not None:
        _refuse(where, name, problem)


def _refuse(where: str, name: str, what: str) -> None:
    raise ConfigError(
        where,
        f"study {name!r} cannot warm-start this one: {what}",
        "warm-start only from studies of the same space, objective and resource",
    )


def space_difference(here: dict[str, Any], there: dict[str, Any]) -> str | None:
    """How the other study's space (``there``) differs from this one's, first difference
    only, e.g. ``space.lr: high is 0.1 there, 1.0 here``; None when they are the same.

    Both are :meth:`SearchSpace.to_dict` forms, so defaults are filled in on both sides; a
    parameter's type is compared before its settings (an int against a float says so).
    """
    for param in here:
        if param not in there:
            return f"space.{param}: it has no parameter {param!r}"
    for param in there:
        if param not in here:
            return f"space.{param}: it has a parameter {param!r} this study lacks"
    for param, ours in here.items():
        theirs = there[param]
        for key in sorted(set(ours) | set(theirs), key=lambda k: (k != "type", k)):
            if ours.get(key) != theirs.get(key):
                return (
                    f"space.{param}: {key} is {_shown(theirs.get(key))} there, "
                    f"{_shown(ours.get(key))} here"
                )
    return None


def _shown(value: Any) -> str:
    return "not set" if value is None else repr(value)
