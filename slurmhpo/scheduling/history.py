"""The scheduler's event history, and rebuilding a scheduler by replaying it.

A scheduler's state is a pure function of its seed and the calls it received. The store keeps
these calls as plain events, in order; after a controller restart :func:`rebuild` feeds them to
a fresh scheduler built with the same seed, which then decides exactly as the uninterrupted one
would. Suggestions that returned None are not events: they leave the scheduler untouched.

Replay passes, for a recorded start (or exploit), the started trial's id to ``suggest``; for a
recorded resume, an id no trial has and ``allow_new=False`` (a resume never depends on the id it
is given, and a resume given while new trials were allowed is also the one given without them:
that way a resume recorded while the study's ``max_trials`` was reached replays exactly, also
for population-based training, which starts its population before it resumes anybody). A replayed
suggestion that differs from the recorded one (different seed, code or event order) raises
:class:`ReplayMismatch` rather than silently diverging from what the cluster is running.

Dict form (JSON-friendly; NaN and +-inf survive as the strings "nan", "inf", "-inf"):
``{"event": "suggested", "suggestion": {...}}``,
``{"event": "result", "trial_id": 3, "resource": 9, "value": 0.31, "action": "pause"}``,
``{"event": "failed", "trial_id": 3}``,
``{"event": "warm_start", "sources": [{"study": "old", "uid": "...", "observations": 40}],
"observations": [{"config": {...}, "resource": 9, "value": 0.4}, ...]}`` (each observation
with ``"feasible": false`` when it broke a constraint). ``action`` is optional: when present,
replay checks it.

A warm start is recorded as the study's first event, with the observations themselves, not a
reference to the studies they came from: those may grow, be deleted or be re-created under the
same name, while the history must replay exactly what the searcher was fed.
A result that broke an outcome constraint carries ``"feasible": false``; the key is absent
otherwise, so histories of studies without constraints are exactly as before. Likewise a
result of a study with several objectives carries ``"values": [...]`` (every objective, in the
study file's order, encoded as ``value``), and single-objective histories never do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slurmhpo.scheduling.base import Scheduler
from slurmhpo.scheduling.types import (
    NEW_TRIALS,
    Action,
    SchedulingError,
    Suggestion,
    WarmObservation,
    suggestion_from_dict,
    suggestion_to_dict,
)


class ReplayMismatch(SchedulingError):
    """A replayed decision differs from the recorded one: the history cannot be trusted."""


@dataclass(frozen=True)
class Suggested:
    suggestion: Suggestion

    def to_dict(self) -> dict[str, Any]:
        return {"event": "suggested", "suggestion": suggestion_to_dict(self.suggestion)}


@dataclass(frozen=True)
class Result:
    trial_id: int
    resource: int
    value: float | None
    action: Action | None = None
    feasible: bool = True
    values: tuple[float | None, ...] | None = None  # every objective, several-objective studies

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event": "result",
            "trial_id": self.trial_id,
            "resource": self.resource,
            "value": encode_value(self.value),
        }
        if self.action is not None:
            out["action"] = self.action.value
        if not self.feasible:
            out["feasible"] = False
        if self.values is not None:
            out["values"] = [encode_value(v) for v in self.values]
        return out


@dataclass(frozen=True)
class Failed:
    trial_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"event": "failed", "trial_id": self.trial_id}


@dataclass(frozen=True)
class WarmStarted:
    """The searcher was fed ``observations`` of earlier studies (``sources`` says which)."""

    observations: tuple[WarmObservation, ...]
    sources: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "warm_start",
            "sources": [dict(s) for s in self.sources],
            "observations": [_warm_to_dict(o) for o in self.observations],
        }


def _warm_to_dict(o: WarmObservation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "config": dict(o.config),
        "resource": o.resource,
        "value": encode_value(o.value),
    }
    if not o.feasible:
        out["feasible"] = False
    return out


def _warm_from_dict(d: dict[str, Any]) -> WarmObservation:
    return WarmObservation(
        dict(d["config"]),
        int(d["resource"]),
        decode_value(d["value"]),
        d.get("feasible", True) is not False,
    )


Event = Suggested | Result | Failed | WarmStarted


def encode_value(value: float | None) -> float | str | None:
    """JSON cannot hold NaN or infinities: write them as strings, keep everything else."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def decode_value(raw: float | str | None) -> float | None:
    """Inverse of :func:`encode_value`."""
    if isinstance(raw, str):
        if raw not in ("nan", "inf", "-inf"):
            raise SchedulingError(f"bad encoded value {raw!r}")
        return float(raw)
    return None if raw is None else float(raw)


def event_from_dict(d: dict[str, Any]) -> Event:
    """Inverse of every event's ``to_dict``."""
    kind = d.get("event")
    if kind == "suggested":
        return Suggested(suggestion_from_dict(d["suggestion"]))
    if kind == "result":
        action = Action(d["action"]) if d.get("action") is not None else None
        feasible = d.get("feasible", True) is not False
        value = decode_value(d["value"])
        raw = d.get("values")
        values = None if raw is None else tuple(decode_value(v) for v in raw)
        return Result(int(d["trial_id"]), int(d["resource"]), value, action, feasible, values)
    if kind == "failed":
        return Failed(int(d["trial_id"]))
    if kind == "warm_start":
        return WarmStarted(
            tuple(_warm_from_dict(o) for o in d["observations"]),
            tuple(dict(s) for s in d.get("sources", ())),
        )
    raise SchedulingError(f"unknown event kind {kind!r}")


def rebuild(
    factory_or_scheduler: Callable[[], Scheduler] | Scheduler, events: Iterable[Event]
) -> Scheduler:
    """Replay ``events`` into a fresh scheduler (built by the factory, or given fresh).

    Raises :class:`ReplayMismatch` at the first replayed decision that differs from the record.
    """
    if isinstance(factory_or_scheduler, Scheduler):
        scheduler = factory_or_scheduler
    else:
        scheduler = factory_or_scheduler()
    if scheduler.trial_ids():
        raise SchedulingError("rebuild needs a fresh scheduler; this one already has trials")
    spare = -1  # ids handed to suggest() for recorded resumes: never a real trial's id
    for index, event in enumerate(events):
        if isinstance(event, Suggested):
            _replay_suggest(scheduler, event.suggestion, spare, index)
            spare -= 1
        elif isinstance(event, Result):
            action = scheduler.on_result(
                event.trial_id,
                event.resource,
                event.value,
                feasible=event.feasible,
                values=event.values,
            )
            if event.action is not None and action is not event.action:
                raise ReplayMismatch(
                    f"event {index}: trial {event.trial_id} at {event.resource} was "
                    f"{event.action.value}, replay says {action.value}"
                )
        elif isinstance(event, Failed):
            scheduler.on_error(event.trial_id)
        elif isinstance(event, WarmStarted):
            scheduler.warm_start(event.observations)
        else:
            raise SchedulingError(f"event {index} is not an event: {event!r}")
    return scheduler


def _replay_suggest(scheduler: Scheduler, recorded: Suggestion, spare: int, index: int) -> None:
    new = isinstance(recorded, NEW_TRIALS)
    trial_id = recorded.trial_id if new else spare
    replayed = scheduler.suggest(trial_id, allow_new=new)
    if replayed != recorded:
        raise ReplayMismatch(
            f"event {index}: recorded suggestion {recorded!r}, replay gives {replayed!r} "
            "(same seed, same slurmhpo version and the full event history are needed)"
        )
