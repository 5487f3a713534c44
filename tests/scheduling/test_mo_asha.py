"""MO-ASHA's Pareto rungs and the random-scalarisation KDE searcher, against hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from sched_helpers import FakeSearcher

from slurmhpo.scheduling.asha import ASHA
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import Result, Suggested, event_from_dict, rebuild
from slurmhpo.scheduling.mo_asha import MOAsyncHyperband
from slurmhpo.scheduling.pareto_rung import ParetoRung
from slurmhpo.scheduling.searchers.scalarized_kde import ScalarizedKDESearcher, chebyshev
from slurmhpo.scheduling.types import Action, ResumeTrial, SchedulingError
from slurmhpo.space import SearchSpace

# obj 1 alone ranks t1 < t2 < t3 < ...; the Pareto front is {t0, t1} (t0 best on obj 2),
# every other trial is dominated by t1.
RUNG_VALUES = {
    0: (0.30, 0.10),
    1: (0.20, 0.90),
    2: (0.25, 0.95),
    3: (0.27, 0.96),
    4: (0.40, 0.97),
    5: (0.50, 0.98),
}


def test_pareto_rung_ranks_by_front_and_puts_bad_results_last() -> None:
    rung = ParetoRung(1, 3, ("min", "min"), "nsga2")
    for tid, values in RUNG_VALUES.items():
        rung.record(tid, values)
    rung.record(6, None)  # failed
    rung.record(7, (0.0, float("nan")))  # a non-finite objective: as bad as a failure
    assert rung.order()[:2] == [0, 1]  # the front (both ends: infinite crowding, by id)
    assert rung.order()[-2:] == [6, 7]
    assert rung.quota == 2
    assert rung.in_top(0) and rung.in_top(1) and not rung.in_top(2)
    assert rung.best_promotable() == 0
    rung.promote(0)
    assert rung.best_promotable() == 1
    rung.withdraw(1)
    assert rung.best_promotable() is None  # t2 ranks third, outside the quota of 2
    assert [r.trial_id for r in rung.rows()][:2] == [0, 1]
    assert rung.rows()[0].value == 0.30 and rung.rows()[0].promoted


def test_pareto_rung_respects_max_modes() -> None:
    rung = ParetoRung(1, 2, ("min", "max"), "nsga2")
    rung.record(0, (1.0, 5.0))
    rung.record(1, (1.0, 6.0))  # same loss, higher on the maximised objective: dominates 0
    assert rung.order() == [1, 0]


def test_pareto_rung_refuses_a_vector_of_the_wrong_length() -> None:
    rung = ParetoRung(1, 3, ("min", "min"), "epsnet")
    with pytest.raises(SchedulingError, match="1 objective values, expected 2"):
        rung.record(0, (1.0,))


def _fill_first_rung(sched: ASHA | MOAsyncHyperband, multi: bool) -> set[int]:
    """Six trials to rung 1, then the two promotions; returns the promoted trial ids."""
    for tid in RUNG_VALUES:  # all six start before any result (six busy workers)
        sched.suggest(tid)
    for tid, values in RUNG_VALUES.items():
        action = sched.on_result(tid, 1, values[0], values=values if multi else None)
        assert action is Action.PAUSE
    promoted = set()
    for _ in range(2):
        s = sched.suggest(100 + len(promoted))
        assert isinstance(s, ResumeTrial)
        promoted.add(s.trial_id)
    return promoted


def test_mo_asha_promotes_the_front_where_asha_promotes_the_best_first_objective() -> None:
    rng = np.random.default_rng
    asha = ASHA(FakeSearcher(rng(0)), "min", 1, 9, 3, rng(1))
    mo = MOAsyncHyperband(FakeSearcher(rng(0)), ("min", "min"), 1, 9, 3, rng(1))
    assert _fill_first_rung(asha, multi=False) == {1, 2}
    assert _fill_first_rung(mo, multi=True) == {0, 1}


def test_mo_asha_stopping_keeps_a_trial_best_on_the_second_objective() -> None:
    rng = np.random.default_rng
    sched = MOAsyncHyperband(FakeSearcher(rng(0)), ("min", "min"), 1, 9, 3, rng(1),
                             variant="stopping")  # fmt: skip
    asha = ASHA(FakeSearcher(rng(0)), "min", 1, 9, 3, rng(1), variant="stopping")
    for tid in range(3):
        sched.suggest(tid)
        asha.suggest(tid)
    for tid, values in ((0, (0.5, 0.5)), (1, (0.6, 0.6))):
        sched.on_result(tid, 1, values[0], values=values)
        asha.on_result(tid, 1, values[0])
    # the third arrival lets floor(3/3) = 1 continue. On objective 1 it ties with t0 and
    # the lower id wins, so ASHA stops it; with objective 2 it dominates t0 and t1 and is
    # the whole front, so MO-ASHA lets it continue.
    assert asha.on_result(2, 1, 0.5) is Action.STOP
    assert sched.on_result(2, 1, 0.5, values=(0.5, 0.1)) is Action.CONTINUE


def test_a_result_without_its_values_is_refused() -> None:
    rng = np.random.default_rng
    sched = MOAsyncHyperband(FakeSearcher(rng(0)), ("min", "max"), 1, 9, 3, rng(1))
    sched.suggest(0)
    with pytest.raises(SchedulingError, match="needs 2 objective values"):
        sched.on_result(0, 1, 0.5)
    with pytest.raises(SchedulingError, match="needs 2 objective values"):
        sched.on_result(0, 1, 0.5, values=(0.5, 1.0, 2.0))


SPACE = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
MO_SPEC = {
    "objective": [{"metric": "loss", "mode": "min"}, {"metric": "size", "mode": "max"}],
    "resource": {"name": "epoch", "min": 1, "max": 9},
    "scheduler": {"type": "mo_asha", "variant": "promotion"},
    "searcher": {"type": "mo_kde", "min_points": 2, "random_fraction": 0.0},
}


def _drive(sched, steps: int) -> list:  # type: ignore[no-untyped-def]
    """A serial study: suggest, report at the target, repeat; the event history."""
    events: list = []
    next_id = 0
    for _ in range(steps):
        s = sched.suggest(next_id)
        if s is None:
            break
        events.append(Suggested(s))
        if not isinstance(s, ResumeTrial):
            next_id += 1
        x = sched._trials[s.trial_id].config["x"]
        values = (x + 1.0 / s.target, x**2 + 0.1 * s.target)  # loss min, size max: conflict
        action = sched.on_result(s.trial_id, s.target, values[0], values=values)
        events.append(Result(s.trial_id, s.target, values[0], action, True, values))
    return events


def test_factory_built_mo_asha_with_mo_kde_replays_exactly_from_the_wire() -> None:
    sched = make_scheduler(MO_SPEC, SPACE, seed=4)
    events = _drive(sched, 40)
    wire = [event_from_dict(e.to_dict()) for e in events]
    assert wire == events
    assert all("values" in e.to_dict() for e in events if isinstance(e, Result))
    again = rebuild(lambda: make_scheduler(MO_SPEC, SPACE, seed=4), wire)
    assert again.rung_table() == sched.rung_table()
    assert again.searcher.weights.tolist() == sched.searcher.weights.tolist()


def test_chebyshev_by_hand() -> None:
    keys = np.array([[0.0, 10.0], [1.0, 0.0], [0.5, 5.0], [np.inf, 0.0]])
    # normalised over the finite rows: (0, 1), (1, 0), (0.5, 0.5)
    got = chebyshev(keys, np.array([0.25, 0.75]))
    assert got.tolist() == [0.75, 0.25, 0.375, np.inf]


def test_mo_kde_fits_its_model_on_the_scalarisation_of_the_drawn_weights() -> None:
    searcher = ScalarizedKDESearcher(SPACE, ("min", "max"), np.random.default_rng(0), settings=None)
    for tid in range(6):
        config = searcher.suggest(tid)
        assert config is not None
        x = config["x"]
        searcher.observe(tid, config, 3, x, values=(x, x))  # loss min vs size max
        searcher.on_trial_end(tid)
    searcher.suggest(6)
    table = searcher.store.tables[3]
    order = sorted(table.rows, key=table.rows.__getitem__)
    xs = np.array([searcher._keys[3][t][0] for t in order])
    keys = np.stack([xs, -xs], axis=1)
    assert searcher.weights is not None and searcher.weights.sum() == pytest.approx(1.0)
    assert table.losses.tolist() == chebyshev(keys, searcher.weights).tolist()


def test_mo_kde_counts_an_infeasible_result_as_worst_in_every_objective() -> None:
    searcher = ScalarizedKDESearcher(SPACE, ("min", "min"), np.random.default_rng(0))
    config = searcher.suggest(0)
    assert config is not None
    searcher.observe(0, config, 1, 0.1, feasible=False, values=(0.1, 0.1))
    assert np.isinf(searcher._keys[1][0]).all()
    with pytest.raises(SchedulingError, match="needs 2 objective values"):
        searcher.observe(0, config, 2, 0.1)
