"""Plain values exchanged between the controller and the decision core.

Schedulers and searchers never see the controller, the store or a backend: they receive these
values and return these values. Every value here is a frozen dataclass that converts to and from
a JSON-friendly dict, so the store can keep the event history and rebuild a scheduler from it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Literal

from slurmhpo.errors import SlurmhpoError

Mode = Literal["min", "max"]


class SchedulingError(SlurmhpoError):
    """The controller broke the scheduler's contract (unknown trial, replay mismatch, ...).

    This is a bug in the caller, not bad user input: the message names what was expected.
    """


class Action(str, Enum):
    """What a running trial does after reporting a result at some resource level."""

    CONTINUE = "continue"  # keep training towards its current target
    PAUSE = "pause"  # stop at this rung, keep the checkpoint: it may be resumed later
    STOP = "stop"  # end the trial for good
    COMPLETE = "complete"  # reached its final target (r_max or the bracket's top): done, a success


@dataclass(frozen=True)
class StartTrial:
    """Start trial ``trial_id`` with ``config`` from resource 0, training up to ``target``.

    ``bracket`` is the Hyperband bracket (0 for single-bracket schedulers).
    """

    trial_id: int
    config: dict[str, Any]
    target: int
    bracket: int = 0
    kind: Literal["start"] = field(default="start", init=False)


@dataclass(frozen=True)
class ResumeTrial:
    """Resume paused trial ``trial_id`` from its checkpoint at ``start``, train up to ``target``."""

    trial_id: int
    start: int
    target: int
    kind: Literal["resume"] = field(default="resume", init=False)


@dataclass(frozen=True)
class ExploitTrial:
    """Start NEW trial ``trial_id`` with ``config`` from a copy of trial ``donor``'s checkpoint
    at resource ``start``, training up to ``target`` (population-based training's exploit).

    ``replaces`` is the trial it takes the place of in the population (stopped at ``start``).
    The record is the lineage: a replay knows which trial's state, at which resource, the new
    trial began from, and the controller copies that checkpoint before the first job runs.
    """

    trial_id: int
    config: dict[str, Any]
    donor: int
    replaces: int
    start: int
    target: int
    kind: Literal["exploit"] = field(default="exploit", init=False)


Suggestion = StartTrial | ResumeTrial | ExploitTrial
NEW_TRIALS = (StartTrial, ExploitTrial)  # suggestions that create a trial (need allow_new)


def suggestion_to_dict(s: Suggestion) -> dict[str, Any]:
    """JSON-friendly form of a suggestion (the ``kind`` key says which)."""
    return asdict(s)


def suggestion_from_dict(d: dict[str, Any]) -> Suggestion:
    """Inverse of :func:`suggestion_to_dict`."""
    data = {k: v for k, v in d.items() if k != "kind"}
    if d["kind"] == "start":
        return StartTrial(**data)
    if d["kind"] == "resume":
        return ResumeTrial(**data)
    if d["kind"] == "exploit":
        return ExploitTrial(**data)
    raise ValueError(f"unknown suggestion kind {d['kind']!r}")


def is_bad_value(value: float | None) -> bool:
    """NaN, +-inf and missing metrics rank as the worst possible result."""
    return value is None or not math.isfinite(value)


def ranking_key(value: float | None, mode: Mode) -> float:
    """A number where smaller is better, whatever the mode; bad values map to +inf (worst)."""
    if value is None or not math.isfinite(value):  # is_bad_value, spelled out for mypy
        return math.inf
    return value if mode == "min" else -value


@dataclass(frozen=True)
class WarmObservation:
    """A result of an earlier study, fed to a warm-started searcher's model.

    It informs the model only: it is no trial of the new study, is in none of its rungs and
    spends none of its budget. ``feasible`` is judged with the NEW study's constraints.
    """

    config: dict[str, Any]
    resource: int
    value: float | None
    feasible: bool = True
