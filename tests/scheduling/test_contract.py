"""One contract, every scheduler: the same simulated study checks the common invariants.

``run_study`` (sched_helpers) checks each call as it happens: start ids are the ones passed in,
targets are rung levels above the start, resumes only of paused trials and from their last
rung, no CONTINUE at a target, PAUSE only below r_max, COMPLETE only at r_max. Here we add the
end-of-study invariants and the rebuild-from-history property.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sched_helpers import ContractViolation, FakeSearcher, run_study

from slurmhpo.scheduling.adaptive import AdaptiveHyperband
from slurmhpo.scheduling.asha import ASHA, AsyncHyperband
from slurmhpo.scheduling.base import Scheduler, TrialStatus
from slurmhpo.scheduling.curve import CurveStoppingScheduler
from slurmhpo.scheduling.fifo import FIFOScheduler
from slurmhpo.scheduling.history import Result, Suggested, event_from_dict, rebuild
from slurmhpo.scheduling.median import MedianStoppingScheduler
from slurmhpo.scheduling.mo_asha import MOAsyncHyperband
from slurmhpo.scheduling.pbt import PopulationBasedTraining
from slurmhpo.scheduling.rungs import rung_levels
from slurmhpo.scheduling.sync import SyncHyperband, SyncSuccessiveHalving
from slurmhpo.scheduling.types import Action, ExploitTrial, SchedulingError, StartTrial
from slurmhpo.space import SearchSpace

R_MIN, R_MAX, ETA = 1, 27, 3
LEVELS = rung_levels(R_MIN, R_MAX, ETA)
# r_max not of the form r_min * eta^k, so that the two rung placements differ: the from_max
# ladder is [2, 7, 20] (from_min would be [1, 3, 9, 20]).
R_UNEVEN = 20
FROM_MAX = rung_levels(R_MIN, R_UNEVEN, ETA, "from_max")

X_SPACE = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
PBT_LEVELS = [*range(3, R_MAX, 3), R_MAX]

Factory = Callable[[FakeSearcher, np.random.Generator], Scheduler]

FACTORIES: dict[str, tuple[Factory, list[int]]] = {
    "asha_stopping": (
        lambda s, g: ASHA(s, "min", R_MIN, R_MAX, ETA, g, variant="stopping"),
        LEVELS,
    ),
    "asha_promotion": (
        lambda s, g: ASHA(s, "min", R_MIN, R_MAX, ETA, g, variant="promotion"),
        LEVELS,
    ),
    "hyperband_stopping": (
        lambda s, g: AsyncHyperband(s, "min", R_MIN, R_MAX, ETA, g, variant="stopping"),
        LEVELS,
    ),
    "hyperband_promotion": (
        lambda s, g: AsyncHyperband(s, "min", R_MIN, R_MAX, ETA, g, variant="promotion"),
        LEVELS,
    ),
    "sync_sh": (lambda s, g: SyncSuccessiveHalving(s, "min", R_MIN, R_MAX, ETA, g), LEVELS),
    "sync_hyperband": (lambda s, g: SyncHyperband(s, "min", R_MIN, R_MAX, ETA, g), LEVELS),
    "sync_hyperband_overlap": (
        lambda s, g: SyncHyperband(s, "min", R_MIN, R_MAX, ETA, g, overlap=True),
        LEVELS,
    ),
    "asha_promotion_strict": (
        lambda s, g: ASHA(s, "min", R_MIN, R_MAX, ETA, g, variant="promotion", strict_quota=True),
        LEVELS,
    ),
    "asha_promotion_from_max": (
        lambda s, g: ASHA(
            s, "min", R_MIN, R_UNEVEN, ETA, g, variant="promotion", rung_placement="from_max"
        ),
        FROM_MAX,
    ),
    "hyperband_stopping_from_max": (
        lambda s, g: AsyncHyperband(
            s, "min", R_MIN, R_UNEVEN, ETA, g, variant="stopping", rung_placement="from_max"
        ),
        FROM_MAX,
    ),
    "hyperband_promotion_from_max": (
        lambda s, g: AsyncHyperband(
            s, "min", R_MIN, R_UNEVEN, ETA, g, variant="promotion", rung_placement="from_max"
        ),
        FROM_MAX,
    ),
    "sync_hyperband_overlap_from_max": (
        lambda s, g: SyncHyperband(
            s, "min", R_MIN, R_UNEVEN, ETA, g, overlap=True, rung_placement="from_max"
        ),
        FROM_MAX,
    ),
    "adaptive": (lambda s, g: AdaptiveHyperband(s, "min", R_MIN, R_MAX, ETA, g), LEVELS),
    "adaptive_from_max": (
        lambda s, g: AdaptiveHyperband(
            s, "min", R_MIN, R_UNEVEN, ETA, g, rung_placement="from_max"
        ),
        FROM_MAX,
    ),
    "pbt": (
        lambda s, g: PopulationBasedTraining(
            s, "min", R_MIN, R_MAX, g, space=X_SPACE, population_size=8, perturbation_interval=3
        ),
        PBT_LEVELS,
    ),
    "pbt_uneven": (  # boundaries 4, 8, ..., 24 and a short last segment to 27
        lambda s, g: PopulationBasedTraining(
            s,
            "min",
            R_MIN,
            R_MAX,
            g,
            space=X_SPACE,
            population_size=6,
            perturbation_interval=4,
            quantile_fraction=0.5,
            resample_probability=0.5,
        ),
        [*range(4, R_MAX, 4), R_MAX],
    ),
    "mo_asha_promotion": (
        lambda s, g: MOAsyncHyperband(s, ("min", "min"), R_MIN, R_MAX, ETA, g),
        LEVELS,
    ),
    "mo_asha_stopping": (
        lambda s, g: MOAsyncHyperband(s, ("min", "min"), R_MIN, R_MAX, ETA, g, variant="stopping"),
        LEVELS,
    ),
    "mo_asha_epsnet_from_max": (
        lambda s, g: MOAsyncHyperband(
            s,
            ("min", "min"),
            R_MIN,
            R_UNEVEN,
            ETA,
            g,
            tie_break="epsnet",
            rung_placement="from_max",
        ),
        FROM_MAX,
    ),
    "mo_hyperband_promotion": (
        lambda s, g: MOAsyncHyperband(s, ("min", "min"), R_MIN, R_MAX, ETA, g, num_brackets=None),
        LEVELS,
    ),
    "median": (lambda s, g: MedianStoppingScheduler(s, "min", R_MIN, R_MAX, g), [R_MAX]),
    "curve": (lambda s, g: CurveStoppingScheduler(s, "min", R_MIN, R_MAX, g), [R_MAX]),
    "curve_interval": (
        lambda s, g: CurveStoppingScheduler(
            s, "min", R_MIN, R_MAX, g, threshold=0.2, min_points=3, interval=4
        ),
        [R_MAX],
    ),
    "fifo": (lambda s, g: FIFOScheduler(s, "min", R_MIN, R_MAX, g), [R_MAX]),
}
NAMES = sorted(FACTORIES)


def build(name: str, seed: int = 0, limit: int | None = None) -> tuple[Scheduler, FakeSearcher]:
    factory, _ = FACTORIES[name]
    searcher = FakeSearcher(np.random.default_rng([seed, 1]), limit)
    return factory(searcher, np.random.default_rng([seed, 2])), searcher


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fail_rate", [0.0, 0.03])
def test_simulated_study_ends_with_every_trial_ended(name: str, fail_rate: float) -> None:
    sched, searcher = build(name, limit=40)
    out = run_study(sched, FACTORIES[name][1], max_starts=40, fail_rate=fail_rate, seed=3)
    assert out.starts > 0
    assert sorted(sched.trial_ids()) == list(range(out.starts))
    assert all(sched.trial_status(t) is not TrialStatus.RUNNING for t in sched.trial_ids())
    assert searcher.pending == set(), "every ended trial must leave the searcher's pending set"
    if fail_rate:
        assert any(s == "failed" for s in out.status.values())
    else:
        assert any(s == "complete" for s in out.status.values()), "somebody reaches r_max"


@pytest.mark.parametrize("name", NAMES)
def test_scheduler_status_matches_the_actions_it_gave(name: str) -> None:
    sched, _ = build(name, limit=30)
    out = run_study(sched, FACTORIES[name][1], max_starts=30, fail_rate=0.05, seed=5)
    expected = {"pause": "paused", "stop": "stopped", "complete": "complete", "failed": "failed"}
    for trial_id, last in out.status.items():
        status = sched.trial_status(trial_id).value
        # synchronous halving turns paused losers into stopped ones when a rung closes
        allowed = {expected[last]} | ({"stopped"} if last == "pause" else set())
        assert status in allowed, (trial_id, last, status)


@pytest.mark.parametrize("name", NAMES)
def test_rebuilt_scheduler_decides_like_the_uninterrupted_one(name: str) -> None:
    sched, _ = build(name, seed=7)
    out = run_study(sched, FACTORIES[name][1], max_starts=25, fail_rate=0.05, seed=7)
    cut = len(out.events) // 2
    wire = [e.to_dict() for e in out.events[:cut]]
    replay_rest = rebuild(lambda: build(name, seed=7)[0], [event_from_dict(d) for d in wire])
    for event in out.events[cut:]:  # the rest must be decided exactly the same way
        if isinstance(event, Suggested):
            new = isinstance(event.suggestion, (StartTrial, ExploitTrial))
            tid = event.suggestion.trial_id if new else -99
            assert replay_rest.suggest(tid, allow_new=new) == event.suggestion
        elif isinstance(event, Result):
            action = replay_rest.on_result(
                event.trial_id, event.resource, event.value, values=event.values
            )
            assert action is event.action
        else:
            replay_rest.on_error(event.trial_id)
    assert replay_rest.rung_table() == sched.rung_table()


def _decisions(out) -> list[tuple]:  # type: ignore[no-untyped-def]
    """What a scheduler decided, without the values it was given."""
    return [
        ("suggest", e.suggestion) if isinstance(e, Suggested) else
        ("result", e.trial_id, e.resource, e.action) if isinstance(e, Result) else
        ("failed", e.trial_id)
        for e in out.events
    ]  # fmt: skip


def _best_break_the_constraint(config: dict) -> bool:
    return config["x"] < 0.3  # the configs that would rank first if they counted


@pytest.mark.parametrize("name", NAMES)
def test_infeasible_results_are_decided_as_the_worst_value(name: str) -> None:
    """Every scheduler decides on an infeasible result as on a missing value (worst), and
    its searcher is told which results were infeasible; a restart replays them exactly."""
    levels = FACTORIES[name][1]
    sched, searcher = build(name, seed=5)
    flagged = run_study(
        sched, levels, max_starts=30, fail_rate=0.03, seed=5,
        infeasible=_best_break_the_constraint,
    )  # fmt: skip
    as_none = run_study(
        build(name, seed=5)[0], levels, max_starts=30, fail_rate=0.03, seed=5,
        infeasible=_best_break_the_constraint, as_none=True,
    )  # fmt: skip
    assert _decisions(flagged) == _decisions(as_none)
    assert any(not e.feasible for e in flagged.events if isinstance(e, Result))
    assert searcher.infeasible, "the searcher must hear which results were infeasible"
    if name != "fifo":  # FIFO ranks nothing: its decisions cannot depend on the constraint
        ignored = run_study(build(name, seed=5)[0], levels, max_starts=30, fail_rate=0.03, seed=5)
        assert _decisions(ignored) != _decisions(flagged)
    wire = [event_from_dict(e.to_dict()) for e in flagged.events]
    assert wire == flagged.events
    again = rebuild(lambda: build(name, seed=5)[0], wire)
    assert again.rung_table() == sched.rung_table()


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_decisions_other_seed_other_configs(name: str) -> None:
    first = run_study(build(name, seed=11)[0], FACTORIES[name][1], max_starts=20, seed=1)
    again = run_study(build(name, seed=11)[0], FACTORIES[name][1], max_starts=20, seed=1)
    other = run_study(build(name, seed=12)[0], FACTORIES[name][1], max_starts=20, seed=1)
    assert first.events == again.events
    assert first.events != other.events


@pytest.mark.parametrize("name", NAMES)
def test_rebuild_with_another_seed_is_refused(name: str) -> None:
    sched, _ = build(name, seed=1)
    out = run_study(sched, FACTORIES[name][1], max_starts=10, seed=1)
    with pytest.raises(SchedulingError, match="recorded suggestion"):
        rebuild(build(name, seed=2)[0], out.events)


@pytest.mark.parametrize("name", NAMES)
def test_none_leaves_the_scheduler_untouched(name: str) -> None:
    sched, searcher = build(name, limit=2)
    first = [sched.suggest(0), sched.suggest(1)]
    state = sched.rng.bit_generator.state
    assert sched.suggest(2) is None  # the searcher is exhausted and nothing can be resumed
    assert sched.rng.bit_generator.state == state
    assert sched.trial_ids() == [0, 1]
    assert all(isinstance(s, StartTrial) for s in first)
    assert searcher.pending == {0, 1}


@pytest.mark.parametrize("name", NAMES)
def test_bad_calls_raise_clear_errors(name: str) -> None:
    sched, _ = build(name)
    s = sched.suggest(0)
    assert s is not None
    with pytest.raises(SchedulingError, match="never started"):
        sched.on_result(99, 1, 0.5)
    with pytest.raises(SchedulingError, match="never started"):
        sched.on_error(99)
    with pytest.raises(SchedulingError, match="already used"):
        sched.suggest(0)
    with pytest.raises(SchedulingError, match="outside"):
        sched.on_result(0, R_MAX + 1, 0.5)
    with pytest.raises(SchedulingError, match="must be an int"):
        sched.on_result(0, 1.5, 0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
def test_late_results_and_errors_after_the_end_are_ignored(name: str) -> None:
    sched, searcher = build(name)
    s = sched.suggest(0)
    assert isinstance(s, StartTrial)
    sched.on_error(0)
    assert sched.trial_status(0) is TrialStatus.FAILED
    assert sched.on_result(0, s.target, 0.1) is Action.STOP  # a late line: still stopped
    sched.on_error(0)  # a second error report changes nothing
    assert sched.trial_status(0) is TrialStatus.FAILED
    assert 0 not in searcher.pending


def test_contract_checker_catches_a_broken_scheduler() -> None:
    """The helper must be able to fail: a scheduler that never stops anybody at its target."""

    class Broken(FIFOScheduler):
        def _decide(self, rec, resource, value):  # type: ignore[no-untyped-def]
            return Action.CONTINUE

    searcher = FakeSearcher(np.random.default_rng(0), limit=3)
    with pytest.raises(ContractViolation, match="continue past its target"):
        run_study(Broken(searcher, "min", 1, 3, np.random.default_rng(1)), [3], max_starts=3)


FACTORY_TABLES = [
    {"type": "asha", "variant": "stopping"},
    {"type": "asha", "variant": "promotion", "strict_quota": True},
    {"type": "hyperband", "variant": "promotion"},
    {"type": "sync_sh"},
    {"type": "sync_hyperband"},
    {"type": "bohb"},
    {"type": "bohb", "variant": "promotion"},
    {"type": "bohb", "variant": "stopping"},
    {"type": "adaptive"},
    {"type": "adaptive", "prior_agreement": 0.5, "prior_pairs": 0, "min_top": 3},
    {"type": "pbt", "perturbation_interval": 3, "population_size": 8},
    {"type": "median"},
    {"type": "fifo"},
]


def _table_levels(table: dict) -> list[int]:
    """The levels where a scheduler built from ``table`` may pause or complete a trial."""
    if table["type"] in ("median", "fifo"):
        return [R_MAX]
    if table["type"] == "pbt":
        return PBT_LEVELS
    return LEVELS


@pytest.mark.parametrize("table", FACTORY_TABLES, ids=lambda t: "-".join(map(str, t.values())))
def test_factory_built_schedulers_with_real_searchers_keep_the_contract(table: dict) -> None:
    from slurmhpo.scheduling.factory import make_scheduler
    from slurmhpo.space import SearchSpace

    space = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    spec = {
        "objective": {"metric": "loss", "mode": "min"},
        "resource": {"name": "epoch", "min": R_MIN, "max": R_MAX},
        "scheduler": table,
    }
    levels = _table_levels(table)
    sched = make_scheduler(spec, space, seed=3)
    out = run_study(sched, levels, max_starts=45, fail_rate=0.01, seed=4)
    assert all(sched.trial_status(t) is not TrialStatus.RUNNING for t in sched.trial_ids())
    again = rebuild(lambda: make_scheduler(spec, space, seed=3), out.events)
    assert again.rung_table() == sched.rung_table()


@pytest.mark.parametrize(
    "table",
    [
        {"type": "bohb", "rung_levels": "from_max"},
        {"type": "bohb", "variant": "promotion", "rung_levels": "from_max"},
        {"type": "hyperband", "variant": "stopping", "rung_levels": "from_max"},
        {"type": "asha", "rung_levels": "from_max"},
        {"type": "adaptive", "rung_levels": "from_max"},
    ],
    ids=lambda t: "-".join(map(str, t.values())),
)
def test_from_max_rungs_keep_the_contract_and_replay_exactly(table: dict) -> None:
    """Rungs placed down from r_max: only those levels are targets, and a restart replays."""
    from slurmhpo.scheduling.factory import make_scheduler
    from slurmhpo.space import SearchSpace

    space = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    spec = {
        "objective": {"metric": "loss", "mode": "min"},
        "resource": {"name": "epoch", "min": R_MIN, "max": R_UNEVEN},
        "scheduler": table,
    }
    sched = make_scheduler(spec, space, seed=3)
    out = run_study(sched, FROM_MAX, max_starts=45, fail_rate=0.01, seed=4)
    levels = {lv for rungs in sched.rung_table().values() for lv in rungs}
    assert levels == set(FROM_MAX) == {2, 7, 20}
    assert all(sched.trial_status(t) is not TrialStatus.RUNNING for t in sched.trial_ids())
    again = rebuild(lambda: make_scheduler(spec, space, seed=3), out.events)
    assert again.rung_table() == sched.rung_table()


@pytest.mark.parametrize("name", NAMES)
def test_allow_new_false_only_resumes_and_otherwise_touches_nothing(name: str) -> None:
    sched, searcher = build(name)
    state = sched.rng.bit_generator.state
    assert sched.suggest(0, allow_new=False) is None
    assert sched.trial_ids() == [] and searcher.count == 0
    assert sched.rng.bit_generator.state == state
    # sync: 27 fill rung 1; PBT's population (8) and two exploits, which end before it does
    limit = 10 if name.startswith("pbt") else 30
    out = run_study(sched, FACTORIES[name][1], max_starts=limit, seed=2)
    assert out.starts == limit
    if "promotion" in name or name.startswith(("sync", "adaptive", "pbt")):
        assert out.resumes > 0, "promotions go on after the last start"


@pytest.mark.parametrize("table", FACTORY_TABLES, ids=lambda t: "-".join(map(str, t.values())))
def test_factory_built_schedulers_replay_infeasible_results_exactly(table: dict) -> None:
    """With real searchers (the KDE keeps infeasible results out of its good set), a history
    with infeasible results rebuilds the same scheduler; read without its feasible flags,
    it is a different history (for every scheduler that ranks)."""
    from slurmhpo.scheduling.factory import make_scheduler
    from slurmhpo.space import SearchSpace

    space = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    spec = {
        "objective": {"metric": "loss", "mode": "min"},
        "resource": {"name": "epoch", "min": R_MIN, "max": R_MAX},
        "scheduler": table,
    }
    levels = _table_levels(table)
    sched = make_scheduler(spec, space, seed=3)
    out = run_study(sched, levels, max_starts=45, seed=4, infeasible=_best_break_the_constraint)
    wire = [event_from_dict(e.to_dict()) for e in out.events]
    again = rebuild(lambda: make_scheduler(spec, space, seed=3), wire)
    assert again.rung_table() == sched.rung_table()
    if table["type"] != "fifo":
        flags_dropped = [
            Result(e.trial_id, e.resource, e.value, e.action) if isinstance(e, Result) else e
            for e in wire
        ]
        with pytest.raises(SchedulingError):
            rebuild(lambda: make_scheduler(spec, space, seed=3), flags_dropped)
