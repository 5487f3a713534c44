"""Chaos scenario 7: a trial's metric file damaged mid-study, under the real controller.

Each damage (tests/chaos/damaged_trial.py does it, after the controller has read epochs 1
and 2) must cost one warning and nothing else: no crash, every valid line kept once, no
decision repeated, the trial not failed, the study finished (chaos_helpers.check_invariants).
The local-process backend runs the same controller code as Slurm, in seconds; one scenario
also runs on the local Slurm cluster. docs/reliability.md reports what each case does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import check_invariants, run_damaged_study

# The warning each damage must give (once). A restarted script's rewrite is "replaced" when
# the controller first looks after it has regrown; "truncated" if it looked in the instant
# between the truncating open and the write: both are the same one-warning outcome.
EXPECTED = {
    "rewritten": {"replaced", "truncated"},
    "truncated": {"truncated"},
    "partial_line": {"not_json"},
    "garbage": {"not_utf8", "not_json"},  # the first garbage line decides the kind
    "huge_line": {"too_long"},
    "deleted": {"truncated"},
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_damaged_metric_file_costs_one_warning_and_nothing_else(
    tmp_path: Path, scenario: str
) -> None:
    run = run_damaged_study(tmp_path, scenario)
    check_invariants(run, EXPECTED[scenario])


def test_unreadable_run_directory_costs_one_warning_and_nothing_else(
    tmp_path: Path, mode_enforcing_prefix: list[str]
) -> None:
    """The trial's directory at mode 000 until the controller has warned, then restored:
    the controller (root without its mode override, see conftest) keeps its offset, warns
    once although every cycle fails the same way, and reads on when it can."""
    run = run_damaged_study(tmp_path, "unreadable", prefix=mode_enforcing_prefix)
    check_invariants(run, {"unreadable"})


@pytest.mark.slurm
def test_rewritten_metric_file_on_slurm(tmp_path: Path, slurm_cluster: Any) -> None:
    slurm = {"partition": slurm_cluster.partition, "gpus_per_task": 0, "mem_gb": 0.25}
    slurm["time_min"] = 5
    run = run_damaged_study(tmp_path, "rewritten", backend="slurm", slurm=slurm, poll_interval=0.2)
    check_invariants(run, EXPECTED["rewritten"])
    queued = subprocess.run(
        ["squeue", "-h", "-o", "%j"], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.name not in queued.stdout  # no job of the study left behind
