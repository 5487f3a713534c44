"""Synchronous successive halving and Hyperband: rungs wait, then the best 1/eta go on."""

from __future__ import annotations

import numpy as np
from sched_helpers import FakeSearcher, run_study

from slurmhpo.scheduling.base import TrialStatus
from slurmhpo.scheduling.rungs import rung_levels
from slurmhpo.scheduling.sync import SyncHyperband, SyncSuccessiveHalving
from slurmhpo.scheduling.types import Action, ResumeTrial, StartTrial


def sh(r_max: int = 9) -> SyncSuccessiveHalving:
    return SyncSuccessiveHalving(
        FakeSearcher(np.random.default_rng(0)), "min", 1, r_max, 3, np.random.default_rng(1)
    )


def test_successive_halving_waits_for_a_full_rung() -> None:
    """r 1..9, eta 3: bracket 0 has 9 trials at r=1, 3 at r=3, 1 at r=9.

    Losses at r=1 are 0.9, 0.8, ..., 0.1 for trials 0..8, except that trial 4 fails (worst).
    The best three are 8, 7, 6 and are resumed in that order; at r=3 trial 7 wins.
    """
    sched = sh()
    for t in range(9):
        s = sched.suggest(t)
        assert isinstance(s, StartTrial) and s.target == 1 and s.bracket == 0
    assert sched.suggest(9) is None, "the rung is full: workers wait"
    for t in range(8):
        if t == 4:
            sched.on_error(4)
        else:
            assert sched.on_result(t, 1, 0.9 - 0.1 * t) is Action.PAUSE
        assert sched.suggest(9) is None, "one result missing: still waiting"
    assert sched.on_result(8, 1, 0.1) is Action.PAUSE
    assert [sched.suggest(9) for _ in range(3)] == [
        ResumeTrial(8, 1, 3), ResumeTrial(7, 1, 3), ResumeTrial(6, 1, 3),
    ]  # fmt: skip
    assert sched.suggest(9) is None
    assert sched.trial_status(0) is TrialStatus.STOPPED, "a paused loser is finished for good"
    assert sched.trial_status(4) is TrialStatus.FAILED
    for t, loss in ((8, 0.09), (7, 0.05), (6, 0.07)):
        assert sched.on_result(t, 2, loss) is Action.CONTINUE
        assert sched.on_result(t, 3, loss) is Action.PAUSE
    assert sched.suggest(9) == ResumeTrial(7, 3, 9)
    assert sched.suggest(9) is None
    assert sched.on_result(7, 9, 0.01) is Action.COMPLETE
    s = sched.suggest(9)
    assert isinstance(s, StartTrial) and s.trial_id == 9, "the next bracket begins"
    assert sched.iteration == 2, "runs opened: the first and this one"


def test_failures_in_the_top_are_carried_up_as_failures_instead_of_blocking() -> None:
    """8 of 9 fail at r=1: the top 3 are trial 8 and failures 0 and 1 (ties by id).

    Failures cannot run, so they enter rung 3 directly as its worst members; the rung then
    completes when trial 8 arrives, and keeps its planned size of 3.
    """
    sched = sh()
    for t in range(9):
        sched.suggest(t)
    for t in range(8):
        sched.on_error(t)
    sched.on_result(8, 1, 0.5)
    assert sched.suggest(9) == ResumeTrial(8, 1, 3)
    assert sched.suggest(9) is None
    sched.on_result(8, 3, 0.4)
    rung3 = sched.rung_table()[0][3]
    assert [(r.trial_id, r.withdrawn) for r in rung3] == [(8, False), (0, True), (1, True)]
    assert sched.suggest(9) == ResumeTrial(8, 3, 9)


def test_hyperband_runs_brackets_most_aggressive_first_and_repeats() -> None:
    sched = SyncHyperband(
        FakeSearcher(np.random.default_rng(0)), "min", 1, 9, 3, np.random.default_rng(1)
    )
    assert [p.sizes for p in sched.plans] == [(9, 3, 1), (5, 1), (3,)]
    out = run_study(sched, rung_levels(1, 9, 3), workers=4, max_starts=9 + 5 + 3 + 2)
    brackets = [e.suggestion.bracket for e in out.events if hasattr(e, "suggestion")
                and isinstance(e.suggestion, StartTrial)]  # fmt: skip
    assert brackets == [0] * 9 + [1] * 5 + [2] * 3 + [0] * 2
    assert sched.iteration == 4


def test_sync_scheduler_reports_rungs_per_iteration() -> None:
    sched = sh(r_max=3)  # bracket 0: 3 trials at r=1, 1 at r=3
    for t in range(3):
        sched.suggest(t)
        sched.on_result(t, 1, 1.0 - t)
    assert sched.suggest(3) == ResumeTrial(2, 1, 3)
    sched.on_result(2, 3, 0.0)
    table = sched.rung_table()
    assert [r.trial_id for r in table[0][1]] == [2, 1, 0]
    assert [r.trial_id for r in table[0][3]] == [2]
    assert list(table) == [0], "the next run opens with its first trial"
    sched.suggest(3)
    assert sched.rung_table()[1] == {1: [], 3: []}


def test_overlap_opens_the_next_run_instead_of_idling() -> None:
    """HpBandSter's behaviour: no job in the open runs -> open the next run (oldest first)."""
    sched = SyncHyperband(
        FakeSearcher(np.random.default_rng(0)), "min", 1, 9, 3, np.random.default_rng(1),
        overlap=True,
    )  # fmt: skip
    firsts = [sched.suggest(t) for t in range(12)]
    assert [s.bracket for s in firsts] == [0] * 9 + [1] * 3  # type: ignore[union-attr]
    for t in range(9):
        sched.on_result(t, 1, 0.9 - 0.1 * t)
    resumes = [sched.suggest(12) for _ in range(3)]
    assert resumes == [ResumeTrial(8, 1, 3), ResumeTrial(7, 1, 3), ResumeTrial(6, 1, 3)]
    s = sched.suggest(12)
    assert isinstance(s, StartTrial) and s.bracket == 1 and s.target == 3, "run 1 fills up"
    assert sched.iteration == 2


def test_overlapped_study_runs_the_same_brackets_in_less_time() -> None:
    levels = rung_levels(1, 9, 3)

    def study(overlap: bool):  # type: ignore[no-untyped-def]
        sched = SyncHyperband(
            FakeSearcher(np.random.default_rng(0)), "min", 1, 9, 3, np.random.default_rng(1),
            overlap=overlap,
        )  # fmt: skip
        return sched, run_study(sched, levels, max_starts=17)  # brackets 0, 1, 2 exactly

    idle_sched, idle = study(False)
    busy_sched, busy = study(True)
    assert idle.starts == busy.starts == 17
    for sched in (idle_sched, busy_sched):
        table = sched.rung_table()
        assert [[len(rows) for rows in table[it].values()] for it in table] == [
            [9, 3, 1], [5, 1], [3],
        ]  # fmt: skip
    assert busy.end_time < idle.end_time
