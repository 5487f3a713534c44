"""ASHA (both variants) and asynchronous Hyperband, on rung tables computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sched_helpers import FakeSearcher

from slurmhpo.scheduling.asha import ASHA, AsyncHyperband
from slurmhpo.scheduling.base import TrialStatus
from slurmhpo.scheduling.types import Action, ResumeTrial, SchedulingError, StartTrial


def asha(variant: str, r_max: int = 9, mode: str = "min", limit: int | None = None) -> ASHA:
    searcher = FakeSearcher(np.random.default_rng(0), limit)
    return ASHA(searcher, mode, 1, r_max, 3, np.random.default_rng(1), variant=variant)  # type: ignore[arg-type]


def start(sched: ASHA, trial_id: int, target: int) -> None:
    s = sched.suggest(trial_id)
    assert isinstance(s, StartTrial) and s.trial_id == trial_id and s.target == target, s


def test_asha_paper_worked_example_promotion() -> None:
    """A worked example in the spirit of Li et al. 2018 (ASHA), Figure 1 and Algorithm 2.

    One worker, eta = 3, rungs at r = 1, 3, 9 (R = 9), loss (smaller is better). get_job looks
    from the highest rung down for a trial in the top floor(n/3) of its rung that has not been
    promoted; otherwise it grows the bottom rung with a new trial.

      job  rung-1 losses after the job (n, quota)        promotable?           next job
      t0   {t0 .5}                       (1, 0)         -                     new t1
      t1   {t1 .3, t0 .5}                (2, 0)         -                     new t2
      t2   {t1 .3, t0 .5, t2 .7}         (3, 1)         t1                    resume t1 1->3
      t1   rung 3: {t1 .25} (1, 0); rung 1 top-1 = t1, already promoted    new t3
      t3   {t3 .2, t1 .3, t0 .5, t2 .7}  (4, 1)         t3                    resume t3 1->3
      t3   rung 3: {t3 .22, t1 .25} (2, 0)                                  new t4
      t4   rung 1 adds t4 .9             (5, 1)         top-1 t3 promoted     new t5
      t5   rung 1 adds t5 .4             (6, 2)         top-2 t3, t1 promoted new t6
      t6   rung 1 adds t6 .1             (7, 2)         top-2 t6, t3: t6      resume t6 1->3
      t6   rung 3: {t6 .15, t3 .22, t1 .25} (3, 1)      t6                    resume t6 3->9
      t6   reaches R = 9: complete

    t1 was promoted on three results and is no longer in rung 1's top 2 at the end: the
    "mispromotions" that the paper accepts in exchange for never waiting.
    """
    sched = asha("promotion")
    rung1 = {0: 0.5, 1: 0.3, 2: 0.7, 3: 0.2, 4: 0.9, 5: 0.4, 6: 0.1}
    for t in (0, 1, 2):
        start(sched, t, 1)
        assert sched.on_result(t, 1, rung1[t]) is Action.PAUSE
    assert sched.suggest(3) == ResumeTrial(1, 1, 3)
    assert sched.on_result(1, 3, 0.25) is Action.PAUSE
    start(sched, 3, 1)
    assert sched.on_result(3, 1, rung1[3]) is Action.PAUSE
    assert sched.suggest(4) == ResumeTrial(3, 1, 3)
    assert sched.on_result(3, 3, 0.22) is Action.PAUSE
    for t in (4, 5, 6):
        start(sched, t, 1)
        assert sched.on_result(t, 1, rung1[t]) is Action.PAUSE
    assert sched.suggest(7) == ResumeTrial(6, 1, 3)
    assert sched.on_result(6, 2, 0.13) is Action.CONTINUE, "2 is not a rung: ignored"
    assert sched.on_result(6, 3, 0.15) is Action.PAUSE
    assert sched.suggest(7) == ResumeTrial(6, 3, 9)
    assert sched.on_result(6, 9, 0.12) is Action.COMPLETE
    table = sched.rung_table()[0]
    assert [(r.trial_id, r.promoted) for r in table[1]] == [
        (6, True), (3, True), (1, True), (5, False), (0, False), (2, False), (4, False),
    ]  # fmt: skip
    assert [(r.trial_id, r.promoted) for r in table[3]] == [(6, True), (3, False), (1, False)]
    assert [r.trial_id for r in table[9]] == [6]
    assert sched.trial_status(6) is TrialStatus.COMPLETE
    assert sched.trial_status(1) is TrialStatus.PAUSED


def test_stopping_variant_by_hand() -> None:
    """eta = 3; arrivals at rung 1 and the decision (quota = floor(n/3), itself included).

    n=1 .5 continue (n < eta) | n=2 .3 continue | n=3 .7 rank 2 >= 1: stop | n=4 .2 rank 0 <
    1: continue | n=5 .6 stop | n=6 .4: .2 .3 .4 -> rank 2 >= 2: stop | n=7 .25 rank 1 < 2:
    continue.
    """
    sched = asha("stopping")
    expected = [
        (0.5, Action.CONTINUE),
        (0.3, Action.CONTINUE),
        (0.7, Action.STOP),
        (0.2, Action.CONTINUE),
        (0.6, Action.STOP),
        (0.4, Action.STOP),
        (0.25, Action.CONTINUE),
    ]
    for t, (value, action) in enumerate(expected):
        start(sched, t, 9)
        assert sched.on_result(t, 1, value) is action, (t, value)
    assert sched.on_result(3, 2, 0.19) is Action.CONTINUE
    assert sched.on_result(3, 3, 0.18) is Action.CONTINUE  # rung 3: n = 1
    assert sched.on_result(3, 9, 0.1) is Action.COMPLETE
    assert sched.on_result(2, 3, 0.0) is Action.STOP, "a stopped trial stays stopped"
    assert [r.trial_id for r in sched.rung_table()[0][1]] == [3, 6, 1, 5, 0, 4, 2]


def test_stopping_variant_in_max_mode_mirrors_min_mode() -> None:
    low, high = asha("stopping"), asha("stopping", mode="max")
    values = [0.5, 0.3, 0.7, 0.2, 0.6, 0.4, 0.25, math.nan]
    for t, v in enumerate(values):
        start(low, t, 9)
        start(high, t, 9)
        a = low.on_result(t, 1, v)
        b = high.on_result(t, 1, -v if not math.isnan(v) else v)
        assert a is b, (t, v)
    assert low.trial_status(7) is TrialStatus.STOPPED, "NaN ranks worst"


def test_promotion_prefers_the_highest_rung() -> None:
    sched = asha("promotion", r_max=27)
    for t in range(9):  # rung 1: 9 trials, quota 3
        start(sched, t, 1)
    for t in range(9):
        sched.on_result(t, 1, 0.1 * (t + 1))
    for t in range(3):  # promote 0, 1, 2 to rung 3
        assert sched.suggest(100) == ResumeTrial(t, 1, 3)
        sched.on_result(t, 3, 0.05 * (t + 1))
    assert sched.suggest(100) == ResumeTrial(0, 3, 9), "rung 3 (quota 1) before rung 1"
    start(sched, 100, 1)  # nothing left to promote: a new trial


def test_failed_trial_counts_as_worst_at_the_rung_it_was_heading_to() -> None:
    sched = asha("promotion")
    for t in range(3):
        start(sched, t, 1)
    sched.on_result(0, 1, 0.5)
    sched.on_result(1, 1, 0.4)
    assert sched.suggest(3) is not None  # no promotion yet (n = 2): starts trial 3
    sched.on_error(2)  # rung 1 now has n = 3 with trial 2 as its worst member
    rows = sched.rung_table()[0][1]
    assert [(r.trial_id, r.value, r.withdrawn) for r in rows][-1] == (2, None, True)
    assert sched.suggest(4) == ResumeTrial(1, 1, 3)
    assert sched.trial_status(2) is TrialStatus.FAILED


@pytest.mark.parametrize("count", [0, 4])
def test_num_brackets_out_of_range_is_an_error(count: int) -> None:
    with pytest.raises(SchedulingError, match="num_brackets"):
        AsyncHyperband(
            FakeSearcher(np.random.default_rng(0)), "min", 1, 9, 3, np.random.default_rng(0),
            num_brackets=count,
        )  # fmt: skip


def test_async_hyperband_brackets_are_separate_ashas() -> None:
    sched = AsyncHyperband(
        FakeSearcher(np.random.default_rng(0)), "min", 1, 9, 3, np.random.default_rng(5)
    )
    starts = [sched.suggest(t) for t in range(60)]
    by_bracket: dict[int, list[int]] = {}
    for s in starts:
        assert isinstance(s, StartTrial)
        by_bracket.setdefault(s.bracket, []).append(s.trial_id)
    assert set(by_bracket) == {0, 1, 2}
    # bracket 2 starts at r_max: trials there run to 9 and complete
    t2 = by_bracket[2][0]
    assert sched.on_result(t2, 1, 0.1) is Action.CONTINUE  # not a rung of bracket 2
    assert sched.on_result(t2, 9, 0.1) is Action.COMPLETE
    # three bracket-1 trials at rung 3 do not feed bracket 0's rung 3
    for t in by_bracket[1][:3]:
        assert sched.on_result(t, 3, 0.5) is Action.PAUSE
    table = sched.rung_table()
    assert len(table[1][3]) == 3 and len(table[0][3]) == 0
    assert sched.suggest(1000) == ResumeTrial(by_bracket[1][0], 3, 9)


def test_searcher_sees_rung_results_only_and_learns_when_trials_end() -> None:
    searcher = FakeSearcher(np.random.default_rng(0))
    sched = ASHA(searcher, "min", 1, 9, 3, np.random.default_rng(1), variant="stopping")
    for t in range(3):
        sched.suggest(t)
    for r in (1, 2, 3):
        sched.on_result(0, r, 0.5)
    assert [(t, r) for t, r, _ in searcher.observed] == [(0, 1), (0, 3)]
    assert searcher.pending == {0, 1, 2}
    sched.on_result(1, 1, 0.1)
    sched.on_result(2, 1, 0.9)  # n = 3 at rung 1, rank 2: stopped
    assert searcher.pending == {0, 1}
    sched.on_error(1)
    assert searcher.pending == {0}
    sched.on_result(0, 9, 0.4)
    assert searcher.pending == set()
