"""Warm start in the decision core: the event, the feed, and what it must never touch.

The fed results inform the searcher's model only: no trial, no rung member, no budget; the
recorded event replays exactly, and a history without it does not replay (the record is what
makes a restart decide as before).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import ReplayMismatch, WarmStarted, event_from_dict, rebuild
from slurmhpo.scheduling.searchers import KDESearcher, KDESettings
from slurmhpo.scheduling.types import SchedulingError, StartTrial, WarmObservation
from slurmhpo.space import SearchSpace
from tests.scheduling.sched_helpers import run_study
from tests.scheduling.test_contract import FROM_MAX, LEVELS, R_MAX, R_MIN, R_UNEVEN

SPACE = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})


def _old_results(levels: list[int], n: int = 40, seed: int = 9) -> tuple[WarmObservation, ...]:
    """An earlier study of the same curve (sched_helpers.curve: lower x is better)."""
    xs = np.random.default_rng(seed).random(n)
    return tuple(
        WarmObservation({"x": float(x)}, level, float(x) + 1.0 / (level + 1.0))
        for level in levels
        for x in xs
    )


def test_the_event_round_trips_with_nan_and_infeasible_results() -> None:
    event = WarmStarted(
        (
            WarmObservation({"x": 0.5}, 3, 0.25),
            WarmObservation({"x": 0.7}, 9, math.nan),
            WarmObservation({"x": 0.1}, 9, 0.05, feasible=False),
        ),
        ({"study": "old", "uid": "0" * 32, "observations": 3},),
    )
    wire = event.to_dict()
    assert wire["observations"][1]["value"] == "nan"
    assert [o.get("feasible", True) for o in wire["observations"]] == [True, True, False]
    back = event_from_dict(wire)
    assert isinstance(back, WarmStarted) and back.sources == event.sources
    assert back.observations[0] == event.observations[0]
    assert math.isnan(back.observations[1].value)  # type: ignore[arg-type]
    assert back.observations[2] == event.observations[2]


def test_fed_results_ready_the_model_but_are_no_trials_and_no_rung_members() -> None:
    spec = _spec({"type": "bohb", "variant": "promotion"})
    sched = make_scheduler(spec, SPACE, seed=3)
    searcher = sched.searcher
    assert isinstance(searcher, KDESearcher) and searcher.model_resource() is None
    sched.warm_start(_old_results(LEVELS))
    assert searcher.model_resource() == R_MAX  # every level is modelled at once
    assert sched.trial_ids() == []
    assert all(rows == [] for rungs in sched.rung_table().values() for rows in rungs.values())
    assert searcher.pending == {}
    first = sched.suggest(0)
    assert isinstance(first, StartTrial) and first.trial_id == 0


def test_the_model_learns_from_fed_results_at_once() -> None:
    """With no random draws, a warm searcher's first suggestion comes from the model, near
    the old study's best (x = 0.8 here); a cold one has no model yet and samples at random."""
    results = tuple(
        WarmObservation({"x": float(x)}, 1, (float(x) - 0.8) ** 2)
        for x in np.linspace(0.0, 1.0, 41)
    )
    settings = KDESettings(random_fraction=0.0)
    for seed in range(5):
        warm = KDESearcher(SPACE, "min", np.random.default_rng(seed), settings=settings)
        warm.warm_start(results)
        cold = KDESearcher(SPACE, "min", np.random.default_rng(seed), settings=settings)
        assert abs(warm.suggest(0)["x"] - 0.8) < 0.1  # type: ignore[index]
        assert cold.model_resource() is None and warm.model_resource() == 1


def test_warm_start_comes_before_the_first_trial_and_needs_a_model() -> None:
    sched = make_scheduler(_spec({"type": "bohb"}), SPACE, seed=1)
    sched.suggest(0)
    with pytest.raises(SchedulingError, match="before the first trial"):
        sched.warm_start(_old_results(LEVELS))
    random = make_scheduler(_spec({"type": "asha"}, {"type": "random"}), SPACE, seed=1)
    with pytest.raises(SchedulingError, match="no model"):
        random.warm_start(_old_results(LEVELS))


TABLES = [
    ({"type": "bohb"}, {}, LEVELS),
    ({"type": "bohb", "variant": "promotion"}, {}, LEVELS),
    ({"type": "bohb", "variant": "stopping"}, {}, LEVELS),
    ({"type": "asha", "variant": "promotion"}, {"type": "kde"}, LEVELS),
    ({"type": "adaptive"}, {}, LEVELS),
    ({"type": "hyperband", "rung_levels": "from_max"}, {"type": "kde"}, FROM_MAX),
    ({"type": "median"}, {"type": "kde"}, [R_MAX]),
]


def _spec(scheduler: dict, searcher: dict | None = None, r_max: int = R_MAX) -> dict:
    return {
        "objective": {"metric": "loss", "mode": "min"},
        "resource": {"name": "epoch", "min": R_MIN, "max": r_max},
        "scheduler": scheduler,
        "searcher": searcher or {},
    }


@pytest.mark.parametrize(("scheduler", "searcher", "levels"), TABLES, ids=lambda v: str(v))
def test_a_warm_history_replays_exactly_and_not_without_its_warm_event(
    scheduler: dict, searcher: dict, levels: list[int]
) -> None:
    r_max = levels[-1] if levels is FROM_MAX else R_MAX
    spec = _spec(scheduler, searcher, r_max)
    warm = WarmStarted(_old_results(levels))
    sched = make_scheduler(spec, SPACE, seed=3)
    sched.warm_start(warm.observations)
    out = run_study(sched, levels, max_starts=30, fail_rate=0.02, seed=4)
    assert out.starts == 30 and sched.trial_ids() == list(range(30)), "budget: own trials only"
    history = [warm, *out.events]
    wire = [event_from_dict(e.to_dict()) for e in history]
    again = rebuild(lambda: make_scheduler(spec, SPACE, seed=3), wire)
    assert again.rung_table() == sched.rung_table()
    cold = run_study(make_scheduler(spec, SPACE, seed=3), levels, max_starts=30, seed=4)
    assert cold.events != out.events, "the fed results changed the searcher's choices"
    with pytest.raises(ReplayMismatch):
        rebuild(lambda: make_scheduler(spec, SPACE, seed=3), wire[1:])


def test_r_uneven_is_the_from_max_ladder_top() -> None:
    assert FROM_MAX[-1] == R_UNEVEN  # the table above relies on it
