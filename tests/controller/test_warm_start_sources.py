"""Warm start at the controller: reading earlier studies, refusing misfits, recording the feed.

Source studies are written straight into the store (a trial and its observations) for the
checks, and run for real on the simulated backend for the end-to-end record-and-replay test.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from slurmhpo.backends.simulated import SimClock, SimulatedBackend
from slurmhpo.bench.harness import Method, study_spec
from slurmhpo.bench.registry import get_task
from slurmhpo.controller.build import build_controller
from slurmhpo.controller.studies import register_study
from slurmhpo.controller.warm_start import gather_warm_start, space_difference
from slurmhpo.errors import ConfigError, NotFoundError
from slurmhpo.store import queries as q
from slurmhpo.store import runtime
from slurmhpo.store.db import make_engine, read_session, write_session
from slurmhpo.store.migrate import upgrade
from slurmhpo.study import StudySpec

SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
    "act": {"type": "categorical", "choices": ["relu", "tanh"]},
}


def _study(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "objective": {"metric": "loss", "mode": "min"},
        "resource": {"name": "epoch", "min": 1, "max": 9},
        "scheduler": {"type": "asha"},
        "searcher": {"type": "kde"},
        "budget": {"max_trials": 5},
        "trial": {"command": ["python", "t.py"]},
        "space": copy.deepcopy(SPACE),
    }
    for path, value in changes.items():
        *parents, last = path.split("__")
        table = data
        for key in parents:
            table = table[key]
        if value is ...:
            del table[last]
        else:
            table[last] = value
    return data


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _store_old(engine: Engine, data: dict[str, Any], metrics: dict[str, float] | None = None):
    """Store study ``data`` with one trial reporting at epochs 1..9."""
    spec = StudySpec.from_dict(data)
    with write_session(engine) as s:
        study = q.create_study(s, spec.name, spec.to_dict(), "loss", "min")
        trial = q.add_trial(s, study, {"lr": 0.01, "act": "relu"})
        reports = [q.Report(r, 1.0 / r, {"loss": 1.0 / r, **(metrics or {})}) for r in range(1, 10)]
        q.record_observations(s, trial, reports)


def _gather(engine: Engine, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    with read_session(engine) as s:
        return gather_warm_start(s, StudySpec.from_dict(data))


def test_results_at_the_modelled_levels_are_fed_judged_by_the_new_constraints(
    engine: Engine,
) -> None:
    _store_old(engine, _study("old"), {"mem": 50.0})
    new = _study("new", searcher={"type": "kde", "warm_start": ["old"]})
    event = _gather(engine, new)
    assert [o.resource for o in event.observations] == [1, 3, 9]  # asha's rungs, eta 3
    assert all(o.feasible for o in event.observations)
    assert event.sources[0]["study"] == "old" and event.sources[0]["observations"] == 3
    constrained = _gather(engine, {**new, "constraints": ["mem <= 40"]})
    assert [o.feasible for o in constrained.observations] == [False, False, False]
    every_epoch = _gather(engine, {**new, "scheduler": {"type": "median"}})
    assert [o.resource for o in every_epoch.observations] == list(range(1, 10))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"space__lr__high": 1.0}, ["space.lr", "high is 1.0 there, 0.1 here"]),
        ({"space__lr__log": False}, ["space.lr", "log is False there, True here"]),
        ({"space__act__choices": ["relu"]}, ["space.act", "choices"]),
        ({"space__act": ...}, ["space.act", "has no parameter 'act'"]),
        ({"space__wd": {"type": "float", "low": 0.0, "high": 1.0}}, ["space.wd", "lacks"]),
        ({"space__lr": {"type": "int", "low": 1, "high": 4}}, ["space.lr", "type is 'int'"]),
        ({"objective__metric": "acc"}, ["objective is acc (min), this study's loss (min)"]),
        ({"objective__mode": "max"}, ["objective is loss (max)"]),
        ({"resource__name": "step"}, ["resource is 'step', this study's 'epoch'"]),
    ],
)
def test_a_study_that_does_not_fit_is_refused_naming_what_differs(
    engine: Engine, change: dict[str, Any], words: list[str]
) -> None:
    _store_old(engine, _study("old", **change))
    new = _study("new", searcher={"type": "kde", "warm_start": ["fine", "old"]})
    _store_old(engine, _study("fine"))
    with pytest.raises(ConfigError) as info:
        _gather(engine, new)
    assert info.value.field == "searcher.warm_start[1]" and info.value.exit_code == 2
    assert "study 'old' cannot warm-start this one" in info.value.problem
    for word in words:
        assert word in info.value.problem


def test_space_difference_is_none_for_the_same_space() -> None:
    here = StudySpec.from_dict(_study("a")).space.to_dict()
    assert space_difference(here, copy.deepcopy(here)) is None


def test_unknown_or_empty_sources_are_refused_and_nothing_is_registered(
    engine: Engine, tmp_path: Path
) -> None:
    new = StudySpec.from_dict(
        {
            **_study("new", searcher={"type": "kde", "warm_start": ["nope"]}),
            "runs_dir": str(tmp_path),
        }
    )
    with pytest.raises(ConfigError, match=r"searcher.warm_start\[0\]: no study 'nope'"):
        register_study(engine, new)
    with read_session(engine) as s, pytest.raises(NotFoundError):
        q.get_study(s, "new")
    with write_session(engine) as s:
        q.create_study(s, "empty", StudySpec.from_dict(_study("empty")).to_dict(), "loss", "min")
    with pytest.raises(ConfigError, match="has no result at the resource levels"):
        _gather(engine, _study("new", searcher={"type": "kde", "warm_start": ["empty"]}))


# ---- end to end, on the simulated backend ------------------------------------------------

TASK = "synthetic/hartmann3-mf"
METHOD = Method("bohb-async", {"type": "bohb", "variant": "promotion"}, {"type": "kde"})
BUDGET = 300.0  # simulated seconds: a few dozen trials of hartmann3 (r_max 27)


def _run(engine: Engine, root: Path, name: str, seed: int, warm_from: str | None) -> None:
    task = get_task(TASK)
    spec = study_spec(task, METHOD, seed, 4, BUDGET, root, name=name, warm_from=warm_from)
    register_study(engine, spec)
    clock = SimClock(deadline=BUDGET)
    backend = SimulatedBackend(task, clock, 4, None)
    build_controller(
        engine, name, backend=backend, poll_interval=0.0, lease_ttl=86_400.0, clock=clock
    ).run()


def test_the_feed_is_recorded_first_and_replays_after_its_source_is_deleted(
    engine: Engine, tmp_path: Path
) -> None:
    _run(engine, tmp_path, "old", 1, None)
    _run(engine, tmp_path, "new", 2, "old")
    with read_session(engine) as s:
        old, new = q.get_study(s, "old"), q.get_study(s, "new")
        fed = sum(1 for _, o in q.study_observations(s, old) if o.resource in (1, 3, 9, 27))
        decisions = q.list_decisions(s, new)
        trials = [t.trial.number for t in q.list_trials(s, new)]
    first, *rest = decisions
    assert first.kind == "warm_start" and first.trial_id is None
    assert first.payload["sources"][0]["study"] == "old"
    assert len(first.payload["observations"]) == fed > 0
    assert all(d.kind != "warm_start" for d in rest)
    assert trials == list(range(len(trials))), "the new study numbers its own trials from 0"
    with write_session(engine) as s:
        runtime.delete_study(s, q.get_study(s, "old"))
    again = build_controller(
        engine, "new", backend=SimulatedBackend(get_task(TASK), SimClock(), 4, None)
    )
    again.open()  # rebuilds from the recorded feed: no ReplayMismatch, no second record
    again.close()
    with read_session(engine) as s:
        assert len(q.list_decisions(s, q.get_study(s, "new"))) == len(decisions)
    assert again.scheduler.searcher.model_resource() is not None  # type: ignore[attr-defined]
