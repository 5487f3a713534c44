"""The adaptive scheduler: rank agreement, trust weights and bracket draws, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sched_helpers import FakeSearcher, run_study

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.adaptive import AdaptiveHyperband
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.fidelity import (
    FidelityTracker,
    TrustSettings,
    bracket_probabilities,
    level_weight,
    pair_agreement,
)
from slurmhpo.scheduling.rungs import rung_levels
from slurmhpo.scheduling.searchers.mf_kde import MultiFidelityKDESearcher
from slurmhpo.scheduling.types import StartTrial
from slurmhpo.space import SearchSpace

LEVELS = [1, 3, 9, 27]


def test_pair_agreement_counts_order_preserving_pairs() -> None:
    # high orders 0 < 1 < 2 < 3 as 0, 2, 1, 3 -> pairs (0,1) (0,2) (0,3) (1,3) (2,3) agree,
    # (1,2) does not: 5 of 6.
    assert pair_agreement(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0])) == (
        5.0,
        6,
    )
    # a tie at the low level counts half; a tie at the high one is not comparable
    assert pair_agreement(np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 2.0])) == (1.5, 2)
    # failed results (inf) tie with each other and rank last
    assert pair_agreement(np.array([np.inf, 1.0]), np.array([np.inf, 0.5])) == (1.0, 1)
    assert pair_agreement(np.array([1.0]), np.array([2.0])) == (0.0, 0)


def test_level_weight_is_the_cube_above_chance_and_zero_below() -> None:
    assert level_weight(0.9, 3.0) == pytest.approx(0.729)
    assert level_weight(1.0, 3.0) == 1.0
    assert level_weight(0.5, 3.0) == 0.0
    assert level_weight(0.3, 3.0) == 0.0


def test_bracket_probabilities_are_weight_times_hyperband_size() -> None:
    # 4 levels, eta 3: Hyperband sizes (s_max + 1)/(s + 1) * 3^s = 27, 12, 16/3*... by hand:
    # b=0: 4/4*27 = 27; b=1: 4/3*9 = 12; b=2: 4/2*3 = 6; b=3: 4/1*1 = 4
    probs = bracket_probabilities([0.0, 0.5, 1.0, 1.0], 3)
    raw = np.array([0.0, 6.0, 6.0, 4.0])
    assert probs == pytest.approx(raw / raw.sum())
    assert bracket_probabilities([1, 1, 1, 1], 3) == pytest.approx(np.array([27, 12, 6, 4]) / 49)
    with pytest.raises(ValueError, match="positive weight"):
        bracket_probabilities([0.0, 0.0], 3)


def feed(tracker: FidelityTracker, level: int, values: list[float]) -> None:
    for trial_id, value in enumerate(values):
        tracker.record(level, trial_id, value)


def test_trust_is_shrunk_agreement_against_the_highest_well_filled_rung() -> None:
    settings = TrustSettings(prior_agreement=0.75, prior_pairs=10.0, power=3.0, min_top=4)
    tracker = FidelityTracker(LEVELS, "min", settings)
    assert tracker.reference() is None
    assert tracker.trust() == {1: 0.75, 3: 0.75, 9: 0.75, 27: 1.0}  # prior; r_max trusted
    feed(tracker, 1, [4.0, 3.0, 2.0, 1.0, 0.5])  # 5 trials: exactly reversed at level 3
    feed(tracker, 3, [1.0, 2.0, 3.0, 4.0, 5.0])
    feed(tracker, 9, [1.0, 2.0, 3.0])  # 3 < min_top: not the reference
    assert tracker.reference() == 3
    # level 1 vs 3: 0 of 10 pairs agree -> (0 + 10 * 0.75) / (10 + 10) = 0.375
    assert tracker.agreements() == {1: (0.0, 10)}
    assert tracker.trust() == {1: pytest.approx(0.375), 3: 1.0, 9: 1.0, 27: 1.0}
    assert tracker.weights() == {1: 0.0, 3: 1.0, 9: 1.0, 27: 1.0}
    feed(tracker, 9, [1.0, 2.0, 3.0, 4.0])  # now level 9 is the reference
    # level 1 vs 9 (4 common trials, reversed): 0 of 6; level 3 vs 9: 6 of 6
    assert tracker.agreements() == {1: (0.0, 6), 3: (6.0, 6)}
    trust = tracker.trust()
    assert trust[1] == pytest.approx(7.5 / 16) and trust[3] == pytest.approx(13.5 / 16)
    assert tracker.weights()[3] == pytest.approx((13.5 / 16) ** 3)


def test_the_tracker_uses_the_latest_max_points_common_trials() -> None:
    tracker = FidelityTracker([1, 3], "max", TrustSettings(min_top=2, max_points=3))
    feed(tracker, 1, [1.0, 2.0, 3.0, 4.0, 5.0])  # mode max: larger is better
    feed(tracker, 3, [5.0, 4.0, 3.0, 4.5, 5.5])  # trials 2, 3, 4 agree fully
    assert tracker.agreements() == {1: (3.0, 3)}


def test_bad_trust_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"scheduler\.prior_agreement"):
        TrustSettings(prior_agreement=1.5).check()
    with pytest.raises(ConfigError, match=r"scheduler\.min_top"):
        TrustSettings(min_top=1).check()


def anti_curve_study(seed: int) -> tuple[AdaptiveHyperband, FakeSearcher]:
    """Loss at epoch 1 is the reverse of the final ranking: rung 1 must lose its trust."""
    searcher = FakeSearcher(np.random.default_rng(seed))
    sched = AdaptiveHyperband(
        searcher, "min", 1, 27, 3, np.random.default_rng(seed + 100),
        trust=TrustSettings(min_top=4),
    )  # fmt: skip
    return sched, searcher


def test_a_misleading_first_rung_stops_getting_new_trials(monkeypatch) -> None:
    import sched_helpers

    def curve(config: dict, resource: int) -> float:
        x = config["x"]
        return (1.0 - x) if resource == 1 else x + 1.0 / (resource + 1.0)

    monkeypatch.setattr(sched_helpers, "curve", curve)
    sched, _ = anti_curve_study(0)
    out = run_study(sched, rung_levels(1, 27, 3), max_starts=150, seed=1)
    weights = sched.fidelity.weights()
    assert weights[1] == 0.0 and weights[3] > 0.5
    assert sched.bracket_probabilities()[0] == 0.0
    late = [
        e.suggestion.bracket
        for e in out.events[len(out.events) // 2 :]
        if hasattr(e, "suggestion") and isinstance(e.suggestion, StartTrial)
    ]
    assert late and 0 not in late, "no new trial starts at the misleading rung any more"


def test_an_agreeing_first_rung_keeps_hyperbands_draw() -> None:
    sched, _ = anti_curve_study(0)  # the default curve keeps the order at every rung
    run_study(sched, rung_levels(1, 27, 3), max_starts=120, seed=1)
    weights = sched.fidelity.weights()
    assert weights[27] == 1.0 and all(w > 0.95 for w in weights.values())  # prior keeps it < 1
    assert sched.bracket_probabilities() == pytest.approx(np.array([27, 12, 6, 4]) / 49, abs=0.02)


def test_the_factory_builds_it_with_the_multi_fidelity_kde() -> None:
    space = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    spec = {
        "objective": {"metric": "loss", "mode": "min"},
        "resource": {"name": "epoch", "min": 1, "max": 27},
        "scheduler": {"type": "adaptive", "prior_pairs": 4, "min_top": 5},
    }
    sched = make_scheduler(spec, space, seed=0)
    assert isinstance(sched, AdaptiveHyperband)
    assert isinstance(sched.searcher, MultiFidelityKDESearcher)
    assert sched.fidelity.settings.prior_pairs == 4.0 and sched.fidelity.settings.min_top == 5
    with pytest.raises(ConfigError, match=r"scheduler\.power"):
        make_scheduler({**spec, "scheduler": {"type": "adaptive", "power": 0}}, space, 0)
    with pytest.raises(ConfigError, match=r"scheduler\.grace"):
        make_scheduler({**spec, "scheduler": {"type": "adaptive", "grace": 2}}, space, 0)


def test_the_model_weighs_rungs_by_trust_to_its_power() -> None:
    space = SearchSpace.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    searcher = MultiFidelityKDESearcher(space, "min", np.random.default_rng(0), weight_power=2.0)
    for trial_id in range(40):  # level 1: 40 results, level 3: 20, level 9: 3 (too few)
        x = trial_id / 40
        for level, upto in ((1, 40), (3, 20), (9, 3)):
            if trial_id < upto:
                searcher.observe(trial_id, {"x": x}, level, x + 1 / level)
    assert searcher.used_resources() == [(3, 1.0)]  # no weights yet: BOHB's largest rung
    searcher.set_fidelity_weights({1: 0.5, 3: 1.0, 9: 1.0})
    assert searcher.used_resources() == [(3, 1.0), (1, 0.25)]  # 0.5 ** 2; 9 cannot be fitted
    searcher.set_fidelity_weights({1: 0.0, 3: 0.9, 9: 1.0})
    assert searcher.used_resources() == [(3, pytest.approx(0.81))]
    assert searcher.suggest(100) is not None
    with pytest.raises(ConfigError, match=r"searcher\.weight_power"):
        MultiFidelityKDESearcher(space, "min", np.random.default_rng(0), weight_power=0.0)
