"""make_scheduler: every type from the study tables, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.adaptive import AdaptiveHyperband
from slurmhpo.scheduling.asha import ASHA, AsyncHyperband
from slurmhpo.scheduling.curve import CurveStoppingScheduler
from slurmhpo.scheduling.factory import (
    DEFAULT_RUNG_LEVELS,
    SCHEDULER_TYPES,
    make_scheduler,
    scheduler_rung_levels,
)
from slurmhpo.scheduling.fifo import FIFOScheduler
from slurmhpo.scheduling.median import MedianStoppingScheduler
from slurmhpo.scheduling.rungs import rung_levels
from slurmhpo.scheduling.sync import SyncHyperband, SyncSuccessiveHalving
from slurmhpo.scheduling.types import StartTrial
from slurmhpo.space import SearchSpace

SPACE = SearchSpace.from_dict(
    {
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "act": {"type": "categorical", "choices": ["relu", "tanh"]},
    }
)


def study(scheduler: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "objective": {"metric": "acc", "mode": "max"},
        "resource": {"name": "epoch", "min": 1, "max": 27},
        "scheduler": scheduler,
        **extra,
    }


@pytest.mark.parametrize(
    ("table", "cls", "variant"),
    [
        ({"type": "asha"}, ASHA, "promotion"),
        ({"type": "asha", "variant": "stopping", "eta": 2}, ASHA, "stopping"),
        ({"type": "hyperband", "variant": "stopping"}, AsyncHyperband, "stopping"),
        ({"type": "sync_sh"}, SyncSuccessiveHalving, None),
        ({"type": "sync_hyperband", "eta": 4}, SyncHyperband, None),
        ({"type": "bohb"}, SyncHyperband, None),
        ({"type": "bohb", "variant": "promotion"}, AsyncHyperband, "promotion"),
        ({"type": "adaptive"}, AdaptiveHyperband, "promotion"),
        ({"type": "median", "grace": 3, "min_trials": 5}, MedianStoppingScheduler, None),
        ({"type": "curve", "threshold": 0.1, "interval": 2}, CurveStoppingScheduler, None),
        ({"type": "fifo"}, FIFOScheduler, None),
    ],
)
def test_every_type_builds_and_suggests(table: dict, cls: type, variant: str | None) -> None:
    sched = make_scheduler(study(table), SPACE, seed=1)
    assert type(sched) is cls
    if variant is not None:
        assert sched.variant == variant  # type: ignore[attr-defined]
    s = sched.suggest(0)
    assert isinstance(s, StartTrial) and set(s.config) == {"lr", "act"}
    assert sched.mode == "max"


def test_all_types_are_covered() -> None:
    assert set(SCHEDULER_TYPES) == {
        "asha", "hyperband", "sync_sh", "sync_hyperband", "bohb", "adaptive", "pbt", "median",
        "curve", "fifo", "mo_asha",
    }  # fmt: skip


def test_overlap_defaults() -> None:
    """Textbook synchronous schedulers idle; BOHB overlaps brackets like HpBandSter."""
    assert not make_scheduler(study({"type": "sync_hyperband"}), SPACE, 0).overlap  # type: ignore[attr-defined]
    assert make_scheduler(study({"type": "bohb"}), SPACE, 0).overlap  # type: ignore[attr-defined]
    off = make_scheduler(study({"type": "bohb", "overlap": False}), SPACE, 0)
    assert not off.overlap  # type: ignore[attr-defined]
    on = make_scheduler(study({"type": "sync_sh", "overlap": True}), SPACE, 0)
    assert on.overlap  # type: ignore[attr-defined]


def test_bohb_uses_the_kde_searcher() -> None:
    from slurmhpo.scheduling.searchers import KDESearcher

    sched = make_scheduler(study({"type": "bohb"}), SPACE, seed=1)
    assert isinstance(sched.searcher, KDESearcher)


def test_same_seed_same_configs_and_independent_streams() -> None:
    a = make_scheduler(study({"type": "hyperband"}), SPACE, seed=5)
    b = make_scheduler(study({"type": "hyperband"}), SPACE, seed=5)
    c = make_scheduler(study({"type": "hyperband"}), SPACE, seed=6)
    sa = [a.suggest(t) for t in range(5)]
    assert sa == [b.suggest(t) for t in range(5)]
    assert sa != [c.suggest(t) for t in range(5)]


def test_initial_configs_are_passed_to_the_searcher() -> None:
    first = {"lr": 0.01, "act": "tanh"}
    sched = make_scheduler(study({"type": "fifo"}, initial_configs=[first]), SPACE, seed=0)
    s = sched.suggest(0)
    assert isinstance(s, StartTrial) and s.config == first


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (study({"type": "asha", "eta": 1}), "scheduler.eta"),
        (study({"type": "asha", "eta": "3"}), "scheduler.eta"),
        (study({"type": "asha", "etta": 3}), "scheduler.etta"),
        (study({"type": "asha", "variant": "sync"}), "scheduler.variant"),
        (study({"type": "bohb", "variant": "fast"}), "scheduler.variant"),
        (study({"type": "warp"}), "scheduler.type"),
        (study({"type": "median", "min_trials": 0}), "scheduler.min_trials"),
        (study({"type": "sync_sh", "overlap": "yes"}), "scheduler.overlap"),
        (study({"type": "median", "overlap": True}), "scheduler.overlap"),
        (study({"type": "asha", "strict_quota": 1}), "scheduler.strict_quota"),
        (study({"type": "bohb", "rung_levels": "down"}), "scheduler.rung_levels"),
        (study({"type": "asha", "rung_levels": ["from_max"]}), "scheduler.rung_levels"),
        (study({"type": "median", "rung_levels": "from_max"}), "scheduler.rung_levels"),
        (study({"type": "fifo", "rung_levels": "from_min"}), "scheduler.rung_levels"),
        (study({"type": "bohb"}, searcher={"type": "random"}), "searcher.type"),
        ({**study({"type": "asha"}), "resource": {"min": 0, "max": 9}}, "resource.min"),
        ({**study({"type": "asha"}), "resource": {"min": 5, "max": 3}}, "resource.min"),
        ({**study({"type": "asha"}), "objective": {"mode": "up"}}, "objective.mode"),
    ],
)
def test_bad_tables_name_the_field(spec: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_scheduler(spec, SPACE, seed=0)
    assert info.value.field == field


UNEVEN = {"min": 1, "max": 52}  # r_max not r_min * eta^k: the two placements differ


@pytest.mark.parametrize("kind", ["asha", "hyperband", "sync_sh", "sync_hyperband", "bohb"])
@pytest.mark.parametrize(
    ("placement", "levels"), [("from_min", [1, 3, 9, 27, 52]), ("from_max", [2, 6, 17, 52])]
)
def test_rung_levels_setting_places_every_rung_schedulers_rungs(
    kind: str, placement: str, levels: list[int]
) -> None:
    table = {"type": kind, "rung_levels": placement}
    spec = {**study(table), "resource": UNEVEN}
    sched = make_scheduler(spec, SPACE, seed=0)
    assert sched.levels == levels  # type: ignore[attr-defined]
    first = sched.suggest(0)
    assert isinstance(first, StartTrial) and first.target in levels
    assert scheduler_rung_levels(table, 1, 52) == levels


def test_rung_levels_defaults() -> None:
    """Every rung scheduler's default placement, as DEFAULT_RUNG_LEVELS says."""
    for kind, placement in DEFAULT_RUNG_LEVELS.items():
        spec = {**study({"type": kind}), "resource": UNEVEN}
        if kind == "mo_asha":  # needs two objectives
            spec["objective"] = [{"metric": "acc", "mode": "max"}, {"metric": "ms", "mode": "min"}]
        sched = make_scheduler(spec, SPACE, seed=0)
        assert sched.levels == rung_levels(1, 52, 3, placement)  # type: ignore[attr-defined]
        assert scheduler_rung_levels({"type": kind}, 1, 52) == sched.levels  # type: ignore[attr-defined]
    assert set(DEFAULT_RUNG_LEVELS) == set(SCHEDULER_TYPES) - {
        "median",
        "curve",
        "fifo",
        "pbt",
    }  # no eta ladder
    assert scheduler_rung_levels({"type": "median"}, 1, 52) == []
    assert scheduler_rung_levels({"type": "fifo"}, 1, 52) == []


def test_a_bad_rung_levels_value_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigError) as info:
        make_scheduler(study({"type": "bohb", "rung_levels": "from_top"}), SPACE, seed=0)
    assert info.value.field == "scheduler.rung_levels"
    assert "from_top" in info.value.problem
    assert info.value.fix is not None
    assert '"from_min"' in info.value.fix and '"from_max"' in info.value.fix
