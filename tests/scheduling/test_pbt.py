"""Population-based training: hand-checked exploit decisions, explore, lineage, replay, fields."""

from __future__ import annotations

import numpy as np
import pytest
from sched_helpers import FakeSearcher

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.explore import explore
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import Result, Suggested, event_from_dict, rebuild
from slurmhpo.scheduling.pbt import PopulationBasedTraining
from slurmhpo.scheduling.types import (
    Action,
    ExploitTrial,
    ResumeTrial,
    StartTrial,
    suggestion_from_dict,
    suggestion_to_dict,
)
from slurmhpo.space import SearchSpace

X = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})


def pbt(population: int = 4, interval: int = 2, r_max: int = 6, seed: int = 0):  # type: ignore[no-untyped-def]
    searcher = FakeSearcher(np.random.default_rng(seed))
    return PopulationBasedTraining(
        searcher, "min", 1, r_max, np.random.default_rng(seed + 100), space=X,
        population_size=population, perturbation_interval=interval, quantile_fraction=0.25,
    )  # fmt: skip


def report(sched: PopulationBasedTraining, trial: int, upto: int, value: float) -> Action:
    """Report ``value`` at every resource after the trial's last one up to ``upto``."""
    action = Action.CONTINUE
    start = sched._trials[trial].last_resource
    for r in range(start + 1, upto + 1):
        action = sched.on_result(trial, r, value)
    return action


def test_population_starts_first_then_the_bottom_quarter_exploits_the_top() -> None:
    sched = pbt()
    starts = [sched.suggest(i) for i in range(4)]
    assert all(isinstance(s, StartTrial) and s.target == 2 for s in starts)
    # boundary 2: values 0.4, 0.1, 0.3, 0.2 (min is best); n grows 1..4, k = floor(n/4)
    assert report(sched, 0, 2, 0.4) is Action.PAUSE  # n=1, k=0: nothing to rank against
    assert report(sched, 1, 2, 0.1) is Action.PAUSE
    assert report(sched, 2, 2, 0.3) is Action.PAUSE  # n=3, k=0
    assert report(sched, 3, 2, 0.5) is Action.STOP  # n=4, k=1: worst, so it exploits
    # the queue: resumes of 0, 1, 2 in arrival order, then the exploit of trial 3's place
    assert [sched.suggest(99 + i) for i in range(3)] == [
        ResumeTrial(0, 2, 4),
        ResumeTrial(1, 2, 4),
        ResumeTrial(2, 2, 4),
    ]
    exploit = sched.suggest(4)
    assert isinstance(exploit, ExploitTrial)
    assert (exploit.donor, exploit.replaces, exploit.start, exploit.target) == (1, 3, 2, 4)
    assert sched.checkpoint_source(4) == (1, 2)
    assert sched.checkpoint_source(1) is None
    donor_x = sched._trials[1].config["x"]
    assert exploit.config["x"] != donor_x  # explored, not a plain copy
    assert sched.suggest(5) is None  # the population is busy
    # the exploiting trial continues from the donor's resource: its first report is 3
    assert sched.on_result(4, 3, 0.05) is Action.CONTINUE
    assert sched.on_result(4, 4, 0.05) is Action.PAUSE


def test_without_allow_new_only_resumes_are_given_and_exploits_wait() -> None:
    sched = pbt()
    for i in range(4):
        sched.suggest(i)
    for trial, value in ((0, 0.4), (1, 0.1), (2, 0.3), (3, 0.5)):
        report(sched, trial, 2, value)
    assert [sched.suggest(9, allow_new=False) for _ in range(3)] == [
        ResumeTrial(0, 2, 4),
        ResumeTrial(1, 2, 4),
        ResumeTrial(2, 2, 4),
    ]
    state = sched.rng.bit_generator.state
    assert sched.suggest(9, allow_new=False) is None  # the exploit needs a new trial
    assert sched.rng.bit_generator.state == state
    assert isinstance(sched.suggest(4), ExploitTrial)


def test_a_bottom_trial_at_the_last_boundary_still_completes_at_r_max() -> None:
    sched = pbt(population=2, interval=5, r_max=6)
    sched.suggest(0)
    sched.suggest(1)
    assert report(sched, 0, 5, 0.1) is Action.PAUSE
    assert report(sched, 1, 5, 0.9) is Action.PAUSE  # n=2, k=floor(0.5)=0
    assert sched.suggest(5) == ResumeTrial(0, 5, 6)
    assert sched.on_result(0, 6, 0.1) is Action.COMPLETE


def test_lineage_is_in_the_history_and_replays_exactly() -> None:
    sched = pbt(seed=3)
    events = []
    for i in range(4):
        events.append(Suggested(sched.suggest(i)))
    for trial, value in ((0, 0.4), (1, 0.1), (2, 0.3), (3, 0.5)):
        for r in (1, 2):
            events.append(Result(trial, r, value, sched.on_result(trial, r, value)))
    for i in range(4):
        events.append(Suggested(sched.suggest(4 if i == 3 else -1)))
    wire = [e.to_dict() for e in events]
    exploit = wire[-1]["suggestion"]
    assert exploit["kind"] == "exploit" and (exploit["donor"], exploit["start"]) == (1, 2)
    again = rebuild(lambda: pbt(seed=3), [event_from_dict(d) for d in wire])
    assert again.checkpoint_source(4) == (1, 2)
    assert again.rung_table() == sched.rung_table()
    other_seed = [event_from_dict(d) for d in wire]
    with pytest.raises(Exception, match="recorded suggestion"):
        rebuild(lambda: pbt(seed=4), other_seed)


def test_exploit_suggestion_round_trips_through_its_dict() -> None:
    s = ExploitTrial(7, {"x": 0.5}, donor=2, replaces=5, start=4, target=6)
    assert suggestion_from_dict(suggestion_to_dict(s)) == s


def test_explore_perturbs_numbers_keeps_categoricals_and_moves_ordinals() -> None:
    space = SearchSpace.from_dict(
        {
            "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
            "units": {"type": "int", "low": 1, "high": 100},
            "act": {"type": "categorical", "choices": ["relu", "tanh"]},
            "depth": {"type": "ordinal", "values": [1, 2, 4, 8]},
        }
    )
    donor = {"lr": 0.01, "units": 50, "act": "tanh", "depth": 2}
    rng = np.random.default_rng(0)
    for _ in range(50):
        new = explore(space, donor, rng, resample_probability=0.0)
        space.validate(new)
        assert new["lr"] in (pytest.approx(0.008), pytest.approx(0.012))
        assert new["units"] in (40, 60)
        assert new["act"] == "tanh"
        assert new["depth"] in (1, 4)
    # clipping at the bounds, and resampling everything with probability 1
    edge = explore(space, {**donor, "lr": 1.0, "units": 100}, np.random.default_rng(1),
                   resample_probability=0.0)  # fmt: skip
    assert edge["lr"] <= 1.0 and edge["units"] <= 100
    drawn = [explore(space, donor, rng, resample_probability=1.0)["act"] for _ in range(40)]
    assert set(drawn) == {"relu", "tanh"}


def test_explore_draws_a_child_that_a_changed_parent_activates() -> None:
    space = SearchSpace.from_dict(
        {
            "opt": {"type": "categorical", "choices": ["sgd", "adam"]},
            "momentum": {"type": "float", "low": 0.1, "high": 0.9, "when": {"opt": ["sgd"]}},
        }
    )
    seen = set()
    rng = np.random.default_rng(2)
    for _ in range(40):
        new = explore(space, {"opt": "adam"}, rng, resample_probability=0.5)
        space.validate(new)  # momentum present exactly when opt is sgd
        seen.add(new["opt"])
    assert seen == {"sgd", "adam"}


def study(table: dict) -> dict:
    return {
        "objective": {"metric": "loss", "mode": "min"},
        "resource": {"name": "epoch", "min": 1, "max": 20},
        "scheduler": table,
    }


@pytest.mark.parametrize(
    ("table", "field", "words"),
    [
        ({"type": "pbt"}, "scheduler.perturbation_interval", "is required"),
        ({"type": "pbt", "perturbation_interval": 20}, "scheduler.perturbation_interval", "1..19"),
        ({"type": "pbt", "perturbation_interval": 0}, "scheduler.perturbation_interval", "1..19"),
        ({"type": "pbt", "perturbation_interval": 2.5},
         "scheduler.perturbation_interval", "integer"),
        ({"type": "pbt", "perturbation_interval": 2, "population_size": 1},
         "scheduler.population_size", ">= 2"),
        ({"type": "pbt", "perturbation_interval": 2, "quantile_fraction": 0.6},
         "scheduler.quantile_fraction", "(0, 0.5]"),
        ({"type": "pbt", "perturbation_interval": 2, "resample_probability": -0.1},
         "scheduler.resample_probability", "[0, 1]"),
        ({"type": "pbt", "perturbation_interval": 2, "eta": 3}, "scheduler.eta", "not a known"),
    ],
)  # fmt: skip
def test_bad_fields_name_the_field_and_the_fix(table: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_scheduler(study(table), X, seed=0)
    assert info.value.field == field
    assert words in str(info.value)


def test_defaults_from_the_study_table() -> None:
    sched = make_scheduler(study({"type": "pbt", "perturbation_interval": 5}), X, seed=0)
    assert isinstance(sched, PopulationBasedTraining)
    assert (sched.population_size, sched.quantile_fraction, sched.resample_probability) == (
        16,
        0.25,
        0.25,
    )
    assert sched.levels == [5, 10, 15, 20]
