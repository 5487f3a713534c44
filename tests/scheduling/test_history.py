"""Event values survive JSON (NaN and infinities included) and replay refuses to diverge."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sched_helpers import FakeSearcher

from slurmhpo.scheduling.asha import ASHA
from slurmhpo.scheduling.history import (
    Failed,
    ReplayMismatch,
    Result,
    Suggested,
    decode_value,
    encode_value,
    event_from_dict,
    rebuild,
)
from slurmhpo.scheduling.types import Action, ResumeTrial, SchedulingError, StartTrial


@pytest.mark.parametrize("value", [0.25, -3.0, 0.0, None, math.inf, -math.inf, 1e308])
def test_values_round_trip_through_json(value: float | None) -> None:
    assert decode_value(json.loads(json.dumps(encode_value(value)))) == value


def test_nan_round_trips_through_json_as_a_string() -> None:
    raw = json.dumps(encode_value(math.nan), allow_nan=False)
    assert raw == '"nan"'
    decoded = decode_value(json.loads(raw))
    assert decoded is not None and math.isnan(decoded)


def test_bad_encoded_value_is_refused() -> None:
    with pytest.raises(SchedulingError):
        decode_value("NaN!")


@pytest.mark.parametrize(
    "event",
    [
        Suggested(StartTrial(3, {"lr": 0.1, "act": "relu"}, 9, 2)),
        Suggested(ResumeTrial(3, 9, 27)),
        Result(3, 9, 0.5, Action.PAUSE),
        Result(3, 9, None),
        Result(4, 1, math.inf, Action.STOP),
        Failed(7),
    ],
)
def test_events_round_trip_through_json(event) -> None:  # type: ignore[no-untyped-def]
    wire = json.dumps(event.to_dict(), allow_nan=False)
    assert event_from_dict(json.loads(wire)) == event


def test_unknown_event_kind() -> None:
    with pytest.raises(SchedulingError, match="unknown event"):
        event_from_dict({"event": "teleported"})


def fresh(seed: int = 0) -> ASHA:
    return ASHA(
        FakeSearcher(np.random.default_rng(seed)), "min", 1, 9, 3, np.random.default_rng(seed)
    )


def test_rebuild_checks_recorded_actions() -> None:
    live = fresh()
    s = live.suggest(0)
    assert s is not None
    events = [Suggested(s), Result(0, 1, 0.5, Action.STOP)]  # the live answer was PAUSE
    with pytest.raises(ReplayMismatch, match="replay says pause"):
        rebuild(fresh, events)


def test_rebuild_refuses_a_used_scheduler() -> None:
    used = fresh()
    used.suggest(0)
    with pytest.raises(SchedulingError, match="fresh scheduler"):
        rebuild(used, [])


def test_rebuild_with_a_nan_result_decides_the_same() -> None:
    live = fresh()
    events = []
    for t in range(3):
        s = live.suggest(t)
        assert s is not None
        events.append(Suggested(s))
    for t, v in enumerate([math.nan, 0.2, 0.3]):
        events.append(Result(t, 1, v, live.on_result(t, 1, v)))
    wire = json.loads(json.dumps([e.to_dict() for e in events], allow_nan=False))
    again = rebuild(fresh, [event_from_dict(d) for d in wire])
    assert again.suggest(3) == live.suggest(3) == ResumeTrial(1, 1, 3)
