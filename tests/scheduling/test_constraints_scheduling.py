"""Outcome constraints in the decision core: hand-checked rungs and the KDE's good set.

The contract test (test_contract.py) shows every scheduler decides on an infeasible result as
on a missing one; these pin down what that means on small cases one can check by hand.
"""

from __future__ import annotations

import numpy as np

from slurmhpo.scheduling.asha import ASHA
from slurmhpo.scheduling.history import Result, event_from_dict
from slurmhpo.scheduling.searchers import KDESearcher, MultiFidelityKDESearcher
from slurmhpo.scheduling.types import Action, ResumeTrial
from slurmhpo.space import Float, SearchSpace
from tests.scheduling.sched_helpers import FakeSearcher

SPACE = SearchSpace([Float("x", 0.0, 1.0)])


def _asha(variant: str) -> ASHA:
    searcher = FakeSearcher(np.random.default_rng(0))
    return ASHA(searcher, "min", 1, 9, 3, np.random.default_rng(1), variant=variant)  # type: ignore[arg-type]


def test_asha_stopping_stops_the_best_value_when_it_is_infeasible() -> None:
    """Rung 1 with 0.5 and 0.6, then 0.1 infeasible: n = 3, top 1 is 0.5; 0.1 ranks last."""
    sched = _asha("stopping")
    for trial_id in range(3):
        sched.suggest(trial_id)
    assert sched.on_result(0, 1, 0.5) is Action.CONTINUE  # fewer than eta members: grace
    assert sched.on_result(1, 1, 0.6) is Action.CONTINUE
    assert sched.on_result(2, 1, 0.1, feasible=False) is Action.STOP
    (rows,) = sched.rung_table().values()
    assert [r.trial_id for r in rows[1]] == [0, 1, 2]


def test_asha_promotion_resumes_the_best_feasible_trial() -> None:
    sched = _asha("promotion")
    for trial_id in range(3):
        sched.suggest(trial_id)
    assert sched.on_result(0, 1, 0.1, feasible=False) is Action.PAUSE
    assert sched.on_result(1, 1, 0.5) is Action.PAUSE
    assert sched.on_result(2, 1, 0.6) is Action.PAUSE
    assert sched.suggest(3) == ResumeTrial(1, 1, 3)


def test_result_events_carry_feasible_only_when_false() -> None:
    """Histories of studies without constraints keep their exact form."""
    assert "feasible" not in Result(1, 3, 0.5, Action.PAUSE).to_dict()
    wire = Result(1, 3, 0.5, Action.STOP, feasible=False).to_dict()
    assert wire["feasible"] is False
    assert event_from_dict(wire) == Result(1, 3, 0.5, Action.STOP, False)
    assert event_from_dict({**wire, "feasible": True}).feasible is True


def _kde(cls: type[KDESearcher] = KDESearcher) -> KDESearcher:
    return cls(SPACE, "min", np.random.default_rng(0))


def _observe(searcher: KDESearcher, xs: np.ndarray, bad: np.ndarray) -> None:
    for trial_id, (x, infeasible) in enumerate(zip(xs, bad, strict=True)):
        searcher.observe(trial_id, {"x": float(x)}, 1, float(x), feasible=not infeasible)


def test_kde_good_set_holds_only_feasible_points() -> None:
    """Loss = x; the 6 smallest x break a constraint. BOHB's good set of 20 points is the
    best 3 (min_points 2, 15 %): here the 3 smallest feasible x, none of the 6."""
    xs = np.linspace(0.01, 0.96, 20)
    bad = xs < 0.3
    searcher = _kde()
    _observe(searcher, xs, bad)
    assert searcher.model_resource() == 1
    fit = searcher._current_fit(1)
    assert sorted(fit.good[:, 0]) == sorted(xs[~bad][:3])
    assert set(xs[bad]) <= set(fit.bad[:, 0])


def test_kde_models_nothing_while_too_few_results_are_feasible() -> None:
    """One feasible point cannot make a good set of min_points (2): no model at that level."""
    xs = np.linspace(0.01, 0.96, 20)
    for cls in (KDESearcher, MultiFidelityKDESearcher):
        searcher = _kde(cls)
        _observe(searcher, xs, xs < 0.95)  # only 0.96 is feasible
        assert searcher.model_resource() is None
        searcher.observe(99, {"x": 0.5}, 1, 0.5)  # a second feasible point: ready again
        assert searcher.model_resource() == 1


def test_a_result_made_feasible_by_a_later_report_counts_again() -> None:
    searcher = _kde()
    xs = np.linspace(0.01, 0.96, 20)
    _observe(searcher, xs, np.ones(20, dtype=bool))
    table = searcher.store.tables[1]
    assert table.infeasible == 20
    searcher.observe(0, {"x": float(xs[0])}, 1, float(xs[0]))
    searcher.observe(1, {"x": float(xs[1])}, 1, float(xs[1]))
    assert table.infeasible == 18 and searcher.model_resource() == 1


def test_kde_without_infeasible_results_fits_as_before() -> None:
    """No constraint: the same good set as a plain sort by loss (the path studies without
    constraints took before constraints existed)."""
    xs = np.random.default_rng(3).random(40)
    searcher = _kde()
    _observe(searcher, xs, np.zeros(40, dtype=bool))
    fit = searcher._current_fit(1)
    assert sorted(fit.good[:, 0]) == sorted(np.sort(xs)[: searcher.n_good(40)])
