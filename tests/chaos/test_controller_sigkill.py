"""Chaos: the controller is SIGKILLed 20 times at seeded random moments on real Slurm.

Each time it is restarted at once (a person or systemd would); a last controller finishes
the study. The procedure and its checks are those of tests/slurm/test_controller_crash.py
(nothing lost, duplicated or orphaned; every job COMPLETED in sacct; nothing left in squeue),
here with 20 kills and a study long enough to take them all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("slurm", "controller")]
from test_controller_crash import assert_crashes_lost_nothing, sigkill_repeatedly  # noqa: E402

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

KILLS = 20
SEED = 20261204
MAX_TRIALS = 30


def test_twenty_sigkills_on_slurm_lose_nothing(tmp_path: Path, slurm_cluster) -> None:
    rows, kills, since = sigkill_repeatedly(
        tmp_path, slurm_cluster, kills=KILLS, seed=SEED, max_trials=MAX_TRIALS, toy_sleep=1.0
    )
    assert kills == KILLS, f"the study ended after {kills} kills: make it longer"
    assert_crashes_lost_nothing(rows, since, max_trials=MAX_TRIALS)
