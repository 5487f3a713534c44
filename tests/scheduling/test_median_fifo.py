"""The median stopping rule and FIFO, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sched_helpers import FakeSearcher

from slurmhpo.scheduling.fifo import FIFOScheduler
from slurmhpo.scheduling.median import MedianStoppingScheduler
from slurmhpo.scheduling.types import Action, StartTrial


def median(**kwargs) -> MedianStoppingScheduler:  # type: ignore[no-untyped-def]
    return MedianStoppingScheduler(
        FakeSearcher(np.random.default_rng(0)), "min", 1, 10, np.random.default_rng(1), **kwargs
    )


def test_median_rule_by_hand() -> None:
    """Three trials report 0.5, 0.4, 0.3 then 0.3, 0.2, 0.1 (running averages at r=2: .4 .3 .2).

    Trial 3 at r=1 reports 0.45: the other averages at 1 are .5 .4 .3, median .4, 0.45 > .4:
    stop. Trial 4 reports 0.45 then 0.35: at r=1 it is within the grace period (grace=2); at
    r=2 its best (.35) is worse than the median of .4 .3 .2 (.3): stop. Trial 5 reports 0.25 at
    r=2 after 0.45: best .25 < .3: continue.
    """
    sched = median(grace=1, min_trials=3)
    for t in range(3):
        assert isinstance(sched.suggest(t), StartTrial)
    for t, (a, _) in enumerate([(0.5, 0.3), (0.4, 0.2), (0.3, 0.1)]):
        assert sched.on_result(t, 1, a) is Action.CONTINUE, "fewer than 3 others at r=1"
    for t, (_, b) in enumerate([(0.5, 0.3), (0.4, 0.2), (0.3, 0.1)]):
        assert sched.on_result(t, 2, b) is Action.CONTINUE, "fewer than 3 others at r=2"
    assert sched.median_at(2) == pytest.approx(0.3)
    sched.suggest(3)
    assert sched.on_result(3, 1, 0.45) is Action.STOP

    graced = median(grace=2, min_trials=3)
    for t, (a, b) in enumerate([(0.5, 0.3), (0.4, 0.2), (0.3, 0.1)]):
        graced.suggest(t)
        graced.on_result(t, 1, a)
        graced.on_result(t, 2, b)
    graced.suggest(4)
    assert graced.on_result(4, 1, 0.45) is Action.CONTINUE, "inside the grace period"
    assert graced.on_result(4, 2, 0.35) is Action.STOP
    graced.suggest(5)
    assert graced.on_result(5, 1, 0.45) is Action.CONTINUE
    assert graced.on_result(5, 2, 0.25) is Action.CONTINUE
    assert graced.on_result(5, 10, 0.2) is Action.COMPLETE


def test_median_in_max_mode() -> None:
    sched = MedianStoppingScheduler(
        FakeSearcher(np.random.default_rng(0)), "max", 1, 10, np.random.default_rng(1)
    )
    for t, v in enumerate([0.9, 0.8, 0.7]):
        sched.suggest(t)
        sched.on_result(t, 1, v)
    sched.suggest(3)
    assert sched.on_result(3, 1, 0.85) is Action.CONTINUE  # better than the median .8
    sched.suggest(4)
    assert sched.on_result(4, 1, 0.75) is Action.STOP


def test_fifo_runs_every_trial_to_r_max() -> None:
    sched = FIFOScheduler(
        FakeSearcher(np.random.default_rng(0)), "min", 1, 5, np.random.default_rng(1)
    )
    s = sched.suggest(0)
    assert isinstance(s, StartTrial) and s.target == 5
    assert [sched.on_result(0, r, 10.0) for r in range(1, 6)] == [Action.CONTINUE] * 4 + [
        Action.COMPLETE
    ]
